"""What a grading saw, kept beside its results (outcomes.json), so scores can be recomputed without
running the submission again: `autograde rescore` (a new rubric) and `autograde batch --merge`
(some questions graded again).

The record holds, for each question that ran, how its test process ended and every test outcome
it reported (messages, findings, metrics, notices; figures as PNG files in <stem>_figures/ beside
the record, named by their content's hash), plus the grading's own notices (sandbox, intake) and
library versions. Scoring a record by a rubric is exactly what `grade` does after its children
finish (scoring.assemble), so a rescore by the same rubric reproduces results.json to the byte,
but for its execution time.

A record is written by the grader (the trusted process); the submission's text in it was bounded
and cleaned when it was read from the child's report log (report_log.py).
"""
import hashlib
import json
from dataclasses import asdict
from pathlib import Path

from autograde.outcomes import Figure, QuestionRun, TestOutcome, png_size
from autograde.results import GradingResults, failed_everything
from autograde.scoring import assemble

FORMAT = "hw5-autograde outcomes 1"
RECORD = "outcomes.json"


class RecordError(ValueError):
    """A record cannot be read, or cannot give what a rubric asks; the message says which and why."""


class MissingTests(RecordError):
    """The rubric asks for tests the recorded grading never ran: {question id: [test names]}."""

    def __init__(self, missing, hint=""):
        self.missing = missing
        listed = "; ".join(f"Q{qid}: {', '.join(names)}" for qid, names in missing.items())
        super().__init__(f"the rubric needs tests that were never run ({listed})" + (f"; {hint}" if hint else ""))


def write_record(results, path):
    """Write results' record (outcomes.json) to path, its figures to <stem>_figures/ beside it.
    Returns the path."""
    path = Path(path)
    folder = path.with_name(f"{path.stem}_figures")
    questions = {}
    seen_runs = {}
    for qid, (run, limit) in results.runs.items():
        if id(run) in seen_runs:   # a rubric group's run serves several questions: kept once
            questions[qid] = {"same_run_as": seen_runs[id(run)]}
            continue
        seen_runs[id(run)] = qid
        outcomes = [_outcome_entry(o, folder) for o in run.outcomes.values()]
        questions[qid] = {
            "limit": limit, "returncode": run.returncode, "timed_out": run.timed_out, "started": run.started,
            "elapsed": run.elapsed, "output_tail": run.output_tail[-2000:], "questions": list(run.questions),
            "peak_rss": run.peak_rss, "tests_seconds": run.tests_seconds, "worker_seconds": run.worker_seconds,
            "files": sorted({results.rubric[q].file for q in run.questions}),
            "asked": sorted({name for q in run.questions for name in results.rubric[q].test_names}),
            "outcomes": outcomes}
    record = {"format": FORMAT, "submission": results.submission, "seed": results.seed,
              "wanted": [r.question.id for r in results.questions], "known": [q.id for q in results.rubric.questions],
              "failed": results.failure,
              "elapsed": results.elapsed, "sandbox": results.sandbox, "versions": results.versions,
              "notices": list(results.base_notices), "rubric": results.rubric.source, "profile": results.rubric.profile,
              "questions": questions}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=1, ensure_ascii=False), encoding="utf-8")
    return path


def read_record(path):
    """The record at path as a dict, its figures read back as Figure objects. Raises RecordError
    naming the file when it is not a record this version wrote."""
    path = Path(path)
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise RecordError(f"{path}: cannot read the grading record: {exc}") from exc
    if not isinstance(record, dict) or record.get("format") != FORMAT or not isinstance(record.get("questions"), dict):
        raise RecordError(f"{path}: not a grading record of this autograde (format {FORMAT!r}); grade it again")
    record["_figures_dir"] = str(path.with_name(f"{path.stem}_figures"))
    return record


def missing_tests(record, rubric):
    """{question id: [test names]} that the rubric's questions need and the record never ran
    (a question not graded then, a test added since, a test moved to another file)."""
    missing = {}
    if record.get("failed"):   # nothing ran then, and a rescore needs nothing
        return missing
    for question in _wanted(record, rubric):
        needed = question.test_names if (question.graded or question.evidence) else ()
        if not needed:
            continue
        entry = _entry(record, question.id)
        ran = set() if entry is None or question.file not in entry.get("files", [entry.get("file")]) else \
            {o["name"] for o in entry["outcomes"]} | set(entry.get("asked", ()))
        lacking = [name for name in needed if name not in ran]
        if lacking:
            missing[question.id] = lacking
    return missing


