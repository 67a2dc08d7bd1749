"""Grade the reference as a Gradescope default container would: ONE core (this process and its
children are pinned to CPU 0), one question process at a time, and, where this machine lets the
grader make a memory cgroup (root, cgroup v1 or v2), all of it inside one cgroup capped at 768 MB
with no swap, as the container's is. Prints each question's score, each test process's wall time
(split into its start-up, the tests, and the submission's workers' start-up within them) and peak
memory, the total, the cgroup's peak and the questions whose submission worker was killed.

    python benchmarks/budget.py [--seed N] [--only 7.1.1 7.2.1 ...] [--memory-limit MB | --no-memory-limit]
"""
import argparse
import os
import time

from autograde import REFERENCE_DIR
from autograde.grading import grade
from autograde.reports import print_table
from autograde.reports.markdown import usage_table
from autograde.rubric import load_rubric
from sandbox import cgroups

MINUTES, MEGABYTES = 10, 768


class MemoryCgroup:
    """A fresh memory cgroup that this process (and so every child it starts) moves into."""

    def __init__(self, group):
        self.group = group
        (group / "cgroup.procs").write_text(str(os.getpid()))

    @classmethod
    def make(cls, megabytes):
        """The cgroup, or None where none can be made (not root, no memory controller, read-only)."""
        groups = cgroups.make(megabytes << 20, prefix="hw5-budget-")
        return cls(groups[0]) if groups else None

    def peak(self):
        """The most memory the cgroup held (bytes, page cache included), or None where the kernel
        does not keep it."""
        peak_file = self.group / "memory.max_usage_in_bytes"
        peak_file = peak_file if peak_file.exists() else self.group / "memory.peak"
        return int(peak_file.read_text()) if peak_file.exists() else None

    def leave(self):
        (self.group.parent / "cgroup.procs").write_text(str(os.getpid()))
        cgroups.remove([self.group])


def main(seed, only, megabytes):
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # children inherit the one core
    cgroup = MemoryCgroup.make(megabytes) if megabytes else None
    start = time.monotonic()
    try:
        results = grade(REFERENCE_DIR, load_rubric(), seed=seed, jobs=1, only=only)
        wall = time.monotonic() - start
        peak_bytes = cgroup.peak() if cgroup else None
    finally:
        if cgroup:
            cgroup.leave()
    print_table(results)
    print("\n".join(usage_table(results)))
    runs = {id(run): run for run, _ in results.runs.values() if run.tests_seconds is not None}.values()
    tests = sum(run.tests_seconds for run in runs)
    startup = sum(max(0.0, run.elapsed - run.tests_seconds) for run in runs)
    print(f"\n{len(runs)} test processes: start-up {startup:.1f} s (pytest, imports), tests {tests:.1f} s, of which the "
          f"submission's workers took {sum(run.worker_seconds or 0 for run in runs):.1f} s to start")
    peak = max((r.peak_rss or 0) for r in results.questions) / 2**20
    graded = "all questions" if only is None else "these questions"
    print(f"\n{graded} on one core: {wall:.1f} s (budget {MINUTES * 60} s); "
          f"largest process tree {peak:.0f} MB (proportional set size; budget {MEGABYTES} MB)")
    # The kernel counts an out-of-memory kill in the victim's own cgroup (the worker's, gone by now
    # under cgroup v1), not in this one: the killed workers are read from the grading instead.
    killed = [r.question.id for r in results.questions if "was killed (SIGKILL" in r.details()]
    if cgroup:
        shown = f"{peak_bytes / 2**20:.0f} MB" if peak_bytes is not None else "not kept by this kernel"
        print(f"memory cgroup capped at {megabytes} MB, no swap: peak {shown} (page cache included); "
              f"submission workers killed: {', '.join(killed) or 'none'}")
    elif megabytes:
        print(f"no memory cgroup could be made here (root and a writable cgroup hierarchy are needed): "
              f"the {megabytes} MB cap was not enforced")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", nargs="+", metavar="QUESTION", help="question ids (default: all)")
    parser.add_argument("--memory-limit", type=int, default=MEGABYTES, metavar="MB")
    parser.add_argument("--no-memory-limit", dest="memory_limit", action="store_const", const=0)
    args = parser.parse_args()
    main(args.seed, args.only, args.memory_limit)
