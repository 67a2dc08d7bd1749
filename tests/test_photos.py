"""The composed phone photos of each kind (spec_tests/photos.py) are what their docstring says, and
their ground truth is where the ink is: the geometry of every page's photo in every run (it is fast),
the drawn photos of one page per kind in the full run (about 2 s each)."""
import numpy as np
import pytest
from matplotlib.path import Path as Polygon

from spec_tests.pages import PAGES, images_dir, load_page, page_lines
from spec_tests.photos import FRAME, KINDS, composed_photo, photo_geometry

needs_images = pytest.mark.skipif(not (images_dir() / "ground_truth.json").is_file(),
                                  reason=f"the handout images are not in {images_dir()} (set HW5_SHARED_DATA)")


def _centres(boxes):
    return np.stack([(boxes[:, 1] + boxes[:, 3]) / 2, (boxes[:, 0] + boxes[:, 2]) / 2], axis=1)   # (x, y)


@needs_images
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name", PAGES)
def test_every_true_box_lies_on_the_paper_inside_the_frame(name, kind):
    boxes, outline, _ = photo_geometry(name, 0, kind)
    assert len(boxes) == len(load_page(name)[1])
    assert (boxes[:, :2] >= 0).all() and (boxes[:, 2] <= FRAME[0]).all() and (boxes[:, 3] <= FRAME[1]).all()
    assert (boxes[:, 0] < boxes[:, 2]).all() and (boxes[:, 1] < boxes[:, 3]).all()
    assert Polygon(outline).contains_points(_centres(boxes)).all()


@needs_images
@pytest.mark.parametrize("name", PAGES)
def test_slanted_lines_run_at_3_to_8_degrees_to_the_paper(name):
    """Each true line's box centres, mapped back onto the paper and fitted by a straight line, turn
    by 3-8 degrees (1 degree of slack for the bow and the boxes' extents) from the handout page's
    own line, all the same way."""
    boxes, _, to_photo = photo_geometry(name, 0, "slanted")
    original = load_page(name)[1]
    turns = []
    for line in (line for line in page_lines(name) if len(line) >= 4):
        before = np.polyfit(*_centres(original[line]).T, 1)[0]
        after = np.polyfit(*to_photo.inverse(_centres(boxes[line])).T, 1)[0]
        turns.append(np.degrees(np.arctan(after) - np.arctan(before)))
    assert turns and all(2.0 <= abs(t) <= 9.0 for t in turns) and len(set(np.sign(turns))) == 1, turns


@needs_images
@pytest.mark.parametrize("name", PAGES)
def test_the_white_desk_photo_cuts_off_paper_but_no_writing(name):
    boxes, outline, _ = photo_geometry(name, 0, "white_desk")
    outside = (outline[:, 0] < 0) | (outline[:, 0] > FRAME[1]) | (outline[:, 1] < 0) | (outline[:, 1] > FRAME[0])
    assert outside.any()
    assert boxes[:, :2].min() >= 20 and (FRAME[0] - boxes[:, 2]).min() >= 20 and (FRAME[1] - boxes[:, 3]).min() >= 20


@needs_images
@pytest.mark.parametrize("name", PAGES)
def test_the_perspective_photo_shows_the_far_edge_25_to_35_percent_shorter(name):
    """Top edge against bottom edge, with slack for the corners' own random moves (4 % of the diagonal)."""
    _, outline, _ = photo_geometry(name, 0, "perspective")
    far, near = np.linalg.norm(outline[1] - outline[0]), np.linalg.norm(outline[2] - outline[3])
    assert 0.5 <= far / near <= 0.85


@needs_images
@pytest.mark.parametrize("kind", [pytest.param(kind, marks=pytest.mark.full) for kind in KINDS])
def test_each_true_box_holds_ink_darker_than_the_paper_around_it(kind):
    """Drawn photos: in every true box the darkest pixels are darker than the paper just around
    the box (its ring's median) by at least 12 grey levels (pencil's contrast is the lowest), and
    the pencil's ink is lighter than the desk photo's."""
    name = "01_list.jpg"
    photo = composed_photo(name, 0, kind)
    grey = photo.image.mean(axis=2)
    contrasts = []
    for y1, x1, y2, x2 in photo.boxes:
        pad = max(4, (y2 - y1) // 4)
        ring = grey[max(0, y1 - pad):y2 + pad, max(0, x1 - pad):x2 + pad]
        inside = grey[y1:y2, x1:x2]
        contrasts.append(np.median(ring) - np.percentile(inside, 2))
    assert min(contrasts) >= 12, (kind, min(contrasts))
    if kind == "pencil":
        desk = composed_photo(name, 0, "desk")
        assert np.median(contrasts) < 0.7 * np.median([
            np.median(desk.image[y1:y2, x1:x2].mean(2)) - np.percentile(desk.image[y1:y2, x1:x2].mean(2), 2)
            for y1, x1, y2, x2 in desk.boxes])
