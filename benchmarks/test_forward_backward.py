"""pytest-benchmark: one forward + backward pass of the Q3 network (1024-64-36, sigmoid/softmax).

The reference numpy code (solution/nn.py) beside the same computation in PyTorch on the CPU,
at the batch sizes of Q3 training (32) and of a full-speed epoch (256), and one epoch of the
reference's training loop. Run with `nox -s benchmark` (installs torch); compare rows of one run, as
ratios: absolute times depend on the machine. The numpy rows run at one BLAS thread, as a grading's
processes do (autograde/child.py), and report their FLOP rate as a fraction of a big float64 GEMM's
in the same process at that thread count (extra_info "fraction_of_gemm_flops", medians, and
"best_fraction_of_gemm_flops": 3 GEMMs per layer counted, forward, dW and dX).
"""
import sys
import time

import numpy as np
import pytest

from autograde import REFERENCE_DIR

sys.path.insert(0, str(REFERENCE_DIR))
import nn  # noqa: E402  (the reference solution, imported the way a submission's modules are)
import run_q2  # noqa: E402
from util import linear_deriv  # noqa: E402

torch = pytest.importorskip("torch", reason="the PyTorch rows need torch: pip install -e '.[bench]'")
threadpoolctl = pytest.importorskip("threadpoolctl", reason="the numpy rows need threadpoolctl: pip install -e '.[bench]'")
D, H, C = 1024, 64, 36
GEMM_SIDE = 2048   # the big float64 matmul whose FLOP/s the step is measured against, in the same process
EPOCH_ROWS = 5868  # nist36-lite's training rows: what Q3 trains on in a grading


@pytest.fixture
def one_blas_thread():
    """numpy's BLAS at one thread for the test, as in a grading's child and worker."""
    with threadpoolctl.threadpool_limits(limits=1, user_api="blas"):
        yield


def step_flops(batch):
    """FLOPs of forward + backward over `batch` rows: per layer the forward GEMM, dW and dX (2·B·in·out each)."""
    return sum(3 * 2 * batch * n_in * n_out for n_in, n_out in ((D, H), (H, C)))


def gemm_flop_rates(side=GEMM_SIDE, repeats=9):
    """FLOP/s of this process's BLAS on a side x side float64 matmul: (median, best) of `repeats`."""
    a, b = np.random.default_rng(0).standard_normal((2, side, side))
    a @ b  # warm the BLAS threads up
    times = [_timed(lambda: a @ b) for _ in range(repeats)]
    return 2 * side ** 3 / float(np.median(times)), 2 * side ** 3 / min(times)


def report_fraction(benchmark, flops, label):
    """Issue 26's P1: the FLOP rate of `flops` per round as a fraction of the big GEMM's in this
    process, like for like (median round against median GEMM, best against best: this machine's
    speed drifts by 20-30 % within a minute, so a median against a best would mix two speeds)."""
    median_rate, best_rate = gemm_flop_rates()
    stats = benchmark.stats.stats
    benchmark.extra_info["fraction_of_gemm_flops"] = round(flops / stats.median / median_rate, 3)
    benchmark.extra_info["best_fraction_of_gemm_flops"] = round(flops / stats.min / best_rate, 3)
    print(f"\n{label}: {benchmark.extra_info['fraction_of_gemm_flops']:.2f} of a {GEMM_SIDE}² float64 matmul's FLOP/s "
          f"(medians; {benchmark.extra_info['best_fraction_of_gemm_flops']:.2f} best against best)")


def _timed(function):
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def _data(batch, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 1, (batch, D))
    y = np.eye(C)[rng.integers(0, C, batch)]
    return x, y


@pytest.mark.parametrize("batch", [32, 256])
def test_numpy_forward_backward(benchmark, batch, one_blas_thread):
    x, y = _data(batch)
    params = {}
    nn.initialize_weights(D, H, params, "layer1")
    nn.initialize_weights(H, C, params, "output")

    def step():
        hidden = nn.forward(x, params, "layer1", nn.sigmoid)
        probs = nn.forward(hidden, params, "output", nn.softmax)
        delta = nn.backwards(probs - y, params, "output", linear_deriv)
        return nn.backwards(delta, params, "layer1", nn.sigmoid_deriv)

    benchmark.group = f"forward+backward, batch {batch}"
    benchmark.extra_info["impl"] = "numpy float64"
    benchmark(step)
    report_fraction(benchmark, step_flops(batch), f"numpy forward+backward, batch {batch}")


def test_numpy_training_epoch(benchmark, one_blas_thread):
    """Issue 26's P1: one epoch of the reference's run_q2.train on 5,868 random rows (1024-64-36,
    batch 32, float64: the shuffled batches, forward, loss, backward with dX, SGD update), as a
    fraction of the big GEMM's FLOP/s."""
    x, y = _data(EPOCH_ROWS)
    params = {}
    nn.initialize_weights(D, H, params, "layer1")
    nn.initialize_weights(H, C, params, "output")
    benchmark.group = "training epoch, batch 32"
    benchmark.extra_info["impl"] = "numpy float64, run_q2.train"
    benchmark.pedantic(run_q2.train, args=(x, y, params), rounds=9, warmup_rounds=1,
                       kwargs=dict(epochs=1, batch_size=32, learning_rate=1e-3))
    report_fraction(benchmark, step_flops(EPOCH_ROWS), "numpy training epoch, batch 32")


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("batch", [32, 256])
def test_torch_forward_backward(benchmark, batch, dtype):
    x, y = _data(batch)
    dt = getattr(torch, dtype)
    xt = torch.tensor(x, dtype=dt, requires_grad=True)
    labels = torch.tensor(y.argmax(1))
    layer1 = torch.nn.Linear(D, H).to(dt)
    output = torch.nn.Linear(H, C).to(dt)

    def step():
        for p in (xt, *layer1.parameters(), *output.parameters()):
            p.grad = None
        logits = output(torch.sigmoid(layer1(xt)))
        torch.nn.functional.cross_entropy(logits, labels, reduction="sum").backward()
        return xt.grad

    benchmark.group = f"forward+backward, batch {batch}"
    benchmark.extra_info["impl"] = f"torch {dtype}"
    benchmark(step)
