"""`autograde batch SUBMISSIONS_DIR`: grade every submission in a folder into a CSV gradebook.

Each submission (a folder or a .zip in SUBMISSIONS_DIR) is graded by its own `autograde` process,
N at a time, each running its questions one after another on its share of the cores ($HW5_CPUS).
Each one's results.json and report go to OUT/<name>/; the gradebook OUT/gradebook.csv is rebuilt
from those files at the end. A submission counts as graded once its results.json is there, and
that file only appears when its grading ran to the end, so an interrupted batch resumes where it
stopped (--regrade grades everything again).
"""
import csv
import json
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from autograde.grading import available_cpus
from sandbox.processes import Stopped, Supervisor
from spec_tests import protocol

INTERRUPTED = 130
RESULTS, REPORT, GRADEBOOK = "results.json", "report.md", "gradebook.csv"


@dataclass(frozen=True)
class BatchSummary:
    graded: int          # graded in this run
    skipped: int         # already graded before it
    failed: list         # names whose grading did not produce a results file
    gradebook: Path
    elapsed: float


def submissions_in(folder):
    """The submissions in folder, sorted by name: each subfolder and each .zip (hidden ones skipped)."""
    entries = [p for p in Path(folder).iterdir() if not p.name.startswith((".", "__MACOSX"))]
    return sorted((p for p in entries if p.is_dir() or p.suffix.lower() == ".zip"), key=lambda p: p.name)


def still_to_grade(folder, out, regrade=False):
    """(the submissions in folder to grade, how many are graded in out already)."""
    everything = submissions_in(folder)
    todo = [s for s in everything if regrade or not (Path(out) / _name(s) / RESULTS).is_file()]
    return todo, len(everything) - len(todo)


def grade_batch(folder, out, *, jobs=1, regrade=False, options=(), progress=None):
    """Grade every submission in folder into out/. options: extra `autograde` arguments (e.g.
    ["--seed", "3"]); progress(name) is called as each finishes.

    Returns: BatchSummary. KeyboardInterrupt stops the batch and its gradings (what finished stays).
    """
    start = time.monotonic()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    todo, skipped = still_to_grade(folder, out, regrade)
    failed = []
    # Each grading gets its share of the cores, so N of them never run more BLAS threads than cores.
    env = dict(os.environ, COLUMNS="160", **{protocol.CPUS_VARIABLE: str(max(1, available_cpus() // max(1, jobs)))})

    def grade_one(supervisor, submission):
        target = out / _name(submission)
        target.mkdir(parents=True, exist_ok=True)
        partial = target / f"{RESULTS}.partial"
        command = [sys.executable, "-m", "autograde", "grade", str(submission), "--results", str(partial),
                   "--report", str(target / REPORT), "-j", "1", *options]
        with open(target / "autograde.log", "wb") as log:
            try:
                status = supervisor.run(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                        env=env).returncode
            except Stopped:
                status = INTERRUPTED
        if status != INTERRUPTED and partial.is_file():
            partial.replace(target / RESULTS)   # only a finished grading counts as graded
        else:
            failed.append(submission.name)
        if progress:
            progress(submission.name)

    # On an interrupt each grading gets SIGINT, so it kills its own test processes and writes its
    # results; the supervisor leaves first, so the pool never waits on a grading still running.
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool, Supervisor(interrupt=signal.SIGINT) as supervisor:
        for future in [pool.submit(grade_one, supervisor, s) for s in todo]:
            future.result()
    gradebook = write_gradebook(out)
    return BatchSummary(len(todo) - len(failed), skipped, failed, gradebook, time.monotonic() - start)


def write_gradebook(out):
    """Rebuild out/gradebook.csv from every out/<name>/results.json: one row per submission (total,
    then one column per automatically graded question, then grader errors). Returns its path."""
    rows, questions = [], []
    for results_file in sorted(Path(out).glob(f"*/{RESULTS}")):
        try:
            results = json.loads(results_file.read_text(encoding="utf-8"))
            scores = {str(t["number"]): t["score"] for t in results.get("tests", [])}
        except (ValueError, KeyError, TypeError, AttributeError):
            results, scores = {"score": "", "output": "results.json is unreadable"}, {}
        questions += [q for q in scores if q not in questions]
        output = str(results.get("output", ""))
        rows.append({"submission": _cell(results_file.parent.name), "total": results.get("score", ""), **scores,
                     "grader_errors": output.count("GRADER ERROR"),
                     "seconds": results.get("execution_time", "")})
    path = Path(out) / GRADEBOOK
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, ["submission", "total", *sorted(questions, key=_question_order), "grader_errors", "seconds"],
                                restval="")
        writer.writeheader()
        writer.writerows(rows)
    return path


def _cell(text):
    """A file name as a CSV cell a spreadsheet will not run as a formula."""
    return "'" + text if text.startswith(("=", "+", "-", "@")) else text


def _question_order(qid):
    return tuple(int(part) if part.isdigit() else part for part in qid.split("."))


def _name(submission):
    return submission.stem if submission.suffix.lower() == ".zip" else submission.name
