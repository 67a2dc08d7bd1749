"""`autograde batch SUBMISSIONS_DIR`: grade every submission in a folder into a CSV gradebook.

Each submission (a folder or a .zip in SUBMISSIONS_DIR) is graded by its own `autograde grade`
process, N at a time, each running its questions one after another on its share of the cores
($HW5_CPUS). Where they run is the engine's business: a thread pool on this machine (the default),
or a Dask cluster (cluster.py: `--scheduler local|ADDRESS|slurm|pbs|sge`). Either way a grading
writes into a staging folder, and its files reach OUT/<name>/ only when it ran to the end:
results.json, the report (report.md, report.html, report_figures/) and the grading record
(outcomes.json, outcomes_figures/: every test's outcome, from which `autograde rescore` recomputes
scores by another rubric). A submission counts as graded once its results.json is there, so an
interrupted batch resumes where it stopped (--regrade grades everything again).

`--merge` with `-q`: the chosen questions are graded again and merged into each submission's
record, and its results, report and the gradebook are rebuilt from the merged record.
"""
import os
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from autograde.course.gradebook import GRADEBOOK, RESULTS, write_gradebook
from autograde.course.rescore import REPORT, load, merge_grading
from autograde.grading import available_cpus
from autograde.record import RECORD, RecordError, read_record
from sandbox.processes import Stopped, Supervisor
from spec_tests import protocol

INTERRUPTED = 130
FINISHED = (0, 1, 2)   # `autograde grade`'s exit statuses when it ran to its end
LOG = "autograde.log"
__all__ = ["GRADEBOOK", "grade_batch", "still_to_grade", "submissions_in", "write_gradebook"]
STAGING = ".grading"


@dataclass(frozen=True)
class BatchSummary:
    graded: int          # graded in this run
    skipped: int         # already graded before it
    failed: list         # names whose grading did not produce a results file
    gradebook: Path
    elapsed: float
    merged: int = 0      # of the graded, those merged into an earlier grading (--merge)


def submissions_in(folder):
    """The submissions in folder, sorted by name: each subfolder and each .zip (hidden ones skipped)."""
    entries = [p for p in Path(folder).iterdir() if not p.name.startswith((".", "__MACOSX"))]
    return sorted((p for p in entries if p.is_dir() or p.suffix.lower() == ".zip"), key=lambda p: p.name)


def still_to_grade(folder, out, regrade=False, merge=False):
    """(the submissions in folder to grade, how many are graded in out already). A merge grades
    them all (its questions again)."""
    everything = submissions_in(folder)
    todo = [s for s in everything if regrade or merge or not (Path(out) / name_of(s) / RESULTS).is_file()]
    return todo, len(everything) - len(todo)


def grading_command(submission, staging, options, python=sys.executable):
    """The `autograde grade` command line for one submission, its files written into staging."""
    return [python, "-m", "autograde", "grade", str(submission), "--results", str(Path(staging) / RESULTS),
            "--report", str(Path(staging) / REPORT), "--outcomes", str(Path(staging) / RECORD), "-j", "1", *options]


def run_grading(supervisor, submission, staging, options, cpus, **popen):
    """Grade submission into the (fresh) staging folder with `cpus` cores; its output goes to
    staging/autograde.log. Returns the exit status (INTERRUPTED when the supervisor was stopped)."""
    staging = Path(staging)
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    env = dict(os.environ, COLUMNS="160", **{protocol.CPUS_VARIABLE: str(max(1, cpus))})
    with open(staging / LOG, "wb") as log:
        try:
            return supervisor.run(grading_command(submission, staging, options), stdout=log, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL, env=env, **popen).returncode
        except Stopped:
            return INTERRUPTED


