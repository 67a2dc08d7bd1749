"""Child processes that must not outlive the process that started them.

A Supervisor starts each child in a session of its own (so a terminal's Ctrl-C reaches only this
process, which then decides), waits for it under a time limit while sampling the memory of its
whole process tree, and on the way out kills the child with everything it started and removes the
cgroups its workers made (sandbox/cgroups.py). After an interrupt, `stop()` kills every child still
running and refuses new ones; `end_stray_children()` reaps what no Popen object owns.
"""
import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from sandbox import cgroups

PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")
MEMORY_SAMPLE_SECONDS = 0.2


@dataclass(frozen=True)
class Finished:
    """How a supervised child ended."""
    returncode: int | None
    timed_out: bool
    elapsed: float              # seconds
    peak_rss: int | None        # bytes: the most its process tree held at once


class Stopped(Exception):
    """The supervisor was stopped (an interrupt): no child was started."""


class Supervisor:
    """Runs children under time limits; stop() ends them all. One per grading run: threads of a
    pool may share it.

    As a context manager it stops on the way out, so `with ThreadPoolExecutor() as pool, Supervisor()
    as supervisor:` ends the children BEFORE the pool waits for its threads, wherever an interrupt
    lands (even while tasks are still being submitted). interrupt: the signal stop() sends to each
    child's process group (SIGKILL; SIGINT for a child that cleans up after itself).
    """

    def __init__(self, interrupt=signal.SIGKILL):
        self._live = set()
        self._lock = threading.Lock()
        self._stopping = False
        self._interrupt = interrupt

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.stop()

    def run(self, command, timeout=None, **popen):
        """Run command (Popen keyword arguments as given, in a new session) for at most timeout
        seconds (None: no limit). Returns: Finished. Raises Stopped when stop() was called before
        it started."""
        start = time.monotonic()
        with self._lock:  # started and registered together, so stop() kills every child
            if self._stopping:
                raise Stopped
            child = subprocess.Popen(command, start_new_session=True, **popen)
            self._live.add(child)
        timed_out, peak_rss = True, None
        try:
            timed_out, peak_rss = _wait(child, timeout)
        finally:
            signal_group(child.pid)   # the child and everything it started
            child.wait()
            cgroups.remove_left_by(child.pid)
            with self._lock:
                self._live.discard(child)
        return Finished(child.returncode, timed_out, time.monotonic() - start, peak_rss)

    def stop(self):
        """Signal every child still running and start no more (on interrupt: they would outlive us).
        Only signals: the thread that started a child reaps it, so two threads never race to reap one."""
        with self._lock:
            self._stopping = True
            children = list(self._live)
        for child in children:
            signal_group(child.pid, self._interrupt)


def _wait(child, timeout, poll=0.05):
    """Wait for the child at most timeout seconds, reaping it with wait4 for its resource usage.

    Returns: (timed_out, peak memory in bytes or None). The peak is the larger of wait4's (the
    largest single process's resident set) and the largest sum of memory over the child's whole
    process tree (proportional set sizes), sampled at each poll: a test process and its worker
    run side by side, and a container's memory limit counts them together.
    """
    deadline = time.monotonic() + (float("inf") if timeout is None else timeout)
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
        time.sleep(max(0.0, min(poll, deadline - time.monotonic())))


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


def signal_group(pid, signum=signal.SIGKILL):
    """Send signum to the process group led by pid (a child started in a new session)."""
    try:
        os.killpg(pid, signum)
    except (ProcessLookupError, PermissionError):
        pass
