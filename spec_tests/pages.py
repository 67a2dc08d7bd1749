"""The four handout pages with their ground-truth boxes, harder variants of them, box matching,
and the text metrics of Q4.

Ground truth: spec_tests/oracles/q4_ground_truth_boxes.json (boxes checked by eye) and the images and text
in the shared data folder ($HW5_SHARED_DATA/images, default ../shared/data/images).
"""
import io
import json

import numpy as np
import skimage
import skimage.draw
import skimage.io
import skimage.morphology
import skimage.transform
from PIL import Image
from rapidfuzz.distance import Levenshtein
from scipy.optimize import linear_sum_assignment

from hw5data.paths import shared_data_dir
from spec_tests.oracles import Q4_BOXES

BOXES_FILE = Q4_BOXES
PAGES = ("01_list.jpg", "02_letters.jpg", "03_haiku.jpg", "04_deep.jpg")
IOU_MATCH = 0.5
VARIANT_PIXELS = 5e6    # variants of 04_deep (12 MP) are made from a 5 MP copy: memory, not difficulty


def images_dir():
    return shared_data_dir() / "images"


def load_page(name):
    """(image (H, W, 3) uint8, boxes (N, 4) [y1, x1, y2, x2], labels str of N chars, truth lines)."""
    entries = json.loads(BOXES_FILE.read_text())["images"][name]
    truth = json.loads((images_dir() / "ground_truth.json").read_text())[name]
    image = skimage.io.imread(images_dir() / name)
    return image, np.array([e["box"] for e in entries]), "".join(e["char"] for e in entries), truth


def page_lines(name):
    """The true lines of a page as lists of indices into load_page's boxes, top to bottom."""
    entries = json.loads(BOXES_FILE.read_text())["images"][name]
    lines = {}
    for index, entry in enumerate(entries):
        lines.setdefault(entry["line"], []).append(index)
    return [lines[k] for k in sorted(lines)]


def drawn_page():
    """A small synthetic photo: four block capitals drawn in dark ink on a wide (300 x 720),
    unevenly lit page, each placed where swapping x and y would land outside the page.
    Returns (image (300, 720, 3) float in [0, 1], boxes (4, 4) [y1, x1, y2, x2] of the ink)."""
    height, width, stroke = 300, 720, 7
    strokes = {  # (y, x) polylines of each letter in a 60 x 40 cell
        "L": [[(0, 0), (60, 0), (60, 38)]],
        "T": [[(0, 0), (0, 40)], [(0, 20), (60, 20)]],
        "X": [[(0, 0), (60, 40)], [(0, 40), (60, 0)]],
        "H": [[(0, 0), (60, 0)], [(0, 40), (60, 40)], [(30, 0), (30, 40)]],
    }
    origins = [(40, 380), (60, 470), (170, 560), (200, 650)]
    ink = np.zeros((height, width), dtype=bool)
    boxes = []
    for (top, left), lines in zip(origins, strokes.values(), strict=True):
        mask = np.zeros_like(ink)
        for line in lines:
            for (y0, x0), (y1, x1) in zip(line[:-1], line[1:], strict=True):
                rr, cc = skimage.draw.line(top + y0, left + x0, top + y1, left + x1)
                mask[rr, cc] = True
        mask = skimage.morphology.dilation(mask, skimage.morphology.disk(stroke // 2))
        rows, cols = np.nonzero(mask)
        boxes.append([rows.min(), cols.min(), rows.max() + 1, cols.max() + 1])
        ink |= mask
    paper = 0.93 - 0.15 * np.linspace(0, 1, width)[None, :] * np.linspace(0.5, 1, height)[:, None]
    grey = np.where(ink, 0.15, paper)
    image = np.stack([grey, grey, np.minimum(1, grey + 0.1)], axis=2)  # blue-grey ink and paper
    return image, np.array(boxes)


def box_iou(a, b):
    """IoU matrix (len(a), len(b)) of [y1, x1, y2, x2] boxes (bottom-right exclusive)."""
    a, b = np.asarray(a, dtype=float).reshape(-1, 1, 4), np.asarray(b, dtype=float).reshape(1, -1, 4)
    height = np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0, None)
    width = np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0, None)
    inter = height * width
    area = lambda box: (box[..., 2] - box[..., 0]) * (box[..., 3] - box[..., 1])  # noqa: E731
    return inter / np.maximum(area(a) + area(b) - inter, 1e-9)


def match_boxes(found, truth):
    """One-to-one matching at IoU >= 0.5 (Hungarian on IoU). Returns (recall, precision, pairs)
    with pairs a list of (index in found, index in truth)."""
    found = np.asarray(found, dtype=float).reshape(-1, 4)
    if len(found) == 0 or len(truth) == 0:
        return 0.0, 0.0, []
    iou = box_iou(found, truth)
    rows, cols = linear_sum_assignment(-iou)
    pairs = [(int(r), int(c)) for r, c in zip(rows, cols, strict=True) if iou[r, c] >= IOU_MATCH]
    return len(pairs) / len(truth), len(pairs) / len(found), pairs


