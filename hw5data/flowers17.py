"""Oxford 17 Category Flowers for Q7.2.1, in the ImageFolder layout torchvision reads:
<target>/{train,val,test}/<NN_name>/image_NNNN.jpg, from the official split file datasplits.mat
(trn1/val1/tst1: 680/340/340 images; image n is class (n-1)//80).

Users with a network: download(target) fetches the archive and split file from the VGG site (the
handout's scripts/get_flowers.sh). Here: the 1360 images in the shared data folder.
"""
import tarfile
import tempfile
from pathlib import Path

import numpy as np
import scipy.io
from PIL import Image

from hw5data.download import fetch
from hw5data.paths import cache_dir, shared_data_dir

IMAGES_URL = "https://www.robots.ox.ac.uk/~vgg/data/flowers/17/17flowers.tgz"
SPLITS_URL = "https://www.robots.ox.ac.uk/~vgg/data/flowers/17/datasplits.mat"
CLASSES = ("Daffodil", "Snowdrop", "LilyValley", "Bluebell", "Crocus", "Iris", "Tigerlily", "Tulip", "Fritillary",
           "Sunflower", "Daisy", "ColtsFoot", "Dandelion", "Cowslip", "Buttercup", "Windflower", "Pansy")
PER_CLASS = 80
SPLIT_KEYS = {"train": "trn", "val": "val", "test": "tst"}
VERSION = 1


class MissingFlowers(FileNotFoundError):
    """The flowers17 images or split file are not where they were looked for; the message says where."""


def folder_name(label):
    """ImageFolder's class folder for a label: '00_Daffodil' ... '16_Pansy' (sorted = label order)."""
    return f"{label:02d}_{CLASSES[label]}"


def label_of(number):
    """The class of image_NNNN.jpg (1-based NNNN)."""
    return (number - 1) // PER_CLASS


def find_images(source):
    """{image number: path} for every image_NNNN.jpg under source (any layout: the archive's flat
    jpg/ folder, or one folder per class as in the shared data)."""
    found = {int(p.stem.split("_")[1]): p for p in Path(source).rglob("image_*.jpg")}
    if len(found) != len(CLASSES) * PER_CLASS:
        raise MissingFlowers(f"{source}: expected the {len(CLASSES) * PER_CLASS} flowers17 images image_0001.jpg "
                             f"... image_1360.jpg, found {len(found)}")
    return found


def split_numbers(splits_file, split=1):
    """{'train': image numbers, 'val': ..., 'test': ...} of official split 1, 2 or 3."""
    try:
        mat = scipy.io.loadmat(splits_file)
    except (OSError, ValueError) as exc:
        raise MissingFlowers(f"{splits_file}: cannot read the flowers17 split file: {exc}") from exc
    return {name: sorted(int(n) for n in mat[f"{key}{split}"].ravel()) for name, key in SPLIT_KEYS.items()}


def arrange(source, splits_file, target, split=1, short_side=None):
    """Write the ImageFolder layout of one official split under target (resized so the shorter side
    is short_side px, when given). Returns target."""
    images, target = find_images(source), Path(target)
    for name, numbers in split_numbers(splits_file, split).items():
        for number in numbers:
            out = target / name / folder_name(label_of(number)) / images[number].name
            out.parent.mkdir(parents=True, exist_ok=True)
            with Image.open(images[number]) as image:
                image = image.convert("RGB")
                if short_side is not None:
                    scale = short_side / min(image.size)
                    image = image.resize((round(image.width * scale), round(image.height * scale)), Image.BILINEAR)
                image.save(out, quality=90)
    return target


def download(target, split=1):
    """Fetch the flowers17 archive and split file, and arrange them under target. Returns target."""
    target = Path(target)
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target) as scratch:
        archive = fetch(IMAGES_URL, Path(scratch) / "17flowers.tgz")
        splits = fetch(SPLITS_URL, target / "datasplits.mat")
        with tarfile.open(archive) as tar:
            tar.extractall(scratch, filter="data")
        return arrange(scratch, splits, target, split)


def cached(short_side, split=1, shared=None, directory=None):
    """The shared flowers17 images arranged for one split, resized, cached. Returns the folder."""
    shared = (shared_data_dir() if shared is None else Path(shared)) / "flowers17"
    root = directory or cache_dir()
    folder = root / f"flowers17-v{VERSION}-split{split}-{short_side}px"
    if (folder / "test").is_dir():
        return folder
    if not (shared / "datasplits.mat").is_file():
        raise MissingFlowers(f"{shared / 'datasplits.mat'} is missing (set HW5_SHARED_DATA to the shared data folder)")
    root.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=folder.name + ".", dir=root))
    arrange(shared, shared / "datasplits.mat", scratch, split, short_side)
    try:
        scratch.rename(folder)
    except OSError:  # another process got there first
        pass
    return folder


def labelled_files(folder):
    """(paths, labels (N,) int) of the images of an arranged split folder, e.g. <target>/test."""
    paths = sorted(Path(folder).glob("*/image_*.jpg"))
    return paths, np.array([label_of(int(p.stem.split("_")[1])) for p in paths])
