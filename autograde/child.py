"""Run one question's spec tests on a submission in a child pytest process, and read back the outcomes.

The child runs none of the submission's code itself: the spec tests send each call to a sandboxed
worker of their own (spec_tests/submission.py), so the report log the child writes is the
grader's. Its command line and environment are written here, by the names of spec_tests/protocol.py.
"""
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from autograde import SPEC_DIR
from autograde.outcomes import QuestionRun
from autograde.report_log import outcomes, test_reports
from sandbox.processes import Stopped
from spec_tests import protocol

OUTPUT_TAIL_BYTES = 4000
QUIET_PLUGINS = ("cacheprovider", "hypothesispytest", "benchmark")   # the child needs none of them


def child_command(questions, submission, log, figures, workdir, seed, python=sys.executable, limits=None,
                  advice=(), advice_budget=None, advice_skip=()):
    """The child's pytest command line: the questions' spec file, the submission, only these questions,
    where figures and the report log go, and no configuration of the project's own. limits: {question
    id: seconds} enforced inside the child (questions packed into one process); advice: the tests that
    carry no points, run last under advice_budget seconds each (0: not run; spec_tests/deadlines.py);
    advice_skip: those of the advice tests not to run."""
    selected = [arg for q in questions for arg in (protocol.QUESTION_OPTION, q.id)]
    selected += [arg for qid, seconds in (limits or {}).items() for arg in (protocol.QUESTION_LIMIT_OPTION, f"{qid}={seconds:g}")]
    selected += [arg for name in advice for arg in (protocol.ADVICE_OPTION, name)]
    if advice and advice_budget is not None:
        selected += [protocol.ADVICE_BUDGET_OPTION, f"{advice_budget:g}"]
    selected += [arg for name in advice_skip for arg in (protocol.ADVICE_SKIP_OPTION, name)]
    files = [str(SPEC_DIR / name) for name in dict.fromkeys(q.file for q in questions)]
    return [python, "-m", "pytest", *files, protocol.SUBMISSION_OPTION, str(submission),
            *selected, protocol.FIGURES_OPTION, str(figures), protocol.SEED_OPTION, str(seed),
            f"--report-log={log}", f"--basetemp={workdir}", "--capture=no", "-q",
            *(arg for plugin in QUIET_PLUGINS for arg in ("-p", f"no:{plugin}")), "--rootdir", str(Path(log).parent),
            "-o", "addopts=", "-W", "ignore::pytest.PytestAssertRewriteWarning"]


def child_environment(questions, timeout, threads, sandbox, compat, environ=os.environ):
    """The child's environment: the caller's, with the worker's limits, the sandbox mode, the
    compatibility layer's switch and the BLAS/OpenMP thread caps."""
    memory = environ.get(protocol.MEMORY_VARIABLE) or str(max(q.worker_memory_mb for q in questions))
    return dict(environ, PYTHONDONTWRITEBYTECODE="1", MPLBACKEND="Agg", PYTHONHASHSEED="0",
                **{protocol.MEMORY_VARIABLE: memory, protocol.SANDBOX_VARIABLE: sandbox,
                   protocol.CPU_VARIABLE: str(int(timeout * threads) + 10), protocol.COMPAT_VARIABLE: "1" if compat else "0"},
                **{name: str(threads) for name in protocol.THREAD_VARIABLES})


def run_question(supervisor, submission, question, *, seed=0, timeout=None, threads=1, sandbox="auto", compat=True,
                 python=sys.executable, limits=None, advice=(), advice_budget=None, advice_skip=()):
    """Run `question`'s tests from its spec file on `submission` (a directory) in a child pytest,
    under `supervisor` (sandbox.processes.Supervisor).

    question may be a tuple of questions (a unit of grading.child_units: a rubric group, a spec
    file's questions, or the short questions of several files): they run in one child, so
    module-scoped work they share (a 100-epoch training) runs once; timeout then defaults to the
    sum of their limits.

    threads caps the child's BLAS/OpenMP threads: children already run side by side, and
    oversubscribed BLAS threads spin so hard that 4 children on 2 cores ran 50x slower.
    sandbox: 'bwrap', 'none' or 'auto', for the submission's worker; its CPU time is capped at the
    time limit times the threads. compat: run removed library APIs as their replacements in the
    worker (spec_tests/compat.py). limits, advice, advice_budget, advice_skip: as child_command's.

    Returns: QuestionRun. Never raises for anything the submission does.
    """
    questions = tuple(question) if isinstance(question, (tuple, list)) else (question,)
    ids = tuple(q.id for q in questions)
    timeout = sum(q.timeout for q in questions) if timeout is None else timeout
    with tempfile.TemporaryDirectory(prefix="autograde-") as tmp:
        tmp = Path(tmp)
        log = tmp / "report.jsonl"
        command = child_command(questions, submission, log, tmp / "figures", tmp / "work", seed, python,
                                limits, advice, advice_budget, advice_skip)
        env = child_environment(questions, timeout, threads, sandbox, compat)
        with open(tmp / "output.txt", "wb") as output:
            try:
                finished = supervisor.run(command, timeout, cwd=tmp, env=env, stdin=subprocess.DEVNULL,
                                          stdout=output, stderr=subprocess.STDOUT)
            except Stopped:
                return QuestionRun(output_tail="grading was interrupted", questions=ids)
        reports = test_reports(log)
        return QuestionRun(outcomes(reports, figures_dir=tmp / "figures"), finished.returncode, finished.timed_out,
                           bool(reports), finished.elapsed, _tail(tmp / "output.txt"), ids, finished.peak_rss,
                           *time_split(reports))


def time_split(reports):
    """(seconds the tests took, seconds of it the submission's workers took to start) from test_reports."""
    tests = workers = 0.0
    for group in reports.values():
        for report in group:
            duration = report.get("duration")
            tests += duration if isinstance(duration, (int, float)) and 0 <= duration < 1e6 else 0.0
            for pair in report.get("user_properties") or ():
                if report.get("when") == "teardown" and isinstance(pair, list) and len(pair) == 2 \
                        and pair[0] == protocol.WORKER_START_PROPERTY and isinstance(pair[1], (int, float)):
                    workers += min(max(float(pair[1]), 0.0), 1e6)
    return round(tests, 3), round(workers, 3)


def _tail(path):
    with open(path, "rb") as f:
        f.seek(max(0, path.stat().st_size - OUTPUT_TAIL_BYTES))
        return f.read().decode("utf-8", "replace")