def variant(image, boxes, kind):
    """A harder photo of the same page and its ground-truth boxes: 'rotated' (3 degrees),
    'rotated_back' (-2 degrees), 'darker' (60% of the light, paper shading kept), 'fainter' (half
    the contrast), 'noisier' (Gaussian noise, sd 6% of the range), 'jpeg' (noise of sd 4%, then a
    JPEG at quality 40), 'shaded' (the light falling from 100% to 45% across the page), 'smaller'
    (half the size). Takes a uint8 or float image; returns (float32 image in [0, 1],
    boxes (N, 4) int). A page over VARIANT_PIXELS is scaled down to that size first, and the work is
    in single precision: a 12-megapixel photo in float64 would take 290 MB a copy."""
    return vary(*variant_base(image, boxes), kind)


def variant_base(image, boxes):
    """What every variant of a page starts from: (float32 image in [0, 1] of at most VARIANT_PIXELS,
    boxes (N, 4) float scaled with it). Most of a variant's time (about half a second a handout
    page), so made once for a page's several variants."""
    boxes = np.asarray(boxes, dtype=float)
    shrink = np.sqrt(VARIANT_PIXELS / (image.shape[0] * image.shape[1]))
    if shrink < 1:  # a channel at a time: rescale works in float64
        image = np.stack([skimage.transform.rescale(image[..., c], shrink, anti_aliasing=True).astype(np.float32)
                          for c in range(image.shape[2])], axis=2)
        boxes = boxes * shrink
    return skimage.img_as_float32(image), boxes


def vary(pixels, boxes, kind):
    """variant() of variant_base's (pixels, boxes); pixels is left as it is."""
    if kind in ("rotated", "rotated_back"):
        angle = 3.0 if kind == "rotated" else -2.0
        out = skimage.transform.rotate(pixels, angle, resize=True, mode="edge")
        # Rotate each box's corners about the image centre as rotate() does, then take their extent.
        h, w = pixels.shape[:2]
        H, W = out.shape[:2]
        t = np.deg2rad(angle)
        corners = np.stack([boxes[:, [0, 1]], boxes[:, [0, 3]], boxes[:, [2, 1]], boxes[:, [2, 3]]], axis=1)
        y, x = corners[..., 0] - h / 2, corners[..., 1] - w / 2
        # skimage rotates counter-clockwise on screen (y down): x' = x cos + y sin, y' = -x sin + y cos.
        xr, yr = x * np.cos(t) + y * np.sin(t) + W / 2, -x * np.sin(t) + y * np.cos(t) + H / 2
        boxes = np.stack([yr.min(1), xr.min(1), yr.max(1), xr.max(1)], axis=1)
    elif kind == "darker":
        out = pixels * np.float32(0.6)
    elif kind == "fainter":
        out = np.float32(0.5) + (pixels - np.float32(0.5)) * np.float32(0.5)
    elif kind in ("noisier", "jpeg"):
        noise = np.random.default_rng(0)
        out = pixels.copy()
        for channel in range(out.shape[2]):  # a channel at a time: one page-sized noise array is 50 MB
            out[..., channel] += np.float32(0.06 if kind == "noisier" else 0.04) * noise.standard_normal(out.shape[:2], dtype=np.float32)
        if kind == "jpeg":
            buffer = io.BytesIO()
            Image.fromarray(skimage.img_as_ubyte(np.clip(out, 0, 1))).save(buffer, format="JPEG", quality=40)
            out = skimage.img_as_float32(np.asarray(Image.open(buffer)))
    elif kind == "shaded":
        out = pixels * np.linspace(1.0, 0.45, pixels.shape[1], dtype=np.float32)[None, :, None]
    elif kind == "smaller":
        out = skimage.transform.rescale(pixels, 0.5, channel_axis=2, anti_aliasing=True)
        boxes = boxes * 0.5
    else:
        raise ValueError(kind)
    return np.clip(out, 0, 1, out=out).astype(np.float32, copy=False), np.round(boxes).astype(int)


def char_accuracy(lines, truth_lines):
    """1 - Levenshtein(text, truth) / len(truth) over the whole page, spaces and line breaks
    ignored, floored at 0. lines, truth_lines: lists of strings."""
    text, truth = ("".join(s.split()) for s in ("".join(lines), "".join(truth_lines)))
    return max(0.0, 1 - Levenshtein.distance(text, truth) / max(1, len(truth)))


def word_errors(lines, truth_lines):
    """(word-level Levenshtein distance, number of true words): words are space-separated, so a
    missing or extra space costs as a wrong word does."""
    words, truth = (" ".join(s).split() for s in (lines, truth_lines))
    return Levenshtein.distance(words, truth), len(truth)


def word_accuracy(lines, truth_lines):
    """1 - word_errors / number of true words, floored at 0."""
    errors, count = word_errors(lines, truth_lines)
    return max(0.0, 1 - errors / max(1, count))
