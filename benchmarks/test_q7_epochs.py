"""pytest-benchmark: one training epoch of each Q7 reference model on the CPU, on 2,048 examples of
the data the grader uses (SqueezeNet: its frozen features of 128 flowers, the work its fine-tuning
does once). Compare rows of one run, as ratios; `nox -s benchmark`. torch runs on one thread, as in
a one-core grading container."""
import sys

import numpy as np
import pytest

from autograde import REFERENCE_DIR

torch = pytest.importorskip("torch", reason="Q7 needs torch: pip install -e '.[bench]'")
pytest.importorskip("torchvision", reason="Q7 needs torchvision: pip install -e '.[bench]'")
sys.path.insert(0, str(REFERENCE_DIR))
import q7_emnist  # noqa: E402  (the reference solution, imported the way a submission's modules are)
import q7_flowers  # noqa: E402
import q7_mlp  # noqa: E402
import q7_mnist  # noqa: E402
import q7_nist36_cnn  # noqa: E402

EXAMPLES = 2048


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _examples(module):
    """(x, labels): EXAMPLES inputs in the format the module's train takes, and random labels."""
    rng = np.random.default_rng(0)
    if module in (q7_mlp, q7_nist36_cnn):
        return rng.uniform(0, 1, (EXAMPLES, 1024)), rng.integers(0, 36, EXAMPLES)
    classes = 10 if module is q7_mnist else 47
    return rng.integers(0, 256, (EXAMPLES, 28, 28), dtype=np.uint8), rng.integers(0, classes, EXAMPLES)


@pytest.mark.parametrize("module", [q7_mlp, q7_mnist, q7_nist36_cnn, q7_emnist], ids=lambda m: m.__name__)
def test_one_epoch(benchmark, module, monkeypatch):
    monkeypatch.setattr(module, "EPOCHS", 1)
    x, labels = _examples(module)
    benchmark.pedantic(lambda: module.train(module.build_model(), x, labels), rounds=3, iterations=1)


def test_squeezenet_features_of_128_flowers(benchmark):
    model = q7_flowers.build_finetune(weights=None)
    x = torch.randn(128, 3, q7_flowers.PRETRAINED_SIDE, q7_flowers.PRETRAINED_SIDE)
    with torch.no_grad():
        benchmark.pedantic(lambda: model.features(x), rounds=3, iterations=1)