def grade_batch(folder, out, *, jobs=1, regrade=False, options=(), only=(), merge=False, rubric=None, engine=None,
                progress=None):
    """Grade every submission in folder into out/. options: extra `autograde grade` arguments (e.g.
    ["--seed", "3"]); only: question ids (-q); merge: grade only those again and merge them into each
    earlier grading (a submission never graded is graded in full); rubric: the --rubric value (a
    merge rescores by it); engine: cluster.DaskEngine, or None for a pool of `jobs` threads on this
    machine; progress(name) is called as each finishes.

    Returns: BatchSummary. KeyboardInterrupt stops the batch and its gradings (what finished stays).
    """
    start = time.monotonic()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    todo, skipped = still_to_grade(folder, out, regrade, merge)
    failed, merged = [], []
    options = [*(["--rubric", str(rubric)] if rubric else []), *options]
    selected = [arg for q in only for arg in ("-q", q)]

    # Read each earlier record once: whether a submission merges decides its -q and its installation.
    earlier = {name_of(s) for s in todo if merge and _mergeable(out / name_of(s))}

    def arguments(submission):
        return [*options, *selected] if not merge or name_of(submission) in earlier else options

    def finished(submission, status):
        name = name_of(submission)
        if _install(out / name, status, name in earlier, rubric):
            merged.extend([name] if name in earlier else [])
        else:
            failed.append(submission.name)
        if progress:
            progress(submission.name)

    if engine is None:
        cpus = max(1, available_cpus() // max(1, jobs))   # N gradings never run more BLAS threads than cores

        def grade_one(supervisor, submission):
            finished(submission, run_grading(supervisor, submission, out / name_of(submission) / STAGING,
                                             arguments(submission), cpus))

        # On an interrupt each grading gets SIGINT, so it kills its own test processes; the
        # supervisor leaves first, so the pool never waits on a grading still running.
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool, Supervisor(interrupt=signal.SIGINT) as supervisor:
            for future in [pool.submit(grade_one, supervisor, s) for s in todo]:
                future.result()
    else:
        for submission, status, files in engine.grade(todo, arguments):
            _unpack(files, out / name_of(submission) / STAGING)
            finished(submission, status)
    gradebook = write_gradebook(out, load(rubric))
    return BatchSummary(len(todo) - len(failed), skipped, failed, gradebook, time.monotonic() - start, len(merged))


def _mergeable(target):
    """True when target holds a grading to merge into: a readable record of a grading that did not
    fail as a whole. Otherwise a --merge grades the submission in full."""
    try:
        return not read_record(target / RECORD).get("failed")
    except RecordError:
        return False


def _install(target, status, merge, rubric):
    """Move a finished grading from target/.grading into target (results.json last, so it marks the
    grading complete), or with merge, merge it into the grading already there. Returns True when
    target now holds this run's grading; False leaves target as it was. The log always moves, so a
    failure can be read."""
    staging = target / STAGING
    if (staging / LOG).is_file():
        (staging / LOG).replace(target / LOG)
    # A grading ran to the end when it exited by itself (0 graded, 1 a grader error, 2 input it
    # could not grade) and wrote its results and its record; a signal or an interrupt is no end.
    done = status in FINISHED and (staging / RESULTS).is_file() and (staging / RECORD).is_file()
    if done and merge:
        try:
            merge_grading(target, staging, rubric)
        except RecordError as exc:   # this run failed as a whole, or its record is unusable: keep the old grading
            with open(target / LOG, "a", encoding="utf-8") as log:
                log.write(f"\nautograde batch --merge: not merged, the earlier grading is kept: {exc}\n")
            done = False
    elif done:
        for name in (f"{Path(REPORT).stem}_figures", f"{Path(RECORD).stem}_figures"):
            shutil.rmtree(target / name, ignore_errors=True)
        for item in sorted(staging.iterdir(), key=lambda p: p.name == RESULTS):
            item.replace(target / item.name)
    shutil.rmtree(staging, ignore_errors=True)
    return done


def _unpack(files, staging):
    """Write a remote grading's files ({relative path: bytes}) into a fresh staging folder."""
    shutil.rmtree(staging, ignore_errors=True)
    for relative, data in files.items():
        path = staging / relative
        if staging.resolve() not in path.resolve().parents:   # the engine's own names; be safe anyway
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def name_of(submission):
    """The name a submission's results go under: its folder's name, or its zip's stem."""
    submission = Path(submission)
    return submission.stem if submission.suffix.lower() == ".zip" else submission.name
