"""The Q4 ground-truth boxes fixture agrees with the handout's text, and the reference findLetters
finds every character of the four pages, of harder photos of them and of the composed phone
photos (the paper found too), one box each; read_text in context (its default) and refined read
better than the handout's per-character recipe."""
import json

import numpy as np
import pytest

from autograde import REFERENCE_DIR
from spec_tests.pages import BOXES_FILE, PAGES, load_page, match_boxes, variant
from spec_tests.photos import KINDS, composed_photo, standard_photos
from tests.support.images import needs_images

CI_PHOTOS = {("01_list.jpg", 0), ("04_deep.jpg", 1)}   # every run; the other six in the full run (the spec check composes
                                                       # the four k = 0 photos in every run too)


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


@needs_images
@pytest.mark.parametrize("name", PAGES)
def test_the_page_finder_sees_no_page_where_the_paper_fills_the_photo(reference_q4, name):
    """The four handout pages (and their harder copies, by the test above) are read as before."""
    q4, _ = reference_q4
    assert q4.find_page(load_page(name)[0]) is None


@needs_images
@pytest.mark.parametrize("name, k", [pytest.param(name, k, marks=[] if (name, k) in CI_PHOTOS else [pytest.mark.full])
                                     for name, k in standard_photos()])
def test_reference_finds_the_paper_and_every_character_of_a_phone_photo(reference_q4, name, k):
    q4, run_q4 = reference_q4
    photo = composed_photo(name, k)
    outline = q4.find_page(photo.image)
    assert outline is not None and np.abs(outline - photo.outline).max() < 0.005 * max(photo.image.shape)
    found, bw = q4.findLetters(photo.image)
    assert match_boxes(found, photo.boxes)[:2] == (1.0, 1.0)
    assert bw.shape == photo.image.shape[:2] and bw.min() == 0.0 and bw.max() == 1.0
    page = q4.find_characters(photo.image)   # read_text reads the straightened page, line by line
    assert [len(line) for line in run_q4.group_lines(page.boxes)] == [len(t.replace(" ", "")) for t in photo.lines]


@needs_images
@pytest.mark.parametrize("kind", [k for k in KINDS if k != "desk"])
@pytest.mark.parametrize("name", [pytest.param(name, marks=[] if name == "01_list.jpg" else [pytest.mark.full]) for name in PAGES])
def test_reference_finds_the_characters_of_the_harder_photos(reference_q4, name, kind):
    """Photo 0 of each harder kind (slanted, pencil, white desk, shadow, perspective): at least 97%
    of the true boxes found, at least 95% of the boxes found true (on 2026-12-07: all 100% but
    pencil's 01_list, 114 of 115)."""
    q4, _ = reference_q4
    photo = composed_photo(name, 0, kind)
    recall, precision, _ = match_boxes(q4.findLetters(photo.image)[0], photo.boxes)
    assert recall >= 0.97 and precision >= 0.95, (recall, precision)


@needs_images
def test_reference_finds_a_paper_that_only_its_colour_sets_apart_from_a_white_desk(reference_q4):
    """04_deep's white-desk photo 1: the paper is as light as the desk along its top edge (0.73
    against 0.71 in grey) and darker than the desk's lit end; its tint sets it apart (2.6 in
    CIELAB a*b*). Before the colour step no paper and 1 of 41 characters were found."""
    q4, _ = reference_q4
    photo = composed_photo("04_deep.jpg", 1, "white_desk")
    outline = q4.find_page(photo.image)
    assert outline is not None and np.abs(outline - photo.outline).max() < 0.005 * max(photo.image.shape)
    recall, precision, _ = match_boxes(q4.findLetters(photo.image)[0], photo.boxes)
    assert recall >= 0.97 and precision >= 0.95, (recall, precision)


def test_group_lines_follows_writing_turned_15_degrees_across_wide_word_gaps(reference_q4):
    """Two lines of two words each, turned 15 degrees: between words the line drops 0.8 character
    heights, more than a level test allows, so lines are grouped along the writing's own angle."""
    _, run_q4 = reference_q4
    height, turn = 40.0, np.deg2rad(15)
    along = np.r_[np.arange(5) * 1.2, 5 * 1.2 + 3.0 + np.arange(5) * 1.2] * height   # a word gap of 3 heights
    boxes, truth = [], []
    for across in (0.0, 2.5 * height):
        x = 500 + along * np.cos(turn) - across * np.sin(turn)
        y = 300 + along * np.sin(turn) + across * np.cos(turn)
        truth.append(list(range(len(boxes), len(boxes) + len(along))))
        boxes += [[cy - height / 2, cx - 0.35 * height, cy + height / 2, cx + 0.35 * height] for cx, cy in zip(x, y, strict=True)]
    boxes = np.round(boxes).astype(int)
    assert abs(np.degrees(run_q4.writing_angle(boxes)) - 15) < 1
    assert run_q4.group_lines(boxes) == truth
    order = np.random.default_rng(0).permutation(len(boxes))   # the boxes' order does not matter
    assert [[int(order[i]) for i in line] for line in run_q4.group_lines(boxes[order])] == truth


