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


def grade(submission, rubric, *, seed=0, jobs=None, only=None, timeout=None, progress=None, compat=None):
    """Grade the submission directory (or zip) against the rubric.

    Inputs:  submission path; rubric (rubric.Rubric); seed; jobs = parallel child processes
             (default: CPU count); only = question ids to run (default: all); timeout caps
             every question's time limit; progress(question_id) is called as each finishes;
             compat: run removed library APIs as their replacements (spec_tests/compat.py;
             default: the rubric's `compat`, true unless it says otherwise).
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
    with opened_submission(submission) as (directory, notice), private_copy(directory) as copy:
        if notice:
            results.notices.append(notice)
        wanted = [q for q in rubric.questions if only is None or q.id in only]
        runnable = [q for q in wanted if q.test_names]
        # A rubric group runs in one child under the sum of ALL its members' limits, even when only
        # some are asked for: they share set-up (a training) that the limits were set for.
        own = {q.id: min(q.timeout, timeout) if timeout else q.timeout for q in rubric.questions}
        units, limit = {}, {}
        for q in runnable:
            units.setdefault(q.group or q.id, []).append(q)
        for key, members in units.items():
            shared = sum(own[q.id] for q in rubric.questions if q.test_names and (q.group or q.id) == key)
            limit.update({q.id: shared for q in members})
        runs = {}
        cpus = available_cpus()
        jobs = jobs or cpus
        # The supervisor is entered last, so it leaves first: an interrupt ends the children
        # before the pool waits for its threads.
        with ThreadPoolExecutor(max_workers=jobs) as pool, Supervisor() as supervisor:
            # Longest time limit first (the limits follow the questions' running times), so the
            # pool does not end on one long question while the other workers idle.
            futures = {key: pool.submit(run_question, supervisor, copy, tuple(members), seed=seed, timeout=limit[members[0].id],
                                        threads=max(1, cpus // jobs), sandbox=results.sandbox,
                                        compat=rubric.compat if compat is None else compat)
                       for key, members in sorted(units.items(), key=lambda unit: -limit[unit[1][0].id])}
            for key, future in futures.items():
                run = future.result()
                for q in units[key]:
                    runs[q.id] = run
                    if progress:
                        progress(q.id)
        assemble(results, wanted, runs, limit)
    results.elapsed = time.monotonic() - start
    return results


