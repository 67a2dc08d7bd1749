"""hw5data: NIST36-format files, and nist36-lite built from the real handwriting in ../shared/data."""
import numpy as np
import pytest

from hw5data import nist36, nist36_lite
from hw5data.paths import shared_data_dir

needs_shared = pytest.mark.skipif(
    not (shared_data_dir() / "nist26" / "nist26_valid.mat").is_file(),
    reason=f"the real handwriting is not in {shared_data_dir()} (set HW5_SHARED_DATA)")


@pytest.fixture(scope="module")
def lite_cache(tmp_path_factory):
    """A cache folder holding nist36-lite for seed 0, built once for this module."""
    folder = tmp_path_factory.mktemp("cache")
    if (shared_data_dir() / "nist26" / "nist26_valid.mat").is_file():
        nist36_lite.cached(seed=0, directory=folder)
    return folder


@pytest.fixture(scope="module")
def lite(lite_cache):
    return nist36_lite.cached(seed=0, directory=lite_cache)[0]


def _extent(images):
    """Mean (rows, cols) spanned by ink in upright images."""
    spans = []
    for image in images:
        rows, cols = np.nonzero(image < 0.5)
        spans.append((np.ptp(rows) + 1, np.ptp(cols) + 1))
    return np.mean(spans, axis=0)


@needs_shared
def test_lite_has_the_real_files_shapes_and_a_balanced_6_2_1_split(lite):
    sizes = {split: len(x) for split, (x, _) in lite.items()}
    assert list(lite) == ["train", "valid", "test"]
    for split, (x, y) in lite.items():
        assert x.shape == (len(x), 1024) and x.dtype == np.float64 and y.shape == (len(x), 36)
        assert np.array_equal(y.sum(axis=1), np.ones(len(x))), "labels are one-hot"
        per_class = y.sum(axis=0)
        assert per_class.min() == per_class.max(), f"{split} is not balanced: {per_class}"
    assert sizes["train"] / sizes["test"] == pytest.approx(6, rel=0.1) and sizes["valid"] / sizes["test"] == pytest.approx(2, rel=0.1)


@needs_shared
def test_lite_values_and_polarity_match_nist(lite):
    x, _ = lite["train"]
    assert -0.2 <= x.min() and x.max() <= 1.2, "NIST rows lie in about [-0.14, 1.12]"
    assert np.median(x) == pytest.approx(1.0, abs=0.02), "background ≈ 1"
    assert 0.08 < np.mean(x < 0.5) < 0.3, "ink (≈ 0) is a minority of pixels, as in NIST (17%)"


def _ink_by_third(images, axis):
    """Mean ink in the first and last third of upright images along axis (0 rows, 1 columns)."""
    ink = np.mean([image < 0.5 for image in images], axis=0).sum(axis=1 - axis)
    return ink[:10].sum(), ink[-10:].sum()


@needs_shared
def test_lite_rows_store_the_transposed_image_like_nist(lite):
    """Upright (to_image): an 'L' is heavy left and bottom, a '7' heavy at the top, a '1' tall."""
    x, y = lite["train"]

    def upright(char):
        return [nist36.to_image(r) for r in x[y.argmax(1) == nist36.CLASSES.index(char)]]

    left, right = _ink_by_third(upright("L"), axis=1)
    top, bottom = _ink_by_third(upright("L"), axis=0)
    assert left > right and bottom > top, "the real NIST letters: rows are the flattened transpose"
    top, bottom = _ink_by_third(upright("7"), axis=0)
    assert top > bottom, "a converted MNIST '7' must be stored transposed like the letters"
    height, width = _extent(upright("1"))
    assert height > 1.5 * width


@needs_shared
def test_lite_digits_are_sized_like_nist_letters(lite):
    x, y = lite["train"]
    digits = [nist36.to_image(r) for r in x[y.argmax(1) >= 26]]
    assert _extent(digits)[0] == pytest.approx(nist36_lite.GLYPH_HEIGHT, abs=1.5)


@needs_shared
def test_lite_is_reproducible_from_its_seed_and_splits_do_not_overlap(lite):
    again, other = nist36_lite.build(seed=0), nist36_lite.build(seed=1)
    assert all(np.array_equal(lite[s][0], again[s][0]) for s in nist36.SPLITS)
    assert not np.array_equal(lite["train"][0], other["train"][0])
    rows = {split: {r.tobytes() for r in x} for split, (x, _) in lite.items()}
    assert not (rows["train"] & rows["valid"]) and not (rows["train"] & rows["test"]) and not (rows["valid"] & rows["test"])


@needs_shared
def test_cached_lite_is_written_in_the_handout_format_and_reused(lite_cache, lite):
    folder = lite_cache / f"nist36-lite-v{nist36_lite.VERSION}-seed0"
    assert sorted(p.name for p in folder.glob("*.mat")) == ["nist36_test.mat", "nist36_train.mat", "nist36_valid.mat"]
    assert all(np.array_equal(a, b) for s in nist36.SPLITS for a, b in zip(nist36.load_split(folder, s), lite[s], strict=True))
    stamp = (folder / "nist36_train.mat").stat().st_mtime_ns
    nist36_lite.cached(seed=0, directory=lite_cache)
    assert (folder / "nist36_train.mat").stat().st_mtime_ns == stamp, "a cached build is read back, not rebuilt"


