"""`autograde rescore GRADED_DIR --rubric NEW.toml`: every score, results.json, report and the
gradebook recomputed from the stored grading records (outcomes.json), without running any
submission code; and the merge step of `autograde batch --merge`.

A rubric that needs tests the records never ran is refused before anything is written, with the
questions and tests it lacks and the command that runs them.
"""
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from autograde.course.gradebook import RESULTS, graded_submissions, write_gradebook
from autograde.course.review_store import manual_grades
from autograde.record import (
    RECORD,
    MissingTests,
    RecordError,
    figures_in,
    merge,
    missing_tests,
    read_record,
    rescore,
    save_record,
)
from autograde.reports import write_report
from autograde.results import QuestionResult, is_person_test, person_test
from autograde.rubric import load_rubric, resolve_rubric

REPORT = "report.md"


@dataclass(frozen=True)
class RescoreSummary:
    rescored: int
    changed: list        # (name, old total, new total) where the total moved
    unreadable: list     # (name, why) for folders whose record could not be read
    gradebook: Path
    elapsed: float


def load(rubric_value):
    """The Rubric for a --rubric value (a file or a bundled profile; None: the bundled default)."""
    return load_rubric(*resolve_rubric(rubric_value))


def write_graded(results, target):
    """Write a grading's report, then its results.json (last, and atomically: a results.json marks a
    finished grading), into target. The record is not rewritten: a rescore changes no outcome."""
    target = Path(target)
    shutil.rmtree(target / f"{Path(REPORT).stem}_figures", ignore_errors=True)
    write_report(results, target / REPORT)
    _write_results(results.to_gradescope(), target)


def _write_results(gradescope, target):
    """target/results.json, atomically: a reader sees the old file or the new one, whole."""
    fd, partial = tempfile.mkstemp(prefix=".results-", dir=target)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(gradescope, f, indent=2, ensure_ascii=False)
    os.replace(partial, target / RESULTS)


def rescore_folder(graded_dir, rubric_value, submissions_hint="SUBMISSIONS"):
    """Rescore every GRADED_DIR/<name>/outcomes.json by the rubric. Returns RescoreSummary; raises
    MissingTests (naming the command that runs what is missing) before writing anything when the
    rubric needs tests some record lacks, and RubricError for a malformed rubric."""
    start = time.monotonic()
    rubric = load(rubric_value)
    graded_dir = Path(graded_dir)
    records, unreadable = {}, []
    for folder in sorted(p.parent for p in graded_dir.glob(f"*/{RESULTS}")):
        try:
            records[folder.name] = read_record(folder / RECORD)
        except RecordError as exc:
            unreadable.append((folder.name, str(exc) if (folder / RECORD).is_file() else
                               "graded without a grading record (by an autograde older than `rescore`): left as it "
                               "was; grade it again (autograde batch --regrade) to rescore it"))
    lacking = {}
    for record in records.values():
        for qid, names in missing_tests(record, rubric).items():
            lacking.setdefault(qid, dict.fromkeys(()))
            lacking[qid].update(dict.fromkeys(names))
    if lacking:
        questions = " ".join(f"-q {qid}" for qid in lacking)
        rubric_arg = f" --rubric {rubric_value}" if rubric_value else ""
        raise MissingTests({qid: list(names) for qid, names in lacking.items()}, hint=(
            f"run them with: autograde batch {submissions_hint} --out {graded_dir} {questions}{rubric_arg} --merge"))
    changed = []
    manual = manual_grades(graded_dir, rubric)
    for name, record in records.items():
        before = _total(graded_dir / name / RESULTS)
        results = with_manual(rescore(record, rubric), manual.get(name, {}))
        write_graded(results, graded_dir / name)
        total = results.score + results.manual_score
        if before != total:
            changed.append((name, before, total))
    gradebook = write_gradebook(graded_dir, rubric)
    return RescoreSummary(len(records), changed, unreadable, gradebook, time.monotonic() - start)


