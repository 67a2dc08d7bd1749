"""The four handout pages with their ground-truth boxes, harder variants of them, box matching,
and the text metrics of Q4.

Ground truth: fixtures/q4/ground_truth_boxes.json (boxes checked by eye) and the images and text
in the shared data folder ($HW5_SHARED_DATA/images, default ../shared/data/images).
"""
import json
from pathlib import Path

import numpy as np
import skimage.io
import skimage.transform
from rapidfuzz.distance import Levenshtein
from scipy.optimize import linear_sum_assignment

from hw5data.paths import shared_data_dir

BOXES_FILE = Path(__file__).resolve().parents[1] / "fixtures" / "q4" / "ground_truth_boxes.json"
PAGES = ("01_list.jpg", "02_letters.jpg", "03_haiku.jpg", "04_deep.jpg")
IOU_MATCH = 0.5


def images_dir():
    return shared_data_dir() / "images"


def load_page(name):
    """(image (H, W, 3) uint8, boxes (N, 4) [y1, x1, y2, x2], labels str of N chars, truth lines)."""
    entries = json.loads(BOXES_FILE.read_text())["images"][name]
    truth = json.loads((images_dir() / "ground_truth.json").read_text())[name]
    image = skimage.io.imread(images_dir() / name)
    return image, np.array([e["box"] for e in entries]), "".join(e["char"] for e in entries), truth


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
    'darker' (60% of the light, paper shading kept), 'noisier' (Gaussian noise, sd 6% of the range),
    'smaller' (half the size). Returns (uint8 image, boxes (N, 4))."""
    pixels = image.astype(np.float64) / 255
    boxes = np.asarray(boxes, dtype=float)
    if kind == "rotated":
        angle = 3.0
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
        out = pixels * 0.6
    elif kind == "noisier":
        out = pixels + np.random.default_rng(0).normal(0, 0.06, pixels.shape)
    elif kind == "smaller":
        out = skimage.transform.rescale(pixels, 0.5, channel_axis=2, anti_aliasing=True)
        boxes = boxes * 0.5
    else:
        raise ValueError(kind)
    return (np.clip(out, 0, 1) * 255).round().astype(np.uint8), np.round(boxes).astype(int)


def char_accuracy(lines, truth_lines):
    """1 - Levenshtein(text, truth) / len(truth) over the whole page, spaces and line breaks
    ignored, floored at 0. lines, truth_lines: lists of strings."""
    text, truth = ("".join(s.split()) for s in ("".join(lines), "".join(truth_lines)))
    return max(0.0, 1 - Levenshtein.distance(text, truth) / max(1, len(truth)))


def word_accuracy(lines, truth_lines):
    """1 - word-level Levenshtein / number of true words: words are space-separated, so a missing
    or extra space costs as a wrong word does."""
    words, truth = (" ".join(s).split() for s in (lines, truth_lines))
    return max(0.0, 1 - Levenshtein.distance(words, truth) / max(1, len(truth)))