@needs_shared
def test_pen_crops_are_split_by_index_blocks_never_at_random():
    """Neighbouring handwritten_png62 files share a writer: blocks follow the file index, 6:2:1."""
    rows, blocks = nist36_lite.pen_crops(shared_data_dir(), "A")
    assert len(rows) == len(blocks) and 90 <= len(rows) <= 100
    assert np.all(np.diff(blocks) >= 0), "blocks must follow the file index"
    assert np.bincount(blocks).tolist() == pytest.approx([62, 20, 10], abs=5)


def test_trajectories_render_upright_with_nist_thick_strokes():
    """An L drawn as two strokes (y down): ink on the left column and the bottom row, NIST-wide."""
    ell = [[[0, 0], [0, 100]], [[0, 100], [60, 100]]]
    ink = nist36_lite.render_strokes(ell)
    image = nist36_lite.to_nist_image(ink)
    dark = image < 0.5
    rows, cols = np.nonzero(dark)
    assert dark[rows.min():rows.max() + 1, cols.min()].mean() > 0.9, "the vertical bar is on the left"
    assert dark[rows.max() - 1, cols.min():cols.max() + 1].mean() > 0.9, "the foot is at the bottom"
    assert rows.max() - rows.min() + 1 == pytest.approx(nist36_lite.GLYPH_HEIGHT, abs=1)
    assert nist36_lite.stroke_width(1.0 - image) == pytest.approx(nist36_lite.NIST_STROKE, abs=1.0)
    assert nist36_lite.render_strokes([[[0, 5], [500, 5]]]).shape[0] < 50, "a flat dash stays a small canvas"


@needs_shared
def test_chars74k_forms_are_split_by_writer_index_blocks():
    rows, blocks = nist36_lite.stroke_crops(shared_data_dir(), "7")
    assert rows.shape == (55, 1024) and np.all(np.diff(blocks) >= 0)
    assert np.bincount(blocks).tolist() == [37, 12, 6]   # 6:2:1 of 55, by index


def test_loader_names_the_file_and_the_keys_it_expected(tmp_path):
    import scipy.io
    scipy.io.savemat(tmp_path / "nist36_valid.mat", {"data": np.zeros((2, 1024))})
    with pytest.raises(nist36.DataError, match=r"nist36_valid.mat: expected keys 'valid_data' and 'valid_labels', found \['data'\]"):
        nist36.load_split(tmp_path, "valid")
    scipy.io.savemat(tmp_path / "nist36_valid.mat", {"valid_data": np.zeros((2, 1000)), "valid_labels": np.zeros((2, 36))})
    with pytest.raises(nist36.DataError, match=r"expected valid_data \(N, 1024\)"):
        nist36.load_split(tmp_path, "valid")
    with pytest.raises(nist36.DataError, match="nist36_test.mat: cannot read it"):
        nist36.load_split(tmp_path, "test")


def test_missing_shared_data_is_named(tmp_path):
    with pytest.raises(nist36_lite.MissingSourceData, match="nist26_valid.mat is missing"):
        nist36_lite.build(shared=tmp_path)


def test_row_and_image_are_inverse_transposes():
    image = np.arange(1024.0).reshape(32, 32)
    assert np.array_equal(nist36.to_image(nist36.to_row(image)), image)
    assert nist36.to_row(image)[1] == image[1, 0]


@needs_shared
def test_real_nist36_is_used_when_the_user_names_its_folder(tmp_path, lite, lite_cache, monkeypatch):
    from hw5data.choose import nist36_data
    nist36.save(tmp_path / "real", lite)
    monkeypatch.setenv("HW5_CACHE_DIR", str(lite_cache))
    monkeypatch.delenv("HW5_DATA_DIR", raising=False)
    _, name, description = nist36_data()
    assert name == "nist36-lite" and description.startswith("nist36-lite (5868/1944/972") and "set HW5_DATA_DIR" in description
    monkeypatch.setenv("HW5_DATA_DIR", str(tmp_path / "real"))
    splits, name, description = nist36_data()
    assert name == "NIST36"
    assert description == f"NIST36 (the handout's files in {tmp_path / 'real'})"
    assert np.array_equal(splits["valid"][0], lite["valid"][0])


@needs_shared
def test_build_lite_command_writes_a_montage(tmp_path, lite_cache, monkeypatch):
    from hw5data.__main__ import main
    monkeypatch.setenv("HW5_CACHE_DIR", str(lite_cache))
    assert main(["build-lite", "--montage", str(tmp_path / "m.png")]) == 0
    assert (tmp_path / "m.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@needs_shared
def test_a_damaged_cache_is_rebuilt(tmp_path, lite, monkeypatch):
    """The build itself is the module's (test_lite_is_reproducible... builds twice more): here it is
    counted, not run again, and what it returns must replace the damaged files."""
    builds = []
    monkeypatch.setattr(nist36_lite, "build", lambda shared, seed: builds.append(seed) or lite)
    folder = tmp_path / f"nist36-lite-v{nist36_lite.VERSION}-seed0"
    folder.mkdir()
    (folder / "nist36_train.mat").write_bytes(b"half a file")
    splits, _ = nist36_lite.cached(seed=0, directory=tmp_path)
    assert builds == [0] and np.array_equal(nist36.load_split(folder, "train")[0], lite["train"][0])
    nist36_lite.cached(seed=0, directory=tmp_path)
    assert builds == [0], "the rebuilt cache is read, not built again"
