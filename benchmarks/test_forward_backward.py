"""pytest-benchmark: one forward + backward pass of the Q3 network (1024-64-36, sigmoid/softmax).

The reference numpy code (solution/nn.py) beside the same computation in PyTorch on the CPU,
at the batch sizes of Q3 training (32) and of a full-speed epoch (256). Run with `nox -s benchmark`
(installs torch); compare rows of one run, as ratios: absolute times depend on the machine.
"""
import sys

import numpy as np
import pytest

from autograde import REFERENCE_DIR

sys.path.insert(0, str(REFERENCE_DIR))
import nn  # noqa: E402  (the reference solution, imported the way a submission's modules are)
from util import linear_deriv  # noqa: E402

torch = pytest.importorskip("torch", reason="the PyTorch rows need torch: pip install -e '.[bench]'")
D, H, C = 1024, 64, 36


def _data(batch, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 1, (batch, D))
    y = np.eye(C)[rng.integers(0, C, batch)]
    return x, y


@pytest.mark.parametrize("batch", [32, 256])
def test_numpy_forward_backward(benchmark, batch):
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
