"""Grade the reference as a Gradescope default container would: ONE core (this process and its
children are pinned to CPU 0), one question process at a time. Prints each test process's wall time
and peak memory, the total, and the largest peak (the container allows 10 minutes and 768 MB).

    python benchmarks/budget.py [--seed N]
"""
import argparse
import os
import time

from autograde import REFERENCE_DIR
from autograde.grading import grade
from autograde.report import usage_table
from autograde.rubric import load_rubric

MINUTES, MEGABYTES = 10, 768


def main(seed):
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # children inherit the one core
    start = time.monotonic()
    results = grade(REFERENCE_DIR, load_rubric(), seed=seed, jobs=1)
    wall = time.monotonic() - start
    print("\n".join(usage_table(results)))
    peak = max((r.peak_rss or 0) for r in results.questions) / 2**20
    print(f"\n{results.summary()}\nall questions on one core: {wall:.1f} s (budget {MINUTES * 60} s); "
          f"largest process {peak:.0f} MB (budget {MEGABYTES} MB)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    main(parser.parse_args().seed)