def rescore(record, rubric):
    """GradingResults for the record scored by rubric, as `grade` would have scored the same runs.
    Raises MissingTests when the rubric needs tests the record lacks."""
    if record.get("failed"):   # nothing could be graded then: nothing to score now
        return failed_everything(record["submission"], rubric, record["failed"], record["seed"],
                                 {q.id for q in _wanted(record, rubric)})
    lacking = missing_tests(record, rubric)
    if lacking:
        raise MissingTests(lacking)
    results = GradingResults(record["submission"], rubric, seed=record["seed"], notices=list(record["notices"]),
                             sandbox=record["sandbox"], versions=record["versions"])
    results.elapsed = record["elapsed"]
    runs, limits = {}, {}
    built = {}
    wanted = _wanted(record, rubric)
    for question in wanted:
        entry = _entry(record, question.id)
        if entry is None:
            continue
        key = id(entry)
        if key not in built:
            built[key] = _run(entry, record["_figures_dir"])
        runs[question.id], limits[question.id] = built[key], entry["limit"]
    assemble(results, wanted, runs, limits)
    return results


def merge(old, new):
    """A record with new's questions in place of old's (the rest kept): what `batch --merge` stores.
    Both must be records of one submission, neither failed as a whole; new's notices and versions
    win (it ran last)."""
    if old.get("failed") or new.get("failed"):
        raise RecordError("a grading that failed as a whole is not merged")
    questions = {qid: dict(entry) for qid, entry in old["questions"].items() if qid not in new["questions"]}
    # A kept question that shared a replaced question's run (a rubric group) keeps that run: the
    # first such question holds it now, the others point at it.
    homes = {}
    for qid, entry in questions.items():
        primary = entry.get("same_run_as")
        if primary in new["questions"]:
            if primary not in homes:
                homes[primary] = qid
                questions[qid] = dict(old["questions"][primary])
            else:
                questions[qid] = {"same_run_as": homes[primary]}
    questions.update(new["questions"])
    merged = dict(old, questions=questions, wanted=list(dict.fromkeys([*old["wanted"], *new["wanted"]])),
                  known=list(dict.fromkeys([*old["known"], *new["known"]])),
                  notices=list(dict.fromkeys([*old["notices"], *new["notices"]])), versions=new["versions"],
                  sandbox=new["sandbox"], elapsed=old["elapsed"] + new["elapsed"])
    return merged


def save_record(record, path):
    """Write a record dict (read_record's or merge's) back to path; its figures stay where they are."""
    Path(path).write_text(json.dumps({k: v for k, v in record.items() if not k.startswith("_")}, indent=1,
                                     ensure_ascii=False), encoding="utf-8")


def figures_in(record):
    """The figure file names a record refers to (under its <stem>_figures/ folder)."""
    return {f["file"] for entry in record["questions"].values() for o in entry.get("outcomes", ()) for f in o["figures"]}


def _wanted(record, rubric):
    """The rubric's questions a rescore scores: those the recorded grading was asked for (all, or its
    -q ones), and any question the recorded grading's rubric did not have."""
    return [q for q in rubric.questions if q.id in record["wanted"] or q.id not in record["known"]]


def _entry(record, qid):
    entry = record["questions"].get(qid)
    if entry is not None and "same_run_as" in entry:
        entry = record["questions"].get(entry["same_run_as"])
    return entry


def _outcome_entry(outcome, folder):
    entry = asdict(outcome)
    figures = []
    for figure in outcome.figures:
        name = hashlib.sha256(figure.png).hexdigest()[:20] + ".png"
        folder.mkdir(parents=True, exist_ok=True)
        if not (folder / name).is_file():
            (folder / name).write_bytes(figure.png)
        figures.append({"caption": figure.caption, "file": name})
    entry["figures"] = figures
    return entry


def _run(entry, figures_dir):
    outcomes = {}
    for o in entry["outcomes"]:
        figures = []
        for f in o["figures"]:
            path = Path(figures_dir) / Path(f["file"]).name
            png = path.read_bytes() if path.is_file() else b""
            if png_size(png) is not None:
                figures.append(Figure(f["caption"], png))
        outcomes[o["name"]] = TestOutcome(
            o["name"], bool(o["passed"]), o["message"], o["title"], bool(o["skipped"]), o["data"], tuple(figures),
            tuple(o["findings"]), tuple((name, value) for name, value in o["metrics"]), tuple(o["notices"]))
    return QuestionRun(outcomes, entry["returncode"], entry["timed_out"], entry["started"], entry["elapsed"],
                       entry["output_tail"], tuple(entry["questions"]), entry["peak_rss"],
                       entry.get("tests_seconds"), entry.get("worker_seconds"))
