"""Run one question's spec tests on a submission in a child process, and read back the outcomes.

The child is a pytest process with a time limit. It runs none of the submission's code itself:
the spec tests send each call to a sandboxed worker of their own (spec_tests/_submission.py), so
the report log the child writes is the grader's. This module, in the parent, scores from that log
alone, validating each line, and reads back figures as bounded, well-formed PNGs.
"""
import json
import math
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from autograde import SPEC_DIR
from spec_tests._sandbox import COMPAT_VARIABLE, MEMORY_VARIABLE, THREAD_VARIABLES, remove_worker_cgroups

OUTPUT_TAIL_BYTES = 4000
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")
MEMORY_SAMPLE_SECONDS = 0.2
MAX_LOG_LINE = 1_000_000
MESSAGE_LINES = 8
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
MAX_FIGURE_BYTES = 3_000_000
MAX_FIGURE_SIDE = 4000
MAX_FIGURES, MAX_FINDINGS, MAX_FINDING_CHARS = 8, 12, 300
FIGURE_NAME = re.compile(r"[A-Za-z0-9_]{1,80}-[0-9]{1,3}\.png")
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # ANSI escapes, bells: never shown raw
_live_children = set()          # children are session leaders: Ctrl-C does not reach them
_live_lock = threading.Lock()
_stopping = threading.Event()   # set by kill_all_children: no worker thread may start another child


@dataclass(frozen=True)
class Figure:
    """A PNG the submission drew, read back from the child and checked: bytes plus a caption."""
    caption: str
    png: bytes


@dataclass(frozen=True)
class TestOutcome:
    name: str            # test function name (parametrised cases fold into one)
    passed: bool
    message: str = ""    # why it failed, student-facing
    title: str = ""
    skipped: bool = False  # the test skipped itself: the grader lacked something (data), not the code
    data: str = ""       # the data set the test used, when it says
    figures: tuple = ()  # Figure objects the test handed to the report
    findings: tuple = ()  # lines of text (the submission's numbers) for the report
    metrics: tuple = ()   # (name, value) numbers for a leaderboard
    notices: tuple = ()   # removed library APIs the submission used, run as their replacements


@dataclass
class QuestionRun:
    """What one child run reported: outcomes by test name, plus how the process ended."""
    outcomes: dict = field(default_factory=dict)
    returncode: int | None = None
    timed_out: bool = False
    started: bool = False   # at least one test phase was reported
    elapsed: float = 0.0
    output_tail: str = ""
    questions: tuple = ()   # the ids of the questions this run covered (several for a rubric group)
    peak_rss: int | None = None   # bytes: the most its process tree (tests, the submission's worker) held at once

    @property
    def runner_failed(self):
        """pytest stopped with an error of its own (usage, collection, internal, no tests) before any test."""
        return not self.timed_out and self.returncode in (2, 3, 4, 5) and not self.started

    def ended_early_reason(self, timeout):
        """Why tests that did not report are missing, in words."""
        if self.timed_out:
            if len(self.questions) > 1:
                shared = ", ".join(f"Q{q}" for q in self.questions)
                return f"did not finish: the time limit of {timeout:g} s that {shared} share (one process) was reached"
            return f"did not finish: the question's time limit of {timeout:g} s was reached"
        if self.returncode is not None and self.returncode < 0:
            return f"did not finish: the test process was killed by signal {-self.returncode}"
        return f"did not finish: the test process ended early (exit code {self.returncode})"


