"""Measure the reference's Q3.1.1 validation accuracy on nist36-lite over seeds, and the bar it implies.

The bar in spec_tests/test_q3_training.py is mean - 6 sd of these runs: for a normal spread a
correct submission falls below it with probability 1e-9.
"""
import argparse
import sys

import numpy as np

from autograde import REFERENCE_DIR
from hw5data.choose import nist36_data

sys.path.insert(0, str(REFERENCE_DIR))
import run_q3  # noqa: E402


def main(seeds):
    splits, _, description = nist36_data()
    (x, y), (vx, vy) = splits["train"], splits["valid"]
    accuracies = []
    for seed in range(seeds):
        np.random.seed(seed)
        _, history = run_q3.train_nist36(x, y, vx, vy)
        accuracies.append(history["valid_acc"][-1])
    mean, sd = np.mean(accuracies), np.std(accuracies, ddof=1)
    print(f"{description}\n{seeds} seeds: validation accuracy mean {mean:.4f}, sd {sd:.4f}, "
          f"min {min(accuracies):.4f}, max {max(accuracies):.4f}; bar mean - 6 sd = {mean - 6 * sd:.4f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    main(parser.parse_args().seeds)
