"""nist36-lite: a NIST36-format data set built from real handwriting, for machines without NIST36.

Letters A–Z: the real NIST letters of the 2016 homework (nist26_valid.mat and its 2016-10-26
release; rows the second file repeats exactly are dropped). Digits 0–9: the MNIST test set,
made to look like NIST rows (see mnist_to_nist). Every class gets the same number of examples,
split train/valid/test 6:2:1 like the handout's files (10800/3600/1800), reproducibly from a seed.
"""
import gzip
import json

import numpy as np
import scipy.io
from skimage.transform import resize

from hw5data import nist36
from hw5data.paths import cache_dir, shared_data_dir

VERSION = 1                   # bump when the recipe changes: cached copies are then rebuilt
NIST26_FILES = ("nist26/nist26_valid.mat", "nist26/nist26_valid_20161026.mat")
MNIST_IMAGES, MNIST_LABELS = "mnist/t10k-images-idx3-ubyte.gz", "mnist/t10k-labels-idx1-ubyte.gz"
GLYPH_HEIGHT = 24             # NIST letters' ink spans 23.7 of 32 rows on average (nist26, measured)
SPLIT_FRACTIONS = (6, 2, 1)   # train : valid : test


class MissingSourceData(FileNotFoundError):
    """The shared real-data folder lacks a file the builder needs; the message names it."""


def _source(shared, relative):
    path = shared / relative
    if not path.is_file():
        raise MissingSourceData(f"{path} is missing: nist36-lite is built from the real handwriting in "
                                f"the shared data folder (set HW5_SHARED_DATA to where it is)")
    return path


def nist_letters(shared):
    """Distinct real NIST letters. Returns x (N, 1024) stored rows, labels (N,) in 0..25."""
    xs, labels = [], []
    for relative in NIST26_FILES:
        mat = scipy.io.loadmat(_source(shared, relative))
        xs.append(mat["valid_data"].astype(np.float64))
        labels.append(mat["valid_labels"].argmax(axis=1))
    x, y = np.concatenate(xs), np.concatenate(labels)
    _, first = np.unique(x, axis=0, return_index=True)   # the second release repeats some rows exactly
    keep = np.sort(first)
    return x[keep], y[keep]


def read_idx(path):
    """Read a gzip'd idx file (MNIST's format). Returns the uint8 array in its stored shape."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(dims))
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def mnist_to_nist(image):
    """An MNIST digit (28, 28) uint8, white ink on black -> an upright NIST-style (32, 32) float image.

    Dark ink (0) on white (1), the glyph's bounding box scaled to GLYPH_HEIGHT rows (which also
    brings MNIST's 2.8-px strokes to NIST's 3.5 px) and centred, as NIST crops are.
    """
    ink = image.astype(np.float64) / 255.0
    rows, cols = np.nonzero(ink > 0.1)
    glyph = ink[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
    scale = min(GLYPH_HEIGHT / glyph.shape[0], (nist36.SIDE - 4) / glyph.shape[1])
    height, width = (max(1, round(s * scale)) for s in glyph.shape)
    glyph = np.clip(resize(glyph, (height, width), order=1, anti_aliasing=True), 0, 1)
    canvas = np.zeros((nist36.SIDE, nist36.SIDE))
    top, left = (nist36.SIDE - height) // 2, (nist36.SIDE - width) // 2
    canvas[top:top + height, left:left + width] = glyph
    return 1.0 - canvas


def build(shared=None, seed=0):
    """Build nist36-lite. Returns {'train': (x, y), 'valid': ..., 'test': ...} in NIST36's format."""
    shared = shared_data_dir() if shared is None else shared
    rng = np.random.default_rng(seed)
    letters_x, letters_y = nist_letters(shared)
    digit_images = read_idx(_source(shared, MNIST_IMAGES))
    digit_labels = read_idx(_source(shared, MNIST_LABELS))
    per_class = int(np.bincount(letters_y, minlength=26).min())
    rows, labels = [], []
    for cls in range(len(nist36.CLASSES)):
        if cls < 26:
            chosen = rng.permutation(np.flatnonzero(letters_y == cls))[:per_class]
            rows.append(letters_x[chosen])
        else:
            chosen = rng.permutation(np.flatnonzero(digit_labels == cls - 26))[:per_class]
            rows.append(np.stack([nist36.to_row(mnist_to_nist(digit_images[i])) for i in chosen]))
        labels.append(np.full(per_class, cls))
    counts = np.array(SPLIT_FRACTIONS) * per_class // sum(SPLIT_FRACTIONS)
    counts[0] = per_class - counts[1:].sum()
    splits = {}
    for split, start, stop in zip(nist36.SPLITS, np.cumsum([0, *counts[:-1]]), np.cumsum(counts), strict=True):
        x = np.concatenate([r[start:stop] for r in rows])
        y = np.eye(len(nist36.CLASSES))[np.concatenate([lab[start:stop] for lab in labels])]
        order = rng.permutation(len(x))
        splits[split] = (x[order], y[order])
    return splits


def cached(seed=0, shared=None, directory=None):
    """nist36-lite from the cache, built and cached on first use. Returns (splits, folder)."""
    folder = (directory or cache_dir()) / f"nist36-lite-v{VERSION}-seed{seed}"
    try:
        return nist36.load(folder), folder
    except nist36.DataError:
        splits = build(shared, seed)
        nist36.save(folder, splits)
        (folder / "MANIFEST.json").write_text(json.dumps({
            "name": "nist36-lite", "version": VERSION, "seed": seed,
            "sizes": {s: len(x) for s, (x, _) in splits.items()}}, indent=2))
        return splits, folder