def run_question(submission, question, *, seed=0, timeout=None, threads=1, sandbox="auto", compat=True,
                 python=sys.executable):
    """Run `question`'s tests from its spec file on `submission` (a directory) in a child pytest.

    question may be a tuple of questions of one spec file (a rubric group): they run in one child,
    so module-scoped work they share (a 100-epoch training) runs once; timeout then defaults to the
    sum of their limits.

    threads caps the child's BLAS/OpenMP threads: children already run side by side, and
    oversubscribed BLAS threads spin so hard that 4 children on 2 cores ran 50x slower.
    sandbox: 'bwrap', 'none' or 'auto', for the submission's worker (spec_tests/_sandbox.py); its
    CPU time is capped at the time limit times the threads. compat: run removed library APIs as
    their replacements in the worker (spec_tests/_compat.py).

    Returns: QuestionRun. Never raises for anything the submission does.
    """
    questions = tuple(question) if isinstance(question, (tuple, list)) else (question,)
    timeout = sum(q.timeout for q in questions) if timeout is None else timeout
    with tempfile.TemporaryDirectory(prefix="autograde-") as tmp:
        tmp = Path(tmp)
        log = tmp / "report.jsonl"
        selected = [arg for q in questions for arg in ("--question", q.id)]
        command = [python, "-m", "pytest", str(SPEC_DIR / questions[0].file),
                   "--submission", str(submission), *selected, "--figures-dir", str(tmp / "figures"),
                   "--grading-seed", str(seed), f"--report-log={log}", f"--basetemp={tmp / 'work'}",
                   "--capture=no", "-q", "-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-p", "no:benchmark", "--rootdir", str(tmp),
                   "-o", "addopts=", "-W", "ignore::pytest.PytestAssertRewriteWarning"]
        memory = os.environ.get(MEMORY_VARIABLE) or str(max(q.worker_memory_mb for q in questions))
        env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", MPLBACKEND="Agg", PYTHONHASHSEED="0", **{MEMORY_VARIABLE: memory},
                   HW5_SANDBOX=sandbox, HW5_WORKER_CPU_SECONDS=str(int(timeout * threads) + 10),
                   **{COMPAT_VARIABLE: "1" if compat else "0"},
                   **{name: str(threads) for name in THREAD_VARIABLES})
        start = time.monotonic()
        with open(tmp / "output.txt", "wb") as output:
            with _live_lock:  # started and registered together, so an interrupt kills every child
                if _stopping.is_set():
                    return QuestionRun(returncode=None, timed_out=False, elapsed=0.0, output_tail="grading was interrupted",
                                       questions=tuple(q.id for q in questions))
                child = subprocess.Popen(command, cwd=tmp, env=env, stdin=subprocess.DEVNULL,
                                         stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
                _live_children.add(child)
            timed_out, peak_rss = True, None
            try:
                timed_out, peak_rss = _wait(child, timeout)
            finally:
                _kill_group(child)
                remove_worker_cgroups(child.pid)
                with _live_lock:
                    _live_children.discard(child)
        run = QuestionRun(returncode=child.returncode, timed_out=timed_out, elapsed=time.monotonic() - start,
                          output_tail=_tail(tmp / "output.txt"), questions=tuple(q.id for q in questions),
                          peak_rss=peak_rss)
        reports = _test_reports(log)
        run.started = bool(reports)
        run.outcomes = _outcomes(reports, figures_dir=tmp / "figures")
    return run


def _wait(child, timeout, poll=0.05):
    """Wait for the child at most timeout seconds, reaping it with wait4 for its resource usage.

    Returns: (timed_out, peak memory in bytes or None). The peak is the larger of wait4's (the
    largest single process's resident set) and the largest sum of memory over the child's whole
    process tree (proportional set sizes), sampled at each poll: the test process and the
    submission's worker run side by side, and a container's memory limit counts them together.
    """
    deadline = time.monotonic() + timeout
    tree_peak, sampled = 0, 0.0
    while True:
        try:
            pid, status, usage = os.wait4(child.pid, os.WNOHANG)
        except ChildProcessError:  # already reaped: nothing else waits on our children, but be safe
            return False, tree_peak or None
        if pid:
            child.returncode = os.waitstatus_to_exitcode(status)
            return False, max(usage.ru_maxrss * 1024, tree_peak)  # Linux reports kilobytes
        if time.monotonic() >= deadline:
            return True, tree_peak or None
        if time.monotonic() - sampled >= MEMORY_SAMPLE_SECONDS:  # reading smaps costs: not every poll
            tree_peak, sampled = max(tree_peak, tree_rss(child.pid)), time.monotonic()
        time.sleep(min(poll, max(0.0, deadline - time.monotonic())))


def _memory_of(pid):
    """Bytes of memory pid holds: its proportional set size (a library page that two processes
    share counts half in each, so a tree's sum is what it really holds), else its resident set."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * PAGE_BYTES


def tree_rss(pid):
    """Bytes of memory pid and all its descendants hold now (0 where /proc cannot tell)."""
    total, todo, seen = 0, [pid], set()
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        try:
            total += _memory_of(current)
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as f:
                    todo.extend(int(c) for c in f.read().split())
        except (OSError, ValueError, IndexError):
            continue
    return total


def kill_all_children():
    """Kill every child this process is still running (on interrupt: they would outlive it), and
    start no more until allow_children() is called."""
    with _live_lock:
        _stopping.set()
        children = list(_live_children)
    for child in children:
        # Kill only: the worker thread that started the child reaps it (wait4), so two threads
        # never race to reap one process.
        signal_group(child.pid)


def end_stray_children():
    """Kill and reap every child process this process still has (after an interrupt, before exit).

    A signal that lands while a child is being started (between Popen's fork and its return) or
    while subprocess.run waits leaves a child that no Popen object reaps; unreaped, it outlives the
    grader as a zombie where the container's init reaps nothing. Linux's /proc lists them all.
    """
    pids = set()
    for listing in Path("/proc/self/task").glob("*/children"):
        try:
            pids.update(int(pid) for pid in listing.read_text().split())
        except (OSError, ValueError):
            continue
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    for pid in pids:
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass


def allow_children():
    """Let run_question start children again (a new grading run in the same process)."""
    _stopping.clear()


def _kill_group(child):
    """Kill the child and everything it started (it leads its own session), and reap the child."""
    signal_group(child.pid)
    child.wait()


def signal_group(pid, signum=signal.SIGKILL):
    """Send signum to the process group led by pid (a child started with start_new_session)."""
    try:
        os.killpg(pid, signum)
    except (ProcessLookupError, PermissionError):
        pass


def _tail(path):
    with open(path, "rb") as f:
        f.seek(max(0, path.stat().st_size - OUTPUT_TAIL_BYTES))
        return f.read().decode("utf-8", "replace")


def read_report_log(path):
    """Parse a pytest-reportlog file. Returns {test name: TestOutcome}; malformed lines are skipped.

    A test passes only if every phase (setup, call, teardown) of every parametrised case passed;
    a skipped test earns nothing.
    """
    return _outcomes(_test_reports(path))


def _test_reports(path):
    """{test name: [its well-formed TestReport dicts]} from a report log (empty if there is none)."""
    reports = {}
    if Path(path).exists():
        with open(path, "rb") as f:
            for raw in f:
                report = _parse_line(raw)
                if report is not None:
                    name = report["nodeid"].split("::")[-1].split("[")[0]
                    reports.setdefault(name, []).append(report)
    return reports


def _outcomes(reports, figures_dir=None):
    outcomes = {}
    for name, group in reports.items():
        # user_properties accumulate over the phases: the longest list holds every one, once.
        latest = max((r.get("user_properties") for r in group if isinstance(r.get("user_properties"), list)), key=len, default=[])
        pairs = [p for p in latest if isinstance(p, list) and len(p) == 2 and isinstance(p[0], str)]
        props = dict(pairs)
        bad = [r for r in group if r["outcome"] != "passed"]
        if not bad and not any(r["when"] == "call" for r in group):
            continue  # set up but never finished: the caller knows why the process stopped
        findings = tuple(_printable(str(v)[:MAX_FINDING_CHARS]) for k, v in pairs if k == "finding")[:MAX_FINDINGS]
        figures = _figures([v for k, v in pairs if k == "figure"], figures_dir)
        metrics = tuple((m[0][:80], float(m[1])) for k, m in pairs if k == "metric" and isinstance(m, list) and len(m) == 2
                        and isinstance(m[0], str) and isinstance(m[1], (int, float)) and math.isfinite(m[1]))[:MAX_FINDINGS]
        notices = tuple(_printable(str(v)[:MAX_FINDING_CHARS]) for k, v in pairs if k == "notice")[:MAX_FINDINGS]
        outcomes[name] = TestOutcome(name, not bad, _printable(_message(bad[0])) if bad else "",
                                     _printable(str(props.get("title", ""))[:200]), any(r["outcome"] == "skipped" for r in bad),
                                     _printable(str(props.get("data", ""))[:300]), figures, findings, metrics, notices)
    return outcomes


def _printable(text):
    """Text from the child (which may quote the submission) without terminal control characters."""
    return CONTROL_CHARACTERS.sub("\N{REPLACEMENT CHARACTER}", text)


def _figures(listed, directory):
    """Read back the figures a test listed as [file name, caption]; keep only well-formed PNGs.

    The files come from the submission's process: names must be the plugin's own pattern, inside
    `directory`, and each file a PNG of bounded size whose header declares sane dimensions.
    """
    figures = []
    for entry in listed[:MAX_FIGURES]:
        if directory is None or not (isinstance(entry, list) and len(entry) == 2 and all(isinstance(e, str) for e in entry)):
            continue
        name, caption = entry
        path = Path(directory) / name
        if not FIGURE_NAME.fullmatch(name) or path.is_symlink() or not path.is_file():
            continue
        if path.stat().st_size > MAX_FIGURE_BYTES:
            continue
        png = path.read_bytes()
        if _png_size(png) is not None:
            figures.append(Figure(_printable(caption[:200]), png))
    return tuple(figures)


def _png_size(png):
    """(width, height) from a PNG's IHDR chunk when the file starts like a sane PNG, else None."""
    if len(png) < 24 or not png.startswith(PNG_MAGIC) or png[12:16] != b"IHDR":
        return None
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    return (width, height) if 0 < width <= MAX_FIGURE_SIDE and 0 < height <= MAX_FIGURE_SIDE else None


def _parse_line(raw):
    if len(raw) > MAX_LOG_LINE:
        return None
    try:
        report = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(report, dict) or report.get("$report_type") != "TestReport":
        return None
    if not all(isinstance(report.get(k), str) for k in ("nodeid", "outcome", "when")):
        return None
    return report


def _message(report):
    """The student-facing reason from a failed or skipped report. (Where in the submission an error
    was raised is already in its message: the worker, spec_tests/_worker.py, adds it.)"""
    longrepr = report.get("longrepr")
    if isinstance(longrepr, dict):
        crash = longrepr.get("reprcrash") or {}
        text = str(crash.get("message", ""))
    elif isinstance(longrepr, list) and len(longrepr) == 3:  # skip: (path, line, reason)
        text = str(longrepr[2])
    else:
        text = str(longrepr or "")
    for prefix in ("Failed: ", "AssertionError: ", "Skipped: ", "SubmissionProcessDied: "):
        if text.startswith(prefix):
            text = text[len(prefix):]
    lines = []
    raw_lines = text.strip().splitlines()
    if len(raw_lines) > 1 and raw_lines[0].startswith("Not equal to tolerance"):
        raw_lines[:2] = raw_lines[1::-1]  # numpy puts its boilerplate before the test's own message
    for line in raw_lines:
        if line.startswith("assert "):
            break  # pytest's introspection of the failed expression: noise next to our message
        if line.strip():
            lines.append(line.rstrip())
    where = {"call": "", "setup": "(while preparing the check) ", "teardown": "(after the check) "}.get(report["when"], "")
    return where + "\n".join(lines[:MESSAGE_LINES])
