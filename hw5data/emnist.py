"""EMNIST Balanced for Q7.1.4: torchvision's download for users with a network, else emnist-lite,
a 47-class set in EMNIST's own format built from the real handwriting in the shared data folder.

EMNIST's format: 28x28 uint8, white ink on black, the glyph's bounding box centred in a square with
a 2-pixel margin, stored TRANSPOSED (torchvision's .data shows letters on their side); labels 0..46
by emnist-balanced-mapping.txt ("label ascii" per line: 0-9, A-Z, then a b d e f g h n q r t).
Merged classes (c i j k l m o p s u v w x y z) take both cases under the capital's label.

emnist-lite: the pen-on-paper crops of handwritten_png62 and the Chars74K pen trajectories, split
80:20 by index block (one block is one writer), capped at the same count per class (balanced), and
written as the files EMNIST's gzip.zip holds (emnist-balanced-{train,test}-{images-idx3,labels-idx1}
-ubyte.gz), so the real loaders read it.
"""
import gzip
import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
from skimage.filters import gaussian
from skimage.io import imread
from skimage.transform import resize

from hw5data.nist36_lite import CHARS74K, PEN_FOLDER, _source, read_idx, render_strokes
from hw5data.paths import cache_dir, shared_data_dir

VERSION = 1
MAPPING = "emnist/emnist-balanced-mapping.txt"
SIDE, MARGIN = 28, 2
TRAIN_FRACTION = 0.8
REAL, LITE = "EMNIST Balanced", "emnist-lite"


def mapping(shared=None):
    """The 47 classes' characters, by label: ['0', ..., '9', 'A', ..., 'Z', 'a', 'b', ...]."""
    shared = shared_data_dir() if shared is None else shared
    rows = [line.split() for line in _source(shared, MAPPING).read_text().splitlines() if line.strip()]
    return [chr(int(code)) for _, code in sorted((int(label), code) for label, code in rows)]


