"""The reference's spread on Q7's data, for the accuracy bars of spec_tests/test_q7_*.py.

    python benchmarks/q7_threshold.py [SEEDS] [QUESTION ...]     # default 10 seeds, every question

Trains each question's reference model SEEDS times (seeds 1..SEEDS: np.random and torch) on the
data the grader uses and prints the mean, sd, min and max of the accuracy the grader computes.
"""
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "solution"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from spec_tests import _q7  # noqa: E402


def measure(question, seed):
    np.random.seed(seed)
    torch.manual_seed(seed)
    return _q7.reference_accuracies(question)


def main():
    seeds = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    questions = sys.argv[2:] or list(_q7.QUESTIONS)
    torch.set_num_threads(1)
    for question in questions:
        runs, started = [], time.perf_counter()
        for seed in range(1, seeds + 1):
            runs.append(measure(question, seed))
        seconds = (time.perf_counter() - started) / seeds
        for name in runs[0]:
            values = np.array([r[name] for r in runs])
            print(f"{question} {name}: mean {values.mean():.4f} sd {values.std(ddof=1):.4f} "
                  f"min {values.min():.4f} max {values.max():.4f} ({seeds} seeds, {seconds:.1f} s a seed)", flush=True)


if __name__ == "__main__":
    main()
