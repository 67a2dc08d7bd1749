"""What the review app (review_app.py) reads from a batch folder (GRADED_DIR, the --out of `autograde
batch`): the submissions, each one's grading record rescored by the rubric (evidence, figure file
names, findings), the reference's figures, the statistics of the overview page, and small SVG
histograms drawn here (no plotting library in the request path).

Every read of a file is cached on (path, mtime, size), so a page opens without reading a record
twice and a batch graded again (or merged) is read afresh. Nothing here writes into GRADED_DIR.
"""
import json
import math
import os
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from markupsafe import Markup, escape

from autograde.course.gradebook import RESULTS, graded_submissions, question_order, read_graded
from autograde.record import RECORD, RecordError, read_record, rescore

REFERENCE = ".reference"
SIMILARITY = "similarity.json"
WRITEUP = "writeup.pdf"
FIGURES = f"{Path(RECORD).stem}_figures"
FIGURE_NAME = re.compile(r"[0-9a-f]{8,64}\.png")   # record.py names figures by a hash of their bytes
LISTING_SECONDS = 2.0   # how long the list of submissions is trusted before the folder is read again
# similarity.DEFAULT_THRESHOLD, not imported: similarity.py imports batch.py and so the sandbox,
# which the review app must never load (tests/test_review_pages.py checks the two agree).
SIMILARITY_THRESHOLD = 0.3
PASSED_RETURNCODES = (0, 1)   # pytest: every test passed / some failed; anything else ended the run


@dataclass(frozen=True)
class Evidence:
    """One evidence check of a question as the page shows it."""
    name: str
    title: str
    passed: bool
    message: str
    findings: tuple
    figures: tuple              # (caption, file name under outcomes_figures/)


@dataclass(frozen=True)
class QuestionView:
    """A question of one submission's grading: its checks (TestOutcome, figures dropped), what the
    page shows of them, and why it could not be read when it could not."""
    outcomes: tuple = ()
    evidence: tuple = ()
    problem: str = ""


@dataclass(frozen=True)
class Digest:
    """What the app keeps of one record: per question its view, per run how it ended, the figure
    names it refers to."""
    questions: dict = field(default_factory=dict)     # question id -> QuestionView
    runs: dict = field(default_factory=dict)          # question id -> (returncode, timed_out)
    failed: str = ""                                  # the grading failed as a whole: why
    figures: frozenset = frozenset()
    problem: str = ""                                 # the record could not be read or rescored

    @cached_property
    def failures(self):
        """((question id, check name, its title, first line of its message), ...) of every failed check."""
        return tuple((qid, o.name, o.title or _titled(o.name), (o.message.splitlines() or [""])[0])
                     for qid, view in self.questions.items() for o in view.outcomes if not o.passed)

    @cached_property
    def troubles(self):
        """What went wrong with this grading's runs, one line each, in question order."""
        if self.failed:
            return (f"grading failed: {self.failed}",)
        found = [self.problem] if self.problem else []
        ended = {}   # one line per test process: a rubric group's questions share one
        for qid, (code, timed_out) in sorted(self.runs.items(), key=lambda kv: question_order(kv[0])):
            if timed_out:
                ended.setdefault("timed out", []).append(qid)
            elif code is not None and code < 0:
                ended.setdefault(f"the test process was killed by signal {-code}", []).append(qid)
            elif code not in PASSED_RETURNCODES:
                ended.setdefault(f"the test process ended with exit code {code}", []).append(qid)
        found += [f"Q{', Q'.join(qids)}: {what}" for what, qids in ended.items()]
        return tuple(found)


class _FileCache:
    """Values computed from a file, kept until its mtime or size changes."""

    def __init__(self):
        self._lock = threading.Lock()
        self._entries = {}

    def get(self, path, compute):
        try:
            stat = os.stat(path)
            key = (stat.st_mtime_ns, stat.st_size)
        except OSError:
            key = None
        with self._lock:
            entry = self._entries.get(path)
        if entry is not None and entry[0] == key:
            return entry[1]
        value = compute(path if key is not None else None)
        with self._lock:
            self._entries[path] = (key, value)
        return value


