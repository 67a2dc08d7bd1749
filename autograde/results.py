"""Grading results as data, and their Gradescope serialisation."""
from dataclasses import dataclass, field
from importlib import metadata

from autograde.outcomes import TestOutcome


@dataclass(frozen=True)
class QuestionResult:
    """One rubric question's outcome. score is None for questions no test scores (manual, pending)."""
    question: object                 # rubric.Question
    score: float | None
    status: str                      # passed | partial | failed | manual | pending
    reason: str                      # one line for the table
    outcomes: tuple = ()             # TestOutcome per rubric test, in rubric order
    elapsed: float = 0.0             # seconds its process ran (shared by a rubric group's questions)
    peak_rss: int | None = None      # bytes: the most that process and its children held at once

    @property
    def max_score(self):
        return self.question.points

    @property
    def figures(self):
        """The submission's figures its checks handed over (run.Figure), in test order."""
        return tuple(f for o in self.outcomes for f in o.figures)

    @property
    def findings(self):
        """The submission's numbers its checks reported, one line each, in test order."""
        return tuple(line for o in self.outcomes for line in o.findings)

    @property
    def metrics(self):
        """{name: value}: the leaderboard numbers its checks reported (the last value of each name)."""
        return {name: value for o in self.outcomes for name, value in o.metrics}

    @property
    def advice(self):
        """The failed checks that carry no points in the rubric's profile: advice, not deductions."""
        return tuple(o for o in self.outcomes if not o.passed and self.question.is_advice(o.name))

    @property
    def failed_evidence(self):
        """The evidence checks of a question for a person that did not hold."""
        return tuple(o for o in self.outcomes if not o.passed and self.score is None)

    @property
    def has_notes(self):
        """True when details() says more than PASS lines: a failure, a failed evidence check, advice."""
        return any(not o.passed for o in self.outcomes)

    def details(self, compact=True):
        """Multi-line text: one line per check with its points, then each failure's message and the
        handout sentence the check enforces (advice: why it costs nothing). compact: an error that
        ended several checks (a crash) is shown once, the others say so (results.json keeps each)."""
        lines = []
        repeats = {}
        for outcome in self.outcomes:
            if not outcome.passed and outcome.message:
                repeats[outcome.message] = repeats.get(outcome.message, 0) + 1
        shown = set()
        for outcome in self.outcomes:
            points = self.question.tests.get(outcome.name)
            advice = self.question.is_advice(outcome.name)
            mark = "PASS" if outcome.passed else "ADVICE" if advice else "FAIL"
            worth = f" [{points:g} pt]" if points is not None else " [evidence]" if self.score is None else ""
            title = outcome.title or outcome.name
            if outcome.passed:
                lines.append(f"{mark}{worth} {title}")
                continue
            if compact and outcome.message in shown:
                lines.append(f"{mark}{worth} {title}: the same error as above")
                continue
            lines.append(f"{mark}{worth} {title}")
            lines.extend("    " + line for line in (outcome.message or "").splitlines())
            if compact and repeats.get(outcome.message, 0) > 1:
                shown.add(outcome.message)
                more = repeats[outcome.message] - 1
                lines.append(f"    … and {more} more check{'s' if more > 1 else ''} below ended by the same error")
            if advice:
                lines.append(f"    advice, no points: {self.question.advice.get(outcome.name) or 'beyond what the handout asks'}")
            elif self.question.cites.get(outcome.name):
                lines.append(f"    the handout: {self.question.cites[outcome.name]}")
        return "\n".join(lines)


@dataclass(frozen=True)
class ManualGrade:
    """A person's grade of a question the tests cannot grade (the review app's, autograde/course/review_store.py)."""
    score: float
    items: tuple = ()        # (item id, points in force, the text the student sees) of each applied item
    adjustment: float = 0.0
    comment: str = ""
    grader: str = ""
    at: str = ""

    def lines(self):
        """The grade as lines of text for the student: each applied item, the adjustment, the comment."""
        lines = [f"{points:+g} {text}" for _, points, text in self.items]
        lines += [f"{self.adjustment:+g} adjustment"] if self.adjustment else []
        lines += [f"comment: {self.comment}"] if self.comment.strip() else []
        return lines or ["full marks"]


LIBRARIES = ("numpy", "scipy", "scikit-image", "matplotlib", "PyWavelets", "torch", "torchvision")


def library_versions():
    """{distribution: version} of the libraries a submission may use, as installed where it is
    graded (its worker runs this Python), e.g. {'numpy': '2.4.6', ...}; 'not installed' where absent."""
    found = {}
    for name in LIBRARIES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def versions_line(versions):
    """'numpy 2.4.6, scipy 1.17.1, ...' for a report's header."""
    return ", ".join(f"{name} {version}" for name, version in versions.items())


