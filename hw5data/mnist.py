"""MNIST for Q7.1.2: torchvision's download for users with a network, else a split of the real
10k test set in the shared data folder (MNIST's training images cannot be had here).

Both give {'train': (images (N, 28, 28) uint8, white ink on black, labels (N,) int64), 'test': ...}.
"""
import os
from pathlib import Path

import numpy as np

from hw5data.nist36_lite import MNIST_IMAGES, MNIST_LABELS, _source, read_idx
from hw5data.paths import shared_data_dir

TORCHVISION_ROOT_ENV = "HW5_TORCHVISION_ROOT"   # where torchvision keeps MNIST/ and EMNIST/ (download=True)
LITE_TEST_FRACTION = 0.2                        # of the 10k test set, held out from training
REAL, LITE = "MNIST", "mnist-lite"


def torchvision_root():
    """$HW5_TORCHVISION_ROOT as a Path, or None."""
    chosen = os.environ.get(TORCHVISION_ROOT_ENV)
    return Path(chosen).expanduser() if chosen else None


def from_torchvision(root, download=False):
    """The official 60k/10k MNIST through torchvision.datasets.MNIST(root, download=download)."""
    from torchvision.datasets import MNIST
    splits = {}
    for split in ("train", "test"):
        data = MNIST(root, train=split == "train", download=download)
        splits[split] = data.data.numpy(), data.targets.numpy().astype(np.int64)
    return splits


def lite(shared=None, seed=0):
    """The real MNIST test set, split 80:20 at random (per class, reproducibly from seed)."""
    shared = shared_data_dir() if shared is None else shared
    images, labels = read_idx(_source(shared, MNIST_IMAGES)), read_idx(_source(shared, MNIST_LABELS)).astype(np.int64)
    rng = np.random.default_rng(seed)
    test = np.zeros(len(labels), dtype=bool)
    for digit in range(10):
        members = rng.permutation(np.flatnonzero(labels == digit))
        test[members[:round(len(members) * LITE_TEST_FRACTION)]] = True
    return {"train": (images[~test], labels[~test]), "test": (images[test], labels[test])}


def mnist_data(seed=0):
    """(splits, name): the official MNIST when $HW5_TORCHVISION_ROOT holds torchvision's copy, else mnist-lite."""
    root = torchvision_root()
    if root is not None and (root / "MNIST" / "raw" / "train-images-idx3-ubyte").is_file():
        return from_torchvision(root), REAL
    return lite(seed=seed), LITE
