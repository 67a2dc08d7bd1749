"""Phone photos of the handout pages, composed with their ground truth: each page lies on a dark,
textured surround (a wooden desk, a dark cloth), turned 5-20 degrees, seen with some perspective,
in a 12-megapixel (4000 x 3000) frame, lit unevenly and saved as a JPEG.

Ground truth comes from the composition itself: the homography that places the page maps its
ground-truth boxes (spec_tests/oracles/q4_ground_truth_boxes.json) into the photo, where each true
box is the extent of its four mapped corners, and the page's four corners are the paper's outline.
Everything is seeded: photo k of a page is the same image on every machine.
"""
import io
from typing import NamedTuple

import numpy as np
import skimage.transform
from PIL import Image

from spec_tests.pages import PAGES, load_page

FRAME = (3000, 4000)          # (rows, columns): 12 megapixels, landscape
ANGLES = (7.0, -12.0, 16.0, -19.0, -6.0, 10.0, -15.0, 20.0)   # photo k of page i is turned ANGLES[(2i + k) % 8]
PERSPECTIVE = 0.04            # each corner moves up to this fraction of the page's diagonal
JPEG_QUALITY = 88


class Photo(NamedTuple):
    image: np.ndarray     # (3000, 4000, 3) uint8
    boxes: np.ndarray     # (N, 4) int [y1, x1, y2, x2]: the extent of each true box in the photo
    labels: str           # the N characters, in the ground truth's order
    lines: list           # the page's true lines of text
    outline: np.ndarray   # (4, 2) float (x, y): the paper's corners, clockwise from top-left
    angle: float          # degrees the page is turned (counter-clockwise on screen)


def composed_photo(name, k=0):
    """Photo k (0 or 1 in the standard set) of handout page `name`; returns a Photo."""
    page, boxes, labels, lines = load_page(name)
    index = 2 * PAGES.index(name) + k
    rng = np.random.default_rng(1000 + index)
    angle = ANGLES[index % len(ANGLES)]
    height, width = FRAME
    corners = np.array([[0, 0], [page.shape[1], 0], [page.shape[1], page.shape[0]], [0, page.shape[0]]], dtype=float)
    turned = skimage.transform.EuclideanTransform(rotation=np.deg2rad(-angle))(corners - corners.mean(0))
    span = turned.max(0) - turned.min(0)
    scale = rng.uniform(0.6, 0.8) * min(width / span[0], height / span[1])
    centre = np.array([width, height]) / 2 + rng.uniform(-0.06, 0.06, 2) * [width, height]
    outline = turned * scale + centre
    outline += rng.uniform(-1, 1, (4, 2)) * PERSPECTIVE * scale * np.hypot(*page.shape[:2])
    to_photo = skimage.transform.estimate_transform("projective", corners, outline)

    paper = Image.fromarray(page).transform((width, height), Image.Transform.PERSPECTIVE,
                                            _pil_coefficients(to_photo.inverse), Image.Resampling.BICUBIC)
    inside = Image.new("L", page.shape[1::-1], 255).transform((width, height), Image.Transform.PERSPECTIVE,
                                                             _pil_coefficients(to_photo.inverse), Image.Resampling.BILINEAR)
    alpha = np.asarray(inside, dtype=np.float32)[..., None] / 255
    photo = _surround(rng, k) * (1 - alpha) + np.asarray(paper, dtype=np.float32) * alpha
    photo *= _light(rng)[..., None]
    photo = np.clip(photo, 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(photo).save(buffer, format="JPEG", quality=JPEG_QUALITY)
    photo = np.asarray(Image.open(buffer).convert("RGB"))

    box_corners = np.stack([boxes[:, [1, 0]], boxes[:, [3, 0]], boxes[:, [3, 2]], boxes[:, [1, 2]]], axis=1)
    mapped = to_photo(box_corners.reshape(-1, 2).astype(float)).reshape(-1, 4, 2)
    extents = np.stack([mapped[..., 1].min(1), mapped[..., 0].min(1), mapped[..., 1].max(1), mapped[..., 0].max(1)], 1)
    return Photo(photo, np.round(extents).astype(int), labels, lines, outline, angle)


def standard_photos():
    """The standard set: two photos of each of the four pages, (name, k) pairs."""
    return [(name, k) for name in PAGES for k in (0, 1)]


def _pil_coefficients(transform):
    """PIL's 8 perspective coefficients of a skimage ProjectiveTransform (output -> input pixels)."""
    matrix = transform.params / transform.params[2, 2]
    return tuple(matrix.reshape(-1)[:8])


def _surround(rng, k):
    """A dark textured surround, (3000, 4000, 3) float32 in 0-255: wood grain (k even) or a dark
    woven cloth (k odd)."""
    height, width = FRAME
    if k % 2 == 0:   # grain: noise stretched along the rows, a warm brown
        grain = _upscaled_noise(rng, (height // 6, 12))
        fine = _upscaled_noise(rng, (height // 2, width // 40))
        shade = 0.55 + 0.3 * grain + 0.15 * fine
        colour = np.array([70, 45, 28], dtype=np.float32)
    else:            # cloth: a fine weave and blotches, blue-grey
        rows, cols = np.mgrid[0:height, 0:width].astype(np.float32)
        weave = 0.5 + 0.25 * np.sin(rows * 0.9) * np.sin(cols * 0.9)
        shade = 0.6 + 0.25 * _upscaled_noise(rng, (12, 16)) + 0.15 * weave
        colour = np.array([42, 46, 58], dtype=np.float32)
    shade += rng.normal(0, 0.05, shade.shape).astype(np.float32)
    return shade[..., None] * colour


def _upscaled_noise(rng, shape):
    """Uniform noise of a small shape, resized smoothly to the frame: (3000, 4000) float32 in [0, 1]."""
    small = Image.fromarray(rng.uniform(0, 1, shape).astype(np.float32), mode="F")
    return np.asarray(small.resize(FRAME[::-1], Image.Resampling.BICUBIC), dtype=np.float32)


def _light(rng):
    """Uneven light over the frame: a gradient from one side and a vignette, (3000, 4000) float32 in about [0.65, 1.1]."""
    height, width = FRAME
    y, x = np.ogrid[-1:1:height * 1j, -1:1:width * 1j]
    direction = rng.uniform(0, 2 * np.pi)
    gradient = 0.9 + 0.15 * (np.cos(direction) * x + np.sin(direction) * y)
    return (gradient * (1 - 0.15 * (x ** 2 + y ** 2) / 2)).astype(np.float32)