@dataclass
class GradingResults:
    submission: str
    rubric: object                   # rubric.Rubric
    questions: list = field(default_factory=list)
    seed: int = 0
    elapsed: float = 0.0
    notices: list = field(default_factory=list)    # grader-level messages, shown everywhere
    sandbox: str = "bwrap"                         # how the submission's code was confined: bwrap | none
    grader_errors: list = field(default_factory=list)  # the grader, not the submission, failed here
    versions: dict = field(default_factory=library_versions)  # the libraries the submission ran with
    runs: dict = field(default_factory=dict)       # question id -> (QuestionRun, time limit): what record.py keeps
    base_notices: list = field(default_factory=list)  # the notices before scoring added the findings'
    failure: str = ""                              # why nothing could be graded (failed_everything), else ""
    manual: dict = field(default_factory=dict)     # question id -> ManualGrade: what people gave (a batch's review)

    @property
    def manual_score(self):
        """The points people gave so far (the questions a person grades that have a grade)."""
        return sum(self.manual[r.question.id].score for r in self.questions if r.question.id in self.manual)

    def manual_grade(self, qid):
        """The ManualGrade of a question a person grades, or None: not graded yet."""
        return self.manual.get(qid)

    @property
    def score(self):
        return sum(r.score for r in self.questions if r.score is not None)

    @property
    def max_score(self):
        return sum(r.max_score for r in self.questions if r.score is not None)

    def summary(self):
        """One paragraph: the automatic score and what is left for people."""
        manual = [r for r in self.questions if r.status == "manual"]
        pending = [r for r in self.questions if r.status == "pending"]
        text = f"Automatic score: {self.score:g} / {self.max_score:g} points."
        if self.rubric.profile != "default":
            text += f" (rubric profile '{self.rubric.profile}')"
        if manual:
            text += f" {sum(r.max_score for r in manual):g} points in {len(manual)} question{'s' if len(manual) > 1 else ''} " \
                    "are for a person to grade."
        if pending:
            text += f" {sum(r.max_score for r in pending):g} points in {len(pending)} questions have no automatic tests yet."
        if self.manual:
            graded = [r for r in manual if r.question.id in self.manual]
            text += (f" Graded by people: {self.manual_score:g} / {sum(r.max_score for r in graded):g} points in "
                     f"{len(graded)} of {len(manual)} questions; total so far {self.score + self.manual_score:g}.")
        return (text + f" The handout states {self.rubric.stated_total:g} points in total; "
                f"its questions add up to {self.rubric.listed_total:g}.")

    def leaderboard(self):
        """Gradescope leaderboard entries: for each graded question with a `leaderboard` column in
        the rubric, 100 x the mean of its metrics (0 when its checks reported none)."""
        entries = []
        for r in self.questions:
            if r.question.leaderboard and r.score is not None:
                values = list(r.metrics.values())
                entries.append({"name": r.question.leaderboard, "value": round(100 * sum(values) / len(values), 2) if values else 0.0})
        return entries

    def to_gradescope(self, leaderboard=False):
        """The Gradescope results.json dict: one test entry per automatically graded question, and
        with leaderboard=True the leaderboard entries."""
        tests = [{
            "name": f"Q{r.question.id} {r.question.title}",
            "number": r.question.id,
            "score": r.score,
            "max_score": r.max_score,
            "status": "passed" if r.status == "passed" else "failed",
            "output": r.details(compact=False) or r.reason,
            "visibility": r.question.visibility,
        } for r in self.questions if r.score is not None]
        # Outside Gradescope (a batch with a review), the grades people gave join as tests of their own,
        # marked so the gradebook takes them from the review, not from here, and never twice.
        tests += [person_test(r.question, grade) for r in self.questions
                  if (grade := self.manual.get(r.question.id)) is not None]
        findings = [f"Q{r.question.id}: {line}" for r in self.questions for line in r.findings]
        # A question for a person has no test entry: the evidence that did not hold goes here, with its reason.
        evidence = [f"Q{r.question.id} {r.question.title} (for a person to grade), evidence:\n{r.details()}"
                    for r in self.questions if r.failed_evidence]
        output = "\n".join([*self.notices, *(f"GRADER ERROR {e}" for e in self.grader_errors), self.summary(),
                             f"Graded with {versions_line(self.versions)}.", *evidence, *findings])
        results = {"score": self.score + self.manual_score, "execution_time": round(self.elapsed, 3), "output": output,
                   "visibility": "visible", "stdout_visibility": "hidden", "tests": tests}
        if leaderboard and self.leaderboard():
            results["leaderboard"] = self.leaderboard()
        return results


def person_test(question, grade):
    """The results.json test entry of a person's grade (ManualGrade) of a question, marked as such so
    the gradebook reads people's grades from the review, never twice."""
    return {"name": f"Q{question.id} {question.title}", "number": question.id, "score": grade.score,
            "max_score": question.points, "status": "passed" if grade.score >= question.points else "failed",
            "output": "\n".join(grade.lines()), "visibility": question.visibility,
            "extra_data": {"graded_by": "person", "grader": grade.grader, "items": [i for i, _, _ in grade.items]}}


def is_person_test(test):
    """True for a results.json test entry that person_test wrote."""
    return isinstance(test.get("extra_data"), dict) and test["extra_data"].get("graded_by") == "person"


def failed_everything(submission, rubric, notice, seed=0, only=None):
    """Results for a grading run that could not happen at all: 0 points, the reason shown."""
    results = GradingResults(str(submission), rubric, seed=seed, notices=[notice], failure=notice)
    for question in rubric.questions:
        if question.graded and (only is None or question.id in only):
            missing = tuple(TestOutcome(name, False, notice) for name in question.tests)
            results.questions.append(QuestionResult(question, 0.0, "failed", notice, missing))
    return results