@needs_images
@pytest.mark.parametrize("name", [pytest.param(name, marks=[] if name == "01_list.jpg" else [pytest.mark.full]) for name in PAGES])
def test_reference_keeps_slanted_lines_of_writing_whole_and_in_order(reference_q4, name):
    """Lines written 3-8 degrees off the paper's edges (spec_tests/photos.py, kind "slanted"): the
    straightened paper's boxes group into the true lines, in order, each in the true order."""
    q4, run_q4 = reference_q4
    photo = composed_photo(name, 0, "slanted")
    boxes, _ = run_q4.letters_to_read(photo.image)
    lines = run_q4.group_lines(boxes)
    assert [len(line) for line in lines] == [len(t.replace(" ", "")) for t in photo.lines]
    page = q4.find_characters(photo.image)   # its boxes in the photo, matched to the truth's, give the reading order
    _, _, pairs = match_boxes(q4.page_boxes_in_image(page, photo.image.shape[:2]), photo.boxes)
    truth_of = dict(pairs)
    assert [truth_of.get(i) for line in lines for i in line] == list(range(len(photo.boxes)))


def test_word_labels_reads_each_word_as_all_letters_or_all_digits(reference_q4):
    _, run_q4 = reference_q4
    classes = "AOS05"
    probs = np.array([[0.1, 0.2, 0.1, 0.5, 0.1],    # 0 likelier than O, in a word of letters
                      [0.6, 0.1, 0.1, 0.1, 0.1],
                      [0.05, 0.05, 0.2, 0.3, 0.4],  # 5, in a word of digits
                      [0.05, 0.3, 0.05, 0.5, 0.1]])
    assert run_q4.word_labels(probs, [[[0, 1]], [[2, 3]]], classes) == ["O", "A", "5", "0"]
    assert run_q4.word_labels(probs[:3], [[[0, 1, 2]]], classes) == ["O", "A", "S"]   # 0.2 * 0.6 * 0.2 > 0.5 * 0.1 * 0.4


@needs_images
def test_read_text_in_context_and_refined_read_the_four_pages_better_than_the_handout_recipe(reference_q4):
    """With the grader's network (seed 0; trained once, then read from the reference-reading cache),
    pooled character accuracy on 2026-12-07 (strokes redrawn 3 px wide): 84.1% with the handout's
    per-character argmax (context=False), 91.1% reading each word as letters or digits (the
    default), 92.7% refined; a
    default or a refinement that gains less than 5 points fails."""
    from spec_tests.pages import char_accuracy
    from spec_tests.reference import reference_reading
    _, run_q4 = reference_q4
    params = reference_reading(0).params
    plain = in_context = refined = 0.0
    for name in PAGES:
        image, _, _, truth = load_page(name)
        weight = len("".join(truth).replace(" ", ""))
        plain += weight * char_accuracy(run_q4.read_text(image, params, context=False), truth)
        in_context += weight * char_accuracy(run_q4.read_text(image, params), truth)
        refined += weight * char_accuracy(run_q4.read_text(image, params, refine=True), truth)
    assert in_context > plain + 0.05 * 246 and refined > plain + 0.05 * 246, (plain, in_context, refined)


def _stroke_width(canvas):
    """Ink area over skeleton length of canvas > 0.5: a stroke's width in px."""
    import skimage.morphology
    mask = canvas > 0.5
    return mask.sum() / max(1, skimage.morphology.skeletonize(mask).sum())


@pytest.mark.parametrize("pen", [1.0, 2.0, 6.0])
def test_redrawn_gives_a_pencil_line_and_a_marker_line_one_width(reference_q4, pen):
    """An L drawn with a 1, 2 or 6 px pen comes out of run_q4.redrawn(canvas, 3) with strokes
    2.9-3.6 px wide (3.1 here; a redrawn 3 px stroke measures 3.4 on the page crops, whose ends
    and corners add area), its shape kept; an empty canvas comes back as it is."""
    import scipy.ndimage
    _, run_q4 = reference_q4
    y, x = np.mgrid[0:128, 0:128] / 4.0   # the L's centre line at 4x, then averaged down to 32 x 32
    centre = np.zeros((128, 128), dtype=bool)
    centre[24:104, 40] = centre[103, 40:96] = True
    distance = scipy.ndimage.distance_transform_edt(~centre) / 4
    canvas = np.clip(pen / 2 + 0.5 - distance, 0, 1).reshape(32, 4, 32, 4).mean(axis=(1, 3))
    assert abs(_stroke_width(canvas) - 3.0) > 0.8   # the pen is not already 3 px
    drawn = run_q4.redrawn(canvas, 3.0)
    assert drawn.shape == canvas.shape and 0 <= drawn.min() and drawn.max() <= 1
    assert 2.9 <= _stroke_width(drawn) <= 3.6, _stroke_width(drawn)
    rows, cols = np.nonzero(drawn > 0.5)
    assert abs(rows.min() - 6) <= 2 and abs(rows.max() - 26) <= 2 and abs(cols.min() - 10) <= 2 and abs(cols.max() - 24) <= 2
    empty = np.zeros((32, 32))
    assert run_q4.redrawn(empty, 3.0) is empty


def test_reference_finds_nothing_on_a_blank_frame_without_failing(reference_q4):
    """One grey level (find_page's thresholds need two or three) or one colour: no paper, no boxes, bw all white."""
    q4, _ = reference_q4
    for image in (np.full((600, 800, 3), 200, np.uint8), np.full((600, 800), 0.5)):
        assert q4.find_page(image) is None
        boxes, bw = q4.findLetters(image)
        assert boxes.shape == (0, 4) and bw.shape == (600, 800) and bw.min() == 1.0
