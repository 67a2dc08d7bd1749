"""pytest-benchmark: the reference findLetters on each handout page, given as the spec tests give
it (float32 in [0, 1]), and on the composed phone photos."""
import sys

import pytest
import skimage

from autograde import REFERENCE_DIR
from spec_tests.pages import PAGES, images_dir, load_page
from spec_tests.photos import composed_photo, standard_photos

sys.path.insert(0, str(REFERENCE_DIR))
from q4 import findLetters  # noqa: E402


@pytest.mark.skipif(not (images_dir() / "ground_truth.json").is_file(), reason=f"no handout images in {images_dir()}")
@pytest.mark.parametrize("name", PAGES)
def test_find_letters(benchmark, name):
    image = skimage.img_as_float32(load_page(name)[0])
    boxes, _ = benchmark.pedantic(findLetters, args=(image,), rounds=5, warmup_rounds=1)
    assert len(boxes) > 0


@pytest.mark.skipif(not (images_dir() / "ground_truth.json").is_file(), reason=f"no handout images in {images_dir()}")
@pytest.mark.parametrize("name, k", standard_photos())
def test_find_letters_on_a_phone_photo(benchmark, name, k):
    """A composed 12-megapixel photo (spec_tests/photos.py) as uint8, as skimage.io.imread gives it.
    Run as `taskset -c 0 ...` with OMP_NUM_THREADS=1 for the one-core figure."""
    photo = composed_photo(name, k)
    boxes, _ = benchmark.pedantic(findLetters, args=(photo.image,), rounds=3, warmup_rounds=1)
    assert len(boxes) == len(photo.boxes)
