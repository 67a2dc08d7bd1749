"""The skip marker of the tests that read the handout's four images and their ground truth."""
import pytest

from spec_tests.pages import images_dir

needs_images = pytest.mark.skipif(not (images_dir() / "ground_truth.json").is_file(),
                                  reason=f"the handout images are not in {images_dir()} (set HW5_SHARED_DATA)")