class BatchData:
    """Read access to one batch folder for the review app. rubric: the rubric records are rescored by."""

    def __init__(self, graded_dir, rubric):
        self.root = Path(graded_dir)
        self.rubric = rubric
        self._records = _FileCache()
        self._json = _FileCache()
        self._listing = (0.0, ())
        self._auto = None
        self._failing = None
        self._lock = threading.Lock()

    # --- submissions -------------------------------------------------------------------------
    def submissions(self):
        """The submission names (folders holding results.json, none starting with '.'), sorted."""
        with self._lock:
            stamp, names = self._listing
        if time.monotonic() - stamp < LISTING_SECONDS:
            return names
        names = tuple(graded_submissions(self.root))
        with self._lock:
            self._listing = (time.monotonic(), names)
        return names

    def known(self, name):
        """True when name is one of the batch's submissions (the check every path parameter passes)."""
        return name in set(self.submissions())

    # --- records -----------------------------------------------------------------------------
    def digest(self, name):
        """The Digest of a submission's record (name already validated), or of the reference with
        name=None."""
        folder = self.root / (REFERENCE if name is None else name)
        return self._records.get(str(folder / RECORD), self._digest)

    def question(self, name, qid):
        """The QuestionView of question qid in submission name's grading (None: the reference's)."""
        digest = self.digest(name)
        view = digest.questions.get(qid)
        if view is not None:
            return view
        return QuestionView(problem=digest.problem or digest.failed or f"Q{qid} was not graded in this run")

    def figure_path(self, name, file):
        """The path of a figure of submission name's record (None: the reference's), or None when
        the record names no such figure (the only names served)."""
        if not FIGURE_NAME.fullmatch(file or "") or file not in self.digest(name).figures:
            return None
        path = self.root / (REFERENCE if name is None else name) / FIGURES / file
        return path if path.is_file() else None

    def has_reference(self):
        return (self.root / REFERENCE / RECORD).is_file()

    def writeup(self, name):
        """The path of submission name's writeup.pdf, or None."""
        path = self.root / name / WRITEUP
        return path if path.is_file() else None

    def _digest(self, path):
        if path is None:
            return Digest(problem="no grading record (outcomes.json)")
        try:
            record = read_record(path)
        except RecordError as exc:
            return Digest(problem=str(exc))
        figures = frozenset(f.get("file", "") for entry in record["questions"].values()
                            for o in entry.get("outcomes", ()) for f in o.get("figures", ()))
        runs = {}
        for qid, entry in record["questions"].items():
            entry = record["questions"].get(entry.get("same_run_as"), entry)
            runs[qid] = (entry.get("returncode"), bool(entry.get("timed_out")))
        try:
            # Rescored without its figures: the page serves them by file name, and reading every PNG
            # of a thousand records for the overview would cost seconds.
            results = rescore(_without_figures(record), self.rubric)
        except RecordError as exc:   # a rubric asking for tests the record lacks: show what was recorded
            return Digest(_raw_views(record), runs, record.get("failed") or "", figures, str(exc))
        by_test = _figures_by_test(record)
        questions = {}
        for result in results.questions:
            evidence = tuple(Evidence(o.name, o.title or o.name, o.passed, o.message, tuple(o.findings),
                                      by_test.get((result.question.id, o.name), ())) for o in result.outcomes)
            questions[result.question.id] = QuestionView(tuple(result.outcomes), evidence)
        return Digest(questions, runs, record.get("failed") or "", figures)

    # --- overview ----------------------------------------------------------------------------
    def auto_scores(self):
        """{question id: [score, ...]} over the results.json files, and [(name, why)] unreadable."""
        key = tuple((n, _mtime(os.path.join(self.root, n, RESULTS))) for n in self.submissions())
        cached = self._auto
        if cached and cached[0] == key:
            return cached[1]
        graded, skipped = read_graded(self.root, auto_only=True)   # the people's grades come from the store
        scores = {}
        for g in graded:
            for qid, score in g.scores.items():
                scores.setdefault(qid, []).append(score)
        value = (scores, skipped, {g.name: g.grader_errors for g in graded if g.grader_errors})
        self._auto = (key, value)
        return value

    def _digests(self):
        """[(name, Digest)] of every submission, and a key that changes when any of them does."""
        pairs = [(name, self.digest(name)) for name in self.submissions()]
        return pairs, tuple((name, id(d)) for name, d in pairs)

    def failing_checks(self, top=5):
        """{question id: [(test title, failures, most common first line of its message)]}: each
        question's most often failed checks over every record, most failures first."""
        pairs, key = self._digests()
        cached = self._failing
        if cached and cached[0] == (key, top):
            return cached[1]
        counts = {}
        titles = {}
        for _, digest in pairs:
            for qid, name, title, line in digest.failures:   # counted by the check, whatever it was titled
                counts.setdefault(qid, {}).setdefault(name, Counter())[line] += 1
                if title != _titled(name) or name not in titles:
                    titles[name] = title
        value = {qid: sorted(((titles[name], sum(c.values()), c.most_common(1)[0][0]) for name, c in tests.items()),
                             key=lambda t: (-t[1], t[0]))[:top] for qid, tests in counts.items()}
        self._failing = ((key, top), value)
        return value

    def troubled_runs(self):
        """[(submission, what happened)] for gradings that crashed, timed out, failed as a whole
        or logged a grader error."""
        _, skipped, grader_errors = self.auto_scores()
        found = [(name, why) for name, why in skipped]
        for name, digest in self._digests()[0]:
            found.extend((name, line) for line in digest.troubles)
            if grader_errors.get(name):
                found.append((name, f"{grader_errors[name]} GRADER ERROR line(s) in results.json"))
        return found

    def similar_pairs(self, threshold=SIMILARITY_THRESHOLD):
        """([(a, b, score)] from similarity.json at or above threshold, most alike first; a problem or "")."""
        def load(path):
            if path is None:
                return [], ""
            try:
                pairs = json.loads(Path(path).read_text(encoding="utf-8"))
                found = [(str(p["a"]), str(p["b"]), float(p["score"])) for p in pairs]
            except (OSError, UnicodeDecodeError, ValueError, TypeError, KeyError) as exc:
                return [], f"{path}: not the JSON list `autograde similarity --json` writes ({exc})"
            return sorted(found, key=lambda p: -p[2]), ""
        pairs, problem = self._json.get(str(self.root / SIMILARITY), load)
        return [p for p in pairs if p[2] >= threshold], problem


