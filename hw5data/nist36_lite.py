"""nist36-lite: a NIST36-format data set built from real handwriting, for machines without NIST36.

Letters A–Z: the real NIST letters of the 2016 homework (nist26_valid.mat and its 2016-10-26
release; rows the second file repeats exactly are dropped), the pen-on-paper capitals of
handwritten_png62 and the Chars74K pen trajectories. Digits 0–9: the pen-on-paper digits of
handwritten_png62, the Chars74K digits and MNIST test digits. Photos, trajectories and MNIST glyphs
are made to look like NIST rows (to_nist_image). Every class gets the same number of examples,
split train/valid/test 6:2:1 like the handout's files, reproducibly from a seed; handwritten_png62
and Chars74K are split by index blocks, since one index (or neighbouring ones) is one writer.
"""
import functools
import gzip
import hashlib
import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
import scipy.io
from skimage.color import rgb2gray
from skimage.draw import line
from skimage.io import imread
from skimage.morphology import dilation, disk, skeletonize
from skimage.transform import resize

from hw5data import nist36
from hw5data.paths import cache_dir, shared_data_dir

VERSION = 3                   # bump when the recipe changes: cached copies are then rebuilt
NIST26_FILES = ("nist26/nist26_valid.mat", "nist26/nist26_valid_20161026.mat")
MNIST_IMAGES, MNIST_LABELS = "mnist/t10k-images-idx3-ubyte.gz", "mnist/t10k-labels-idx1-ubyte.gz"
PEN_FOLDER = "handwritten_png62/PNG"
CHARS74K = "chars74k_strokes/char74k.json"
RENDER_HEIGHT = 96            # px: trajectories are drawn at this height, then scaled like photos
GLYPH_HEIGHT = 24             # NIST letters' ink spans 23.7 of 32 rows on average (nist26, measured)
NIST_STROKE = 3.5             # px at 32x32: NIST strokes' width (ink area / skeleton length, nist26)
MIN_STROKE = 2.75             # px; thinner strokes are thickened
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


