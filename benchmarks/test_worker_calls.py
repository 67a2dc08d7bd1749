"""pytest-benchmark: what running the submission in a sandboxed worker costs a spec test.

One call of the reference's nn.forward on a 36 x 1024 batch (the Q3 layer), made directly in this
process, through the worker as a plain process, and through the worker under bubblewrap; and one
worker start (bubblewrap, numpy and the module import). Compare rows of one run, as ratios.
"""
import sys

import numpy as np
import pytest

from autograde import REFERENCE_DIR
from sandbox import launch
from spec_tests.submission import Submission, worker_sandbox


def _layer():
    rng = np.random.default_rng(0)
    return rng.uniform(0, 1, (36, 1024)), {"Wlayer1": rng.normal(size=(1024, 64)), "blayer1": np.zeros(64)}


@pytest.fixture(params=["none", "bwrap"])
def worker(request, tmp_path):
    if request.param == "bwrap" and launch.bwrap_problem():
        pytest.skip(launch.bwrap_problem())
    submission = Submission(REFERENCE_DIR, tmp_path, worker_sandbox(request.param))
    yield submission
    submission.close()


def test_forward_in_process(benchmark):
    sys.path.insert(0, str(REFERENCE_DIR))
    import nn
    x, params = _layer()
    benchmark(nn.forward, x, params, "layer1")


def test_forward_through_the_worker(benchmark, worker):
    x, params = _layer()
    forward = worker.module("nn").forward
    benchmark(forward, x, params, "layer1")


def test_worker_start_and_import(benchmark, worker):
    def start():
        worker.close()
        worker.module("nn").forward  # noqa: B018  (reading it starts the worker and imports nn there)
    benchmark.pedantic(start, rounds=5, iterations=1)
