"""The reference's Q7.1.4 training beyond the handout's recipe: q7_emnist.random_affine, the
augmentation train() applies to each batch (docs/reading.md), and train(augment=False), the
handout's plain training that benchmarks/q7_threshold.py calibrates the bars on."""
import importlib
import sys

import numpy as np
import pytest

from autograde import REFERENCE_DIR

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def q7_emnist():
    sys.path.insert(0, str(REFERENCE_DIR))
    try:
        yield importlib.import_module("q7_emnist")
    finally:
        sys.path.remove(str(REFERENCE_DIR))


def _bar():
    """(1, 1, 28, 28): a vertical bar 2 px wide, 16 px long, through the centre."""
    image = torch.zeros(1, 1, 28, 28)
    image[0, 0, 6:22, 13:15] = 1.0
    return image


def test_random_affine_with_no_movement_keeps_the_images(q7_emnist):
    batch = torch.rand(4, 1, 28, 28)
    assert torch.allclose(q7_emnist.random_affine(batch, (0.0, 0.0, 0.0, 0.0)), batch, atol=1e-5)


def test_random_affine_moves_each_image_on_its_own_within_its_limits(q7_emnist):
    """Each image of a batch of one bar is moved differently; the bar keeps about its ink and its
    centre stays within the shift (2 px) plus what a 10% scaling moves it; the same torch seed
    gives the same batch."""
    batch = _bar().repeat(64, 1, 1, 1)
    torch.manual_seed(1)
    moved = q7_emnist.random_affine(batch)
    torch.manual_seed(1)
    assert torch.equal(moved, q7_emnist.random_affine(batch))
    assert moved.shape == batch.shape and moved.dtype == batch.dtype
    assert len({tuple(image.flatten().round(decimals=3).tolist()) for image in moved}) == 64
    ink = moved.sum(dim=(1, 2, 3))
    assert ((ink > 0.75 * 32) & (ink < 1.25 * 32)).all(), ink
    y, x = torch.meshgrid(torch.arange(28.0), torch.arange(28.0), indexing="ij")
    centre_x, centre_y = ((moved[:, 0] * grid).sum(dim=(1, 2)) / ink for grid in (x, y))
    assert ((centre_x - 13.5).abs() <= 2.5).all() and ((centre_y - 13.5).abs() <= 2.5).all()
    assert (centre_x - 13.5).abs().max() > 1.0   # shifted, not only turned


def test_train_augments_unless_told_not_to(q7_emnist, monkeypatch):
    """train() hands random_affine to the training loop; train(augment=False) hands it nothing."""
    seen = []
    monkeypatch.setattr(q7_emnist, "train_classifier", lambda *args, augment=None, **kwargs: seen.append(augment))
    x, labels = np.zeros((2, 28, 28), dtype=np.uint8), np.array([0, 1])
    q7_emnist.train(None, x, labels)
    q7_emnist.train(None, x, labels, augment=False)
    assert seen == [q7_emnist.random_affine, None]
