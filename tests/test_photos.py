"""The composed phone photos of each kind (spec_tests/photos.py) are what their docstring says, and
their ground truth is where the ink is: the geometry of every page's photo in every run (it is fast),
the drawn photos of one page per kind in the full run (about 2 s each)."""
import numpy as np
import pytest
from matplotlib.path import Path as Polygon

from spec_tests.pages import PAGES, load_page, page_lines
from spec_tests.photos import FRAME, KINDS, composed_photo, photo_geometry
from tests.support.images import needs_images


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
    """Drawn photos: in every true box the darkest pixels are darker than the paper around them
    (_ink_contrasts) by at least 12 grey levels (pencil's contrast is the lowest), and the pencil's
    ink, by the same measure, is under 0.7 of the desk photo's."""
    contrasts = _ink_contrasts(composed_photo("01_list.jpg", 0, kind))
    assert min(contrasts) >= 12, (kind, min(contrasts))
    if kind == "pencil":
        assert np.median(contrasts) < 0.7 * np.median(_ink_contrasts(composed_photo("01_list.jpg", 0, "desk")))


def _ink_contrasts(photo):
    """Per true box: the median grey of the box and a margin around it (mostly paper) less the
    box's 2nd percentile (its darkest ink)."""
    grey = photo.image.mean(axis=2)
    contrasts = []
    for y1, x1, y2, x2 in photo.boxes:
        pad = max(4, (y2 - y1) // 4)
        around = grey[max(0, y1 - pad):y2 + pad, max(0, x1 - pad):x2 + pad]
        contrasts.append(np.median(around) - np.percentile(grey[y1:y2, x1:x2], 2))
    return contrasts
