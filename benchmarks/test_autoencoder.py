"""pytest-benchmark: one epoch of the reference autoencoder's training (Q5.2 runs 100), on
nist36-lite's 5868 training rows, with get_random_batches given the images as labels too (what the
handout's loop does) and with a 0-column stand-in (what the reference does: no second copy)."""
import sys

import numpy as np
import pytest

from autograde import REFERENCE_DIR
from hw5data.choose import nist36_data

sys.path.insert(0, str(REFERENCE_DIR))
import run_q5  # noqa: E402


@pytest.fixture(scope="module")
def train_x():
    return nist36_data().splits["train"][0]


def _epoch(train_x, labels):
    np.random.seed(0)
    params = run_q5.initialize_autoencoder()
    for batch, _ in run_q5.get_random_batches(train_x, labels, run_q5.BATCH_SIZE):
        out = run_q5.autoencoder_forward(batch, params)
        run_q5.autoencoder_backwards(batch, out, params)
        run_q5.momentum_step(params, run_q5.LEARNING_RATE)


@pytest.mark.parametrize("labels", ["images_again", "no_columns"])
def test_autoencoder_epoch(benchmark, train_x, labels):
    stand_in = train_x if labels == "images_again" else np.empty((len(train_x), 0))
    benchmark.pedantic(_epoch, args=(train_x, stand_in), rounds=5, warmup_rounds=1)
