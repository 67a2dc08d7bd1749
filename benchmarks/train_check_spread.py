"""Measure the reference's margin on the Q2.4.1 training check over many seeds.

Runs the same problem, training call and measurements as
spec_tests/test_q2_network.py::test_train_reduces_loss_and_learns_a_separable_problem and prints
the worst accuracy and the worst final/initial loss ratio (the network's own weights, before and
after train()) against the test's bars (90%, 0.5).
"""
import argparse
import sys

import numpy as np

from autograde import REFERENCE_DIR
from spec_tests.gradcheck import two_layer_forward, two_layer_loss
from spec_tests.test_q2_network import TRAIN_EPOCHS, toy_training_problem

sys.path.insert(0, str(REFERENCE_DIR))
import run_q2  # noqa: E402


def main(seeds):
    accuracies, ratios = [], []
    for seed in range(seeds):
        rng = np.random.default_rng(seed)
        np.random.seed(seed)
        x, y, x_valid, y_valid, params = toy_training_problem(rng)
        before = two_layer_loss(params, x, y)
        run_q2.train(x, y, params, epochs=TRAIN_EPOCHS, batch_size=5, learning_rate=1e-2, valid=(x_valid, y_valid))
        accuracies.append(np.mean(two_layer_forward(params, x)[3].argmax(1) == y.argmax(1)))
        ratios.append(two_layer_loss(params, x, y) / before)
    print(f"{seeds} seeds: accuracy min {min(accuracies):.4f} (bar 0.90), mean {np.mean(accuracies):.4f}; "
          f"loss ratio max {max(ratios):.4f} (bar 0.5); failures "
          f"{sum(a < 0.9 or r >= 0.5 for a, r in zip(accuracies, ratios, strict=True))}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=1000)
    main(parser.parse_args().seeds)
