"""Grade one submission: schedule each question's (or rubric group's) child process, then score.

The journey of a submission path: intake.py takes it in (folder or zip, a private copy), this
module runs the questions' children side by side (child.py writes each one's command line,
report_log.py reads back what it reported), scoring.py turns that into points by the rubric, and
results.py holds the outcome that the reports (autograde/reports/) and results.json are made from.
"""
import os
import time
from concurrent.futures import ThreadPoolExecutor

from autograde.child import run_question
from autograde.intake import SubmissionError, opened_submission, private_copy
from autograde.results import GradingResults
from autograde.scoring import assemble
from sandbox import launch
from sandbox.processes import Supervisor
from spec_tests import protocol


def available_cpus():
    """The cores a grading may use: $HW5_CPUS when set (a batch runs several gradings side by side,
    and BLAS threads beyond the cores spin), else the cores this process may run on."""
    try:
        return max(1, int(os.environ[protocol.CPUS_VARIABLE]))
    except (KeyError, ValueError):
        return len(os.sched_getaffinity(0)) or 1


SHORT_LIMIT = 60   # s: the spec files whose questions (outside a group) all have at most this limit share one child


def child_units(rubric, questions, timeout=None):
    """The child processes a grading of `questions` (runnable rubric questions) starts, longest first:
    [(questions, limit, own limits)]. A rubric group's members run in one child under the sum of ALL
    its members' limits, even when only some are asked for (they share set-up, a training, that the
    limits were set for). The other questions of one spec file are packed into one child too, and
    so are those of every spec file whose questions are all short (rubric limits of at most
    SHORT_LIMIT: Q1, Q2 and Q5.1), so they pay the start-up (pytest, numpy, the submission's worker)
    once; each keeps its own limit there (own limits: {question id: seconds}, enforced in the child by
    spec_tests/deadlines.py), and the child's limit is their sum. timeout caps every question's limit
    (the packing follows the rubric's limits, not the capped ones)."""
    own = {q.id: min(q.timeout, timeout) if timeout else q.timeout for q in rubric.questions}
    units = {}
    for q in questions:
        units.setdefault(("group", q.group) if q.group else ("file", q.file), []).append(q)
    # A spec file that shares a test name with one already packed keeps a child of its own: the
    # child's outcomes are read back by test name.
    short, names = [], set()
    for key, members in list(units.items()):
        tests = {t for q in members for t in q.test_names}
        if key[0] == "file" and all(q.timeout <= SHORT_LIMIT for q in members) and not tests & names:
            short += units.pop(key)
            names |= tests
    if short:
        units[("file", short[0].file)] = short
    found = []
    for (kind, key), members in units.items():
        if kind == "group":
            limit = sum(own[q.id] for q in rubric.questions if q.test_names and q.group == key)
            found.append((tuple(members), limit, {}))
        else:
            limit = sum(own[q.id] for q in members)
            found.append((tuple(members), limit, {q.id: own[q.id] for q in members} if len(members) > 1 else {}))
    # Longest limit first (the limits follow the questions' running times), so the pool does not end
    # on one long child while the other workers idle.
    return sorted(found, key=lambda unit: -unit[1])


def _advice_of(questions):
    """The names of the questions' tests that carry no points in the rubric's profile."""
    return [t for q in questions for t in q.tests if q.is_advice(t)]


def grade(submission, rubric, *, seed=0, jobs=None, only=None, timeout=None, progress=None, compat=None, advice=True):
    """Grade the submission directory (or zip) against the rubric.

    Inputs:  submission path; rubric (rubric.Rubric); seed; jobs = parallel child processes
             (default: CPU count); only = question ids to run (default: all); timeout caps
             every question's time limit; progress(question_id) is called as each finishes;
             compat: run removed library APIs as their replacements (spec_tests/compat.py;
             default: the rubric's `compat`, true unless it says otherwise); advice: run the
             checks that carry no points (each under the rubric's advice_budget, after the
             scored ones); False reports them "not run" (autograde --no-advice); a collection
             of test names runs only those of them (the test suite's short run of a fixture).
    Returns: GradingResults, with one QuestionResult per rubric question, in rubric order.
    """
    start = time.monotonic()
    results = GradingResults(str(submission), rubric, seed=seed)
    mode = protocol.worker_settings()[0]
    try:
        results.sandbox = launch.resolve_mode(mode)
    except (launch.SandboxUnavailable, ValueError) as exc:
        raise SubmissionError(f"cannot grade: {protocol.SANDBOX_VARIABLE}={mode}: {exc} (install the Debian package "
                              f"bubblewrap, or set {protocol.SANDBOX_VARIABLE}=auto to fall back to an unsandboxed process)") from None
    if results.sandbox == "none":
        why = launch.bwrap_problem() if mode != "none" else f"{protocol.SANDBOX_VARIABLE}=none"
        results.notices.insert(0, f"NOT SANDBOXED ({why}): the submission's code ran as a plain process with "
                                  "rlimits only; it could read and write this machine's files and use its network")
    if not advice:
        results.notices.append("advice checks (no points) were not run (--no-advice)")
    elif not isinstance(advice, bool):
        results.notices.append(f"only these advice checks (no points) were run: {', '.join(sorted(advice))}")
    with opened_submission(submission) as (directory, notice), private_copy(directory) as copy:
        if notice:
            results.notices.append(notice)
        wanted = [q for q in rubric.questions if only is None or q.id in only]
        units = child_units(rubric, [q for q in wanted if q.test_names], timeout)
        limit = {q.id: seconds for members, seconds, _ in units for q in members}
        runs = {}
        cpus = available_cpus()
        jobs = jobs or cpus
        # The supervisor is entered last, so it leaves first: an interrupt ends the children
        # before the pool waits for its threads.
        with ThreadPoolExecutor(max_workers=jobs) as pool, Supervisor() as supervisor:
            futures = [(members, pool.submit(
                run_question, supervisor, copy, members, seed=seed, timeout=seconds, threads=max(1, cpus // jobs),
                sandbox=results.sandbox, compat=rubric.compat if compat is None else compat, limits=own,
                advice=_advice_of(members), advice_budget=rubric.advice_budget if advice else 0,
                advice_skip=() if isinstance(advice, bool) else [t for t in _advice_of(members) if t not in advice]))
                for members, seconds, own in units]
            for members, future in futures:
                run = future.result()
                for q in members:
                    runs[q.id] = run
                    if progress:
                        progress(q.id)
        assemble(results, wanted, runs, limit)
    results.elapsed = time.monotonic() - start
    return results
