"""Q7's data: MNIST, EMNIST Balanced and flowers17 through the loaders users with a network use
(torchvision, the VGG archive), on small files in the real formats built here from ../shared/data;
and the -lite sets the grader uses where the real ones cannot be had."""
import importlib.util
import io
import tarfile

import numpy as np
import pytest
import scipy.io

from hw5data import emnist, flowers17, mnist
from hw5data.nist36_lite import read_idx
from hw5data.paths import shared_data_dir

SHARED = shared_data_dir()
needs = {name: pytest.mark.skipif(not (SHARED / path).exists(), reason=f"{SHARED / path} is absent (set HW5_SHARED_DATA)")
         for name, path in {"mnist": "mnist/t10k-images-idx3-ubyte.gz", "emnist": "emnist/emnist-balanced-mapping.txt",
                            "flowers": "flowers17/datasplits.mat"}.items()}
needs_torchvision = pytest.mark.skipif(importlib.util.find_spec("torchvision") is None, reason="torchvision is not installed")


@pytest.fixture(scope="module")
def emnist_lite():
    """emnist-lite from the user's cache (the Q7.1.4 grading uses the same copy)."""
    if not (SHARED / emnist.MAPPING).is_file():
        pytest.skip("no shared data")
    return emnist.cached()


@needs["emnist"]
def test_mapping_is_emnist_balanced_47_classes():
    classes = emnist.mapping()
    assert "".join(classes) == "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabdefghnqrt"


def test_to_emnist_stores_the_glyph_transposed_white_on_black_with_a_margin():
    upright = np.zeros((60, 40))
    upright[:, :8] = 1          # an upright "L": a stroke down the left side ...
    upright[-8:, :] = 1         # ... and one along the bottom
    stored = emnist.to_emnist(upright).astype(float) / 255
    assert stored.shape == (28, 28) and stored.max() == 1.0 and stored[0].max() == stored[-1].max() == 0
    assert stored[:emnist.MARGIN].max() == 0 and stored[:, :emnist.MARGIN].max() == 0
    # Transposed: the upright L's left stroke becomes its top rows, its bottom stroke the right columns.
    assert stored.sum(axis=1).argmax() < 14 and stored.sum(axis=0).argmax() > 14


@needs["emnist"]
def test_emnist_lite_is_balanced_over_47_classes_and_split_by_writer(emnist_lite):
    splits, folder = emnist_lite
    for split, (images, labels) in splits.items():
        counts = np.bincount(labels, minlength=47)
        assert images.dtype == np.uint8 and images.shape[1:] == (28, 28) and len(counts) == 47
        assert counts.min() == counts.max() > 10, f"{split} is not balanced: {counts}"
        assert np.median(images) == 0, "EMNIST is white ink on black"
    assert sorted(p.name for p in folder.iterdir()) == sorted(emnist.file_names("train") + emnist.file_names("test"))


@needs["emnist"]
@needs_torchvision
def test_torchvisions_emnist_loader_reads_the_files_we_write(emnist_lite, tmp_path):
    splits, folder = emnist_lite
    emnist.unpack_for_torchvision(folder, tmp_path)
    loaded = emnist.from_torchvision(tmp_path)
    for split in ("train", "test"):
        assert np.array_equal(loaded[split][0], splits[split][0]) and np.array_equal(loaded[split][1], splits[split][1])


@needs["mnist"]
def test_mnist_lite_splits_the_real_test_set_80_20_per_class():
    splits = mnist.lite()
    (x, y), (tx, ty) = splits["train"], splits["test"]
    assert x.shape == (8000, 28, 28) and tx.shape == (2000, 28, 28) and x.dtype == np.uint8
    assert np.allclose(np.bincount(ty) / np.bincount(np.concatenate([y, ty])), 0.2, atol=0.001)
    assert not set(map(bytes, tx[:200])) & set(map(bytes, x)), "a test image is also a training image"
    assert all(np.array_equal(a, b) for a, b in zip(mnist.lite()["test"], splits["test"], strict=True)), "not reproducible"


@needs["mnist"]
@needs_torchvision
def test_torchvisions_mnist_loader_reads_idx_files_in_its_layout(tmp_path):
    images, labels = read_idx(SHARED / "mnist/t10k-images-idx3-ubyte.gz"), read_idx(SHARED / "mnist/t10k-labels-idx1-ubyte.gz")
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for prefix, (x, y) in {"train": (images[:300], labels[:300]), "t10k": (images[300:400], labels[300:400])}.items():
        emnist.write_idx(raw / f"{prefix}-images-idx3-ubyte.gz", x)
        emnist.write_idx(raw / f"{prefix}-labels-idx1-ubyte.gz", y)
        for name in (f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte"):   # as torchvision unpacks them
            (raw / name).write_bytes(__import__("gzip").decompress((raw / f"{name}.gz").read_bytes()))
    loaded = mnist.from_torchvision(tmp_path)
    assert np.array_equal(loaded["train"][0], images[:300]) and np.array_equal(loaded["test"][1], labels[300:400])


@needs["flowers"]
def test_flowers17_official_split_in_imagefolder_layout():
    from spec_tests.q7 import FLOWER_SIDE
    folder = flowers17.cached(FLOWER_SIDE)   # the copy the Q7.2.1 grading uses
    counts = {split: len(list((folder / split).glob("*/*.jpg"))) for split in ("train", "val", "test")}
    assert counts == {"train": 680, "val": 340, "test": 340}
    assert sorted(p.name for p in (folder / "test").iterdir()) == [flowers17.folder_name(k) for k in range(17)]
    paths, labels = flowers17.labelled_files(folder / "test")
    assert all(p.parent.name == flowers17.folder_name(k) for p, k in zip(paths, labels, strict=True))
    assert np.bincount(labels).tolist() == [20] * 17
    from PIL import Image
    with Image.open(paths[0]) as image:
        assert min(image.size) == FLOWER_SIDE


def test_flowers17_download_fetches_unpacks_and_arranges(tmp_path, monkeypatch):
    """The VGG archive's layout (jpg/image_NNNN.jpg) and split file, served from local files."""
    from PIL import Image
    archive = tmp_path / "17flowers.tgz"
    with tarfile.open(archive, "w:gz") as tar:
        for number in range(1, 1361):
            data = io.BytesIO()
            Image.new("RGB", (12, 10), (number % 256, 0, 0)).save(data, format="JPEG")
            info = tarfile.TarInfo(f"jpg/image_{number:04d}.jpg")
            info.size = len(data.getvalue())
            tar.addfile(info, io.BytesIO(data.getvalue()))
    numbers = np.arange(1, 1361).reshape(17, 80)
    scipy.io.savemat(tmp_path / "splits.mat", {f"{key}1": numbers[:, part].reshape(1, -1).astype(np.uint16) for key, part in
                                               (("trn", slice(0, 40)), ("val", slice(40, 60)), ("tst", slice(60, 80)))})
    monkeypatch.setattr(flowers17, "IMAGES_URL", archive.as_uri())
    monkeypatch.setattr(flowers17, "SPLITS_URL", (tmp_path / "splits.mat").as_uri())
    target = flowers17.download(tmp_path / "flowers")
    assert len(list((target / "train").glob("*/*.jpg"))) == 680
    assert (target / "test" / "16_Pansy" / "image_1361.jpg").exists() is False
    assert (target / "test" / "16_Pansy" / "image_1360.jpg").exists()
    with pytest.raises(flowers17.MissingFlowers, match="expected the 1360 flowers17 images"):
        flowers17.find_images(tmp_path / "flowers" / "test")