def _titled(name):
    """A check's title from its test name, for an outcome that never reported one (its run crashed)."""
    return name.removeprefix("test_").replace("_", " ").capitalize()


def _mtime(path):
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return None


def _without_figures(record):
    """A copy of a record whose outcomes name no figures (the entries copied, the record kept as read)."""
    questions = {}
    for qid, entry in record["questions"].items():
        if "outcomes" in entry:
            entry = dict(entry, outcomes=[dict(o, figures=[]) for o in entry["outcomes"]])
        questions[qid] = entry
    return dict(record, questions=questions)


def _figures_by_test(record):
    """{(question id, test name): ((caption, file), ...)} from a record's entries."""
    found = {}
    for qid, entry in record["questions"].items():
        entry = record["questions"].get(entry.get("same_run_as"), entry)
        for o in entry.get("outcomes", ()):
            found[(qid, o.get("name"))] = tuple((str(f.get("caption", "")), str(f.get("file", "")))
                                                for f in o.get("figures", ()))
    return found


def _raw_views(record):
    """QuestionViews straight from a record's entries (when the rubric cannot rescore it)."""
    from autograde.outcomes import TestOutcome
    views = {}
    by_test = _figures_by_test(record)
    for qid, entry in record["questions"].items():
        entry = record["questions"].get(entry.get("same_run_as"), entry)
        outcomes, evidence = [], []
        for o in entry.get("outcomes", ()):
            outcome = TestOutcome(str(o.get("name")), bool(o.get("passed")), str(o.get("message", "")),
                                  str(o.get("title", "")))
            outcomes.append(outcome)
            evidence.append(Evidence(outcome.name, outcome.title or outcome.name, outcome.passed, outcome.message,
                                     tuple(o.get("findings", ())), by_test.get((qid, outcome.name), ())))
        views[qid] = QuestionView(tuple(outcomes), tuple(evidence))
    return views


def paired_figures(student, reference):
    """[(evidence title, [(student figure or None, reference figure or None)])]: the figures of each
    evidence check, the student's beside the reference's of the same check, paired by order."""
    ref_by_test = {e.name: e.figures for e in reference}
    rows = []
    for e in student:
        theirs = ref_by_test.get(e.name, ())
        count = max(len(e.figures), len(theirs))
        if count:
            rows.append((e.title, [(e.figures[i] if i < len(e.figures) else None,
                                    theirs[i] if i < len(theirs) else None) for i in range(count)]))
    return rows


def histogram_svg(values, low, high, bins=10, width=260, height=90, label=""):
    """An inline SVG bar chart (Markup) of values in [low, high] over `bins` equal bins, with the
    axis' ends and the tallest bar's count written on it. An empty list draws the axis only."""
    values = [v for v in values if v is not None and math.isfinite(v)]
    if not high > low:
        high = low + 1
    counts = [0] * bins
    for v in values:
        counts[min(bins - 1, max(0, int((v - low) / (high - low) * bins)))] += 1
    top = max(counts) or 1
    left, bottom, plot_h = 28, height - 16, height - 28
    bar_w = (width - left - 6) / bins
    parts = [f'<svg class="histogram" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(label)}">']
    for i, count in enumerate(counts):
        h = plot_h * count / top
        x = left + i * bar_w
        parts.append(f'<rect x="{x:.1f}" y="{bottom - h:.1f}" width="{max(bar_w - 1, 1):.1f}" height="{h:.1f}" '
                     f'class="bar"><title>{_num(low + i * (high - low) / bins)}–'
                     f'{_num(low + (i + 1) * (high - low) / bins)}: {count}</title></rect>')
    parts.append(f'<line x1="{left}" y1="{bottom}" x2="{width - 6}" y2="{bottom}" class="axis"/>')
    parts.append(f'<line x1="{left}" y1="{bottom}" x2="{left}" y2="{bottom - plot_h}" class="axis"/>')
    parts.append(f'<text x="{left}" y="{height - 3}" class="tick">{_num(low)}</text>')
    parts.append(f'<text x="{width - 6}" y="{height - 3}" class="tick" text-anchor="end">{_num(high)}</text>')
    parts.append(f'<text x="{left - 3}" y="{bottom - plot_h + 8}" class="tick" text-anchor="end">{top}</text>')
    parts.append(f'<text x="{left - 3}" y="{bottom}" class="tick" text-anchor="end">0</text>')
    parts.append(f'<text x="{width - 6}" y="10" class="tick" text-anchor="end">n = {len(values)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def _num(value):
    return format(float(value), ".3g")