def with_manual(results, grades):
    """results with the grades people gave ({question id: ManualGrade}); a graded question the grading
    did not cover (a batch graded with -q) joins it, so its grade is shown and counted too."""
    results.manual = dict(grades)
    covered = {r.question.id for r in results.questions}
    for qid in grades:
        if qid not in covered:
            results.questions.append(QuestionResult(results.rubric[qid], None, "manual", "for a person to grade"))
    order = {q.id: n for n, q in enumerate(results.rubric.questions)}
    results.questions.sort(key=lambda r: order.get(r.question.id, len(order)))
    return results


def publish(graded_dir, rubric, names=None):
    """Write the grades people gave into each submission's results.json and report (all of graded_dir,
    or the names given), and rebuild the gradebook.

    A submission's report and results.json are rewritten from its record scored by the rubric when
    that gives the automatic points its results.json holds. Otherwise (the batch was rescored by
    another rubric since, or the record cannot be rescored) only results.json's grades by people are
    replaced and the report is kept: saving a grade never rescores the automatic points. Returns
    (gradebook path, [(name, what was kept and why)])."""
    graded_dir = Path(graded_dir)
    manual = manual_grades(graded_dir, rubric)
    kept = []
    for name in graded_submissions(graded_dir) if names is None else sorted(set(names)):
        target = graded_dir / name
        try:
            stored = json.loads((target / RESULTS).read_text(encoding="utf-8"))
            automatic = stored["score"] - sum(t["score"] for t in stored["tests"] if is_person_test(t))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            kept.append((name, f"{target / RESULTS} left as it was: cannot be read ({exc})"))
            continue
        try:
            results = with_manual(rescore(read_record(target / RECORD), rubric), manual.get(name, {}))
            why = "" if abs(results.score - automatic) < 1e-6 else \
                f"its automatic points ({automatic:g}) are not this rubric's ({results.score:g})"
        except RecordError as exc:
            why = str(exc)
        if not why:
            write_graded(results, target)
            continue
        grades = manual.get(name, {})
        tests = [t for t in stored["tests"] if not is_person_test(t)]
        tests += [person_test(q, grades[q.id]) for q in rubric.by_person if q.id in grades]
        _write_results(dict(stored, tests=tests, score=automatic + sum(g.score for g in grades.values())), target)
        kept.append((name, f"people's grades written into results.json, its report kept: {why}"))
    return write_gradebook(graded_dir, rubric), kept


def merge_grading(target, staging, rubric_value):
    """Merge the grading in staging (some questions) into the one in target, rescore the merged
    record by the rubric and write it into target. Raises RecordError (target untouched) when
    either record cannot be read, either grading failed as a whole, or the rubric needs more."""
    target, staging = Path(target), Path(staging)
    old, new = read_record(target / RECORD), read_record(staging / RECORD)
    merged = merge(old, new)
    figures = target / f"{Path(RECORD).stem}_figures"
    merged["_figures_dir"] = str(figures)
    for name in figures_in(new):
        source = Path(new["_figures_dir"]) / name
        if source.is_file():
            figures.mkdir(exist_ok=True)
            shutil.copyfile(source, figures / name)
    rubric = load(rubric_value)
    results = with_manual(rescore(merged, rubric), manual_grades(target.parent, rubric).get(target.name, {}))
    save_record(merged, target / RECORD)
    write_graded(results, target)
    _prune_figures(target)


def _prune_figures(target):
    """Drop figure files no longer referred to (a merge replaced their question's outcomes)."""
    folder = Path(target) / f"{Path(RECORD).stem}_figures"
    if folder.is_dir():
        kept = figures_in(read_record(Path(target) / RECORD))
        for path in folder.iterdir():
            if path.name not in kept:
                path.unlink()


def _total(results_file):
    try:
        return json.loads(results_file.read_text(encoding="utf-8"))["score"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