def to_nist_image(ink):
    """An ink-intensity image (H, W) in [0, 1], ink = 1 -> an upright NIST-style (32, 32) image.

    Dark ink (0) on white (1); the glyph's bounding box scaled to GLYPH_HEIGHT rows (at most 28
    columns) and centred, as NIST crops are; strokes thinner than MIN_STROKE are thickened.
    """
    rows, cols = np.nonzero(ink > 0.5)
    glyph = ink[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
    scale = min(GLYPH_HEIGHT / glyph.shape[0], (nist36.SIDE - 4) / glyph.shape[1])
    height, width = (max(1, round(s * scale)) for s in glyph.shape)
    glyph = np.clip(resize(glyph, (height, width), order=1, anti_aliasing=True), 0, 1)
    canvas = np.zeros((nist36.SIDE, nist36.SIDE))
    top, left = (nist36.SIDE - height) // 2, (nist36.SIDE - width) // 2
    canvas[top:top + height, left:left + width] = glyph
    for _ in range(2):
        if stroke_width(canvas) >= MIN_STROKE:
            break
        canvas = dilation(canvas, disk(1))
    return 1.0 - canvas


def stroke_width(ink):
    """Mean stroke width in px of an ink image: ink area over skeleton length."""
    mask = ink > 0.5
    return mask.sum() / max(1, skeletonize(mask).sum())


def mnist_to_nist(image):
    """An MNIST digit (28, 28) uint8, white ink on black -> an upright NIST-style (32, 32) image."""
    return to_nist_image(image.astype(np.float64) / 255.0)


def pen_to_nist(rgba):
    """A pen-on-paper crop (H, W, 3 or 4) uint8 -> an upright NIST-style (32, 32) image.

    Ink intensity is measured from the paper's grey (the median pixel) to the darkest ink.
    """
    gray = rgb2gray(rgba[..., :3])
    paper, darkest = np.median(gray), np.percentile(gray, 1)
    return to_nist_image(np.clip((paper - gray) / max(paper - darkest, 1e-3), 0, 1))


def pen_crops(shared, char):
    """Distinct handwritten_png62 crops of one character, in index order, with their index blocks.

    Returns (rows (n, 1024), block (n,) in 0 train, 1 valid, 2 test by position among the 100 files).
    """
    prefix = f"CAP_{char}" if char.isalpha() else f"DIGIT_{char}"
    files = sorted((shared / PEN_FOLDER).glob(f"{prefix}_*.png"), key=lambda p: int(p.stem.rsplit("_", 1)[1]))
    if not files:
        _source(shared, f"{PEN_FOLDER}/{prefix}_1.png")
    bounds = np.cumsum(SPLIT_FRACTIONS) * len(files) / sum(SPLIT_FRACTIONS)
    seen, rows, blocks = set(), [], []
    for rank, path in enumerate(files):
        image = imread(path)
        digest = hashlib.md5(image.tobytes()).hexdigest()
        if digest not in seen:  # some files repeat a neighbour exactly
            seen.add(digest)
            rows.append(nist36.to_row(pen_to_nist(image)))
            blocks.append(int(np.searchsorted(bounds, rank, side="right")))
    return np.array(rows), np.array(blocks)


def render_strokes(strokes):
    """Pen trajectories (a list of strokes, each a list of [x, y] points, y down) -> an ink image
    (H, W) in {0, 1}, RENDER_HEIGHT rows for the glyph's height, strokes as wide as NIST's."""
    points = np.concatenate([np.asarray(s, dtype=np.float64).reshape(-1, 2) for s in strokes])
    low, high = points.min(axis=0), points.max(axis=0)
    # By height; a flat glyph (a dash) by a third of its width, so the canvas stays small.
    scale = (RENDER_HEIGHT - 1) / max(high[1] - low[1], (high[0] - low[0]) / 3, 1.0)
    radius = max(1, round(NIST_STROKE / GLYPH_HEIGHT * RENDER_HEIGHT / 2))
    width, height = (np.ceil((high - low) * scale).astype(int) + 1 + 2 * radius)
    ink = np.zeros((height, width))
    for stroke in strokes:
        xy = np.round((np.asarray(stroke, dtype=np.float64).reshape(-1, 2) - low) * scale).astype(int) + radius
        ink[xy[:, 1], xy[:, 0]] = 1   # single-point strokes (dots) too
        for (x0, y0), (x1, y1) in zip(xy[:-1], xy[1:], strict=True):
            ink[line(y0, x0, y1, x1)] = 1
    return dilation(ink, disk(radius))


def stroke_crops(shared, char, forms=None):
    """The Chars74K letterforms of one character as NIST rows, with their index blocks.

    Returns (rows (n, 1024), block (n,) in 0 train, 1 valid, 2 test by position among the forms).
    """
    forms = json.loads(_source(shared, CHARS74K).read_text())[char] if forms is None else forms
    forms = [f for f in forms if any(len(s) for s in f)]
    bounds = np.cumsum(SPLIT_FRACTIONS) * len(forms) / sum(SPLIT_FRACTIONS)
    rows = [nist36.to_row(to_nist_image(render_strokes([s for s in f if len(s)]))) for f in forms]
    blocks = [int(np.searchsorted(bounds, rank, side="right")) for rank in range(len(forms))]
    return np.array(rows).reshape(-1, nist36.SIDE ** 2), np.array(blocks, dtype=int)


@functools.lru_cache(maxsize=1)
def _sources(shared):
    """The rows every seed draws from, read from the shared folder once per process (most of a
    build's time): NIST letters (N, 1024) and labels, MNIST images and labels, and per character the
    pen rows with their writer blocks. Read-only: build() copies what it takes."""
    letters_x, letters_y = nist_letters(shared)
    digit_images = read_idx(_source(shared, MNIST_IMAGES))
    digit_labels = read_idx(_source(shared, MNIST_LABELS))
    trajectories = json.loads(_source(shared, CHARS74K).read_text())
    pen = {}
    for char in nist36.CLASSES:  # the writer-split sources: a photo of paper, a tablet's strokes
        (photo_rows, photo_blocks), (stroke_rows, stroke_blocks) = pen_crops(shared, char), stroke_crops(shared, char, trajectories[char])
        pen[char] = np.concatenate([photo_rows, stroke_rows]), np.concatenate([photo_blocks, stroke_blocks])
    for array in (letters_x, letters_y, digit_images, digit_labels, *(a for pair in pen.values() for a in pair)):
        array.flags.writeable = False
    return letters_x, letters_y, digit_images, digit_labels, pen


def build(shared=None, seed=0):
    """Build nist36-lite. Returns {'train': (x, y), 'valid': ..., 'test': ...} in NIST36's format."""
    shared = shared_data_dir() if shared is None else shared
    rng = np.random.default_rng(seed)
    letters_x, letters_y, digit_images, digit_labels, pen = _sources(Path(shared))
    # Other sources per class, in a random order: NIST letters (all of them) or MNIST digits.
    pools = [rng.permutation(np.flatnonzero(letters_y == cls)) if cls < 26 else
             rng.permutation(np.flatnonzero(digit_labels == cls - 26)) for cls in range(len(nist36.CLASSES))]
    per_class = min(len(pools[cls]) + len(pen[char][0]) for cls, char in enumerate(nist36.CLASSES))
    quota = np.array(SPLIT_FRACTIONS) * per_class // sum(SPLIT_FRACTIONS)
    quota[0] = per_class - quota[1:].sum()
    parts = {split: ([], []) for split in nist36.SPLITS}
    for cls, char in enumerate(nist36.CLASSES):
        pen_rows, pen_blocks = pen[char]
        pool = iter(pools[cls])
        for block, split in enumerate(nist36.SPLITS):
            mine = pen_rows[pen_blocks == block][:quota[block]]
            fill = [next(pool) for _ in range(quota[block] - len(mine))]
            other = letters_x[fill] if cls < 26 else np.array(
                [nist36.to_row(mnist_to_nist(digit_images[i])) for i in fill]).reshape(-1, nist36.SIDE ** 2)
            parts[split][0].append(np.concatenate([mine, other]))
            parts[split][1].append(np.full(quota[block], cls))
    splits = {}
    for split, (xs, labels) in parts.items():
        x, y = np.concatenate(xs), np.eye(len(nist36.CLASSES))[np.concatenate(labels)]
        order = rng.permutation(len(x))
        splits[split] = (x[order], y[order])
    return splits


def cached(seed=0, shared=None, directory=None):
    """nist36-lite from the cache, built and cached on first use. Returns (splits, folder).

    The build is written to a scratch folder and renamed into place, so processes that build at
    the same time never read each other's half-written files.
    """
    root = directory or cache_dir()
    folder = root / f"nist36-lite-v{VERSION}-seed{seed}"
    try:
        return nist36.load(folder), folder
    except nist36.DataError:
        pass
    splits = build(shared, seed)
    root.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=folder.name + ".", dir=root))
    nist36.save(scratch, splits)
    (scratch / "MANIFEST.json").write_text(json.dumps({
        "name": "nist36-lite", "version": VERSION, "seed": seed,
        "sizes": {s: len(x) for s, (x, _) in splits.items()}}, indent=2))
    try:
        scratch.rename(folder)
    except OSError:  # another process got there first (keep its copy), or a damaged copy is there
        try:
            nist36.load(folder)
        except nist36.DataError:
            shutil.rmtree(folder, ignore_errors=True)
            scratch.rename(folder)
        else:
            shutil.rmtree(scratch, ignore_errors=True)
    return splits, folder
