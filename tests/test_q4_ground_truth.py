"""The Q4 ground-truth boxes fixture agrees with the handout's text, and the reference findLetters
finds every character of the four pages, and of harder photos of them, one box each."""
import json

import pytest

from autograde import REFERENCE_DIR
from spec_tests.pages import BOXES_FILE, PAGES, images_dir, load_page, match_boxes, variant

needs_images = pytest.mark.skipif(not (images_dir() / "ground_truth.json").is_file(),
                                  reason=f"the handout images are not in {images_dir()} (set HW5_SHARED_DATA)")


@needs_images
@pytest.mark.parametrize("name", PAGES)
def test_ground_truth_boxes_spell_the_handout_text_inside_the_image(name):
    image, boxes, labels, truth = load_page(name)
    assert labels == "".join("".join(truth).split())
    assert (boxes[:, 0] < boxes[:, 2]).all() and (boxes[:, 1] < boxes[:, 3]).all() and (boxes >= 0).all()
    assert (boxes[:, 2] <= image.shape[0]).all() and (boxes[:, 3] <= image.shape[1]).all()
    lines = [e["line"] for e in json.loads(BOXES_FILE.read_text())["images"][name]]
    assert lines == sorted(lines) and max(lines) + 1 == len(truth)


@pytest.fixture(scope="module")
def reference_q4():
    """The reference's q4 and run_q4 modules (imported as a submission's modules are)."""
    import importlib
    import sys
    sys.path.insert(0, str(REFERENCE_DIR))
    try:
        yield importlib.import_module("q4"), importlib.import_module("run_q4")
    finally:
        sys.path.remove(str(REFERENCE_DIR))


@needs_images
@pytest.mark.parametrize("name", PAGES)
@pytest.mark.parametrize("kind", [None, "rotated", "darker", "noisier", "smaller"])
def test_reference_finds_every_character_once(reference_q4, name, kind):
    q4, run_q4 = reference_q4
    image, boxes, labels, truth = load_page(name)
    if kind:
        image, boxes = variant(image, boxes, kind)
    found, bw = q4.findLetters(image)
    recall, precision, _ = match_boxes(found, boxes)
    assert (recall, precision) == (1.0, 1.0)
    assert bw.shape == image.shape[:2] and bw.min() == 0.0 and bw.max() == 1.0 and bw.mean() > 0.9
    assert [len(line) for line in run_q4.group_lines(found)] == [len(t.replace(" ", "")) for t in truth]