def to_emnist(ink):
    """An ink image (H, W) in [0, 1], ink = 1 -> EMNIST's stored (28, 28) uint8 (transposed)."""
    ink = gaussian(ink, sigma=1)
    rows, cols = np.nonzero(ink > 0.1)
    glyph = ink[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
    side = max(glyph.shape)
    square = np.zeros((side, side))
    top, left = (side - glyph.shape[0]) // 2, (side - glyph.shape[1]) // 2
    square[top:top + glyph.shape[0], left:left + glyph.shape[1]] = glyph
    inner = SIDE - 2 * MARGIN
    canvas = np.zeros((SIDE, SIDE))
    canvas[MARGIN:MARGIN + inner, MARGIN:MARGIN + inner] = resize(square, (inner, inner), order=3, anti_aliasing=True)
    canvas = canvas / max(canvas.max(), 1e-6)
    return np.round(np.clip(canvas, 0, 1) * 255).astype(np.uint8).T


def _pen_ink(path):
    rgb = imread(path)[..., :3].astype(np.float64).mean(axis=2) / 255
    paper, darkest = np.median(rgb), np.percentile(rgb, 1)
    return np.clip((paper - rgb) / max(paper - darkest, 1e-3), 0, 1)


def _sources(shared, char, trajectories):
    """(images (n, 28, 28) uint8 EMNIST-format, is_test (n,) bool) for one character, both sources."""
    images, is_test = [], []
    prefix = {True: "CAP_", False: "SMALL_"}[char.isupper()] if char.isalpha() else "DIGIT_"
    files = sorted((shared / PEN_FOLDER).glob(f"{prefix}{char}_*.png"), key=lambda p: int(p.stem.rsplit("_", 1)[1]))
    seen = set()
    for rank, path in enumerate(files):
        image = to_emnist(_pen_ink(path))
        if image.tobytes() not in seen:    # some files repeat a neighbour exactly
            seen.add(image.tobytes())
            images.append(image)
            is_test.append(rank >= TRAIN_FRACTION * len(files))
    forms = [f for f in trajectories[char] if any(len(s) for s in f)]
    for rank, form in enumerate(forms):
        images.append(to_emnist(render_strokes([s for s in form if len(s)])))
        is_test.append(rank >= TRAIN_FRACTION * len(forms))
    return np.array(images), np.array(is_test)


def build(shared=None, seed=0):
    """Build emnist-lite. Returns {'train': (images (N, 28, 28) uint8, labels (N,)), 'test': ...}."""
    shared = shared_data_dir() if shared is None else shared
    rng = np.random.default_rng(seed)
    classes = mapping(shared)
    trajectories = json.loads(_source(shared, CHARS74K).read_text())
    per_label = {}
    for label, char in enumerate(classes):
        cases = {char, char.lower()} if char.isupper() and char.lower() not in classes else {char}
        parts = [_sources(shared, c, trajectories) for c in sorted(cases)]
        per_label[label] = np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
    quota = {split: min(int((t == (split == "test")).sum()) for _, t in per_label.values()) for split in ("train", "test")}
    splits = {}
    for split, wanted in quota.items():
        xs, ys = [], []
        for label, (images, is_test) in per_label.items():
            members = np.flatnonzero(is_test == (split == "test"))
            xs.append(images[rng.permutation(members)[:wanted]])
            ys.append(np.full(wanted, label, dtype=np.int64))
        order = rng.permutation(sum(map(len, ys)))
        splits[split] = np.concatenate(xs)[order], np.concatenate(ys)[order]
    return splits


def file_names(split):
    """The gzip'd idx files of one split, as EMNIST's gzip.zip names them: (images, labels)."""
    return f"emnist-balanced-{split}-images-idx3-ubyte.gz", f"emnist-balanced-{split}-labels-idx1-ubyte.gz"


def write_idx(path, array):
    """Write a uint8 array as a gzip'd idx file (MNIST/EMNIST's format: magic 0x0800 | ndim, big-endian sizes)."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, 8, array.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    with gzip.open(path, "wb", compresslevel=6) as f:
        f.write(header + array.tobytes())


def save(folder, splits):
    """Write {'train': (images, labels), 'test': ...} as EMNIST's gzip files in folder."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for split, (images, labels) in splits.items():
        images_name, labels_name = file_names(split)
        write_idx(folder / images_name, images)
        write_idx(folder / labels_name, labels.astype(np.uint8))


def load(folder):
    """Read EMNIST Balanced from a folder of its gzip files (EMNIST's gzip.zip, unpacked)."""
    splits = {}
    for split in ("train", "test"):
        images_name, labels_name = (Path(folder) / n for n in file_names(split))
        splits[split] = read_idx(images_name), read_idx(labels_name).astype(np.int64)
    return splits


def cached(seed=0, shared=None, directory=None):
    """emnist-lite from the cache, built and cached on first use. Returns (splits, folder)."""
    root = directory or cache_dir()
    folder = root / f"emnist-lite-v{VERSION}-seed{seed}"
    try:
        return load(folder), folder
    except (OSError, EOFError, ValueError):
        pass
    splits = build(shared, seed)
    root.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=folder.name + ".", dir=root))
    save(scratch, splits)
    try:
        scratch.rename(folder)
    except OSError:  # another process got there first (keep its copy), or a damaged copy is there
        try:
            load(folder)
        except (OSError, EOFError, ValueError):
            shutil.rmtree(folder, ignore_errors=True)
            scratch.rename(folder)
        else:
            shutil.rmtree(scratch, ignore_errors=True)
    return splits, folder


def from_torchvision(root, download=False):
    """EMNIST Balanced through torchvision.datasets.EMNIST(root, split='balanced'). Returns the splits
    as load() does (images as stored: transposed)."""
    from torchvision.datasets import EMNIST
    splits = {}
    for split in ("train", "test"):
        data = EMNIST(root, split="balanced", train=split == "train", download=download)
        splits[split] = data.data.numpy(), data.targets.numpy().astype(np.int64)
    return splits


def unpack_for_torchvision(gzip_folder, root):
    """Put EMNIST Balanced gzip files where torchvision.datasets.EMNIST(root) reads them
    (root/EMNIST/raw/, unzipped, as its own download leaves them). Returns that folder."""
    raw = Path(root) / "EMNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for split in ("train", "test"):
        for name in file_names(split):
            with gzip.open(Path(gzip_folder) / name) as source, open(raw / name.removesuffix(".gz"), "wb") as out:
                shutil.copyfileobj(source, out)
    return raw


def emnist_data(seed=0):
    """(splits, name): the official EMNIST Balanced when $HW5_TORCHVISION_ROOT holds torchvision's
    copy, else emnist-lite."""
    from hw5data.mnist import torchvision_root
    root = torchvision_root()
    if root is not None and (root / "EMNIST" / "raw" / "emnist-balanced-train-images-idx3-ubyte").is_file():
        return from_torchvision(root), REAL
    return cached(seed=seed)[0], LITE
