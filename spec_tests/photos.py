"""Phone photos of the handout pages, composed with their ground truth: each page lies on a dark,
textured surround (a wooden desk, a dark cloth), turned 5-20 degrees, seen with some perspective,
in a 12-megapixel (4000 x 3000) frame, lit unevenly and saved as a JPEG.

Ground truth comes from the composition itself: the homography that places the page maps its
ground-truth boxes (spec_tests/oracles/q4_ground_truth_boxes.json) into the photo, where each true
box is the extent of its four mapped corners, and the page's four corners are the paper's outline.
Everything is seeded: photo k of a page is the same image on every machine.
"""
import hashlib
import os
from pathlib import Path
from typing import NamedTuple

import numpy as np
import skimage.transform
from PIL import Image

from hw5data.paths import cache_dir
from spec_tests.pages import PAGES, load_page

FRAME = (3000, 4000)          # (rows, columns): 12 megapixels, landscape
ANGLES = (7.0, -12.0, 16.0, -19.0, -6.0, 10.0, -15.0, 20.0)   # photo k of page i is turned ANGLES[(2i + k) % 8]
PERSPECTIVE = 0.04            # each corner moves up to this fraction of the page's diagonal
JPEG_QUALITY = 88
BAND = 500                    # rows composed at a time


class Photo(NamedTuple):
    image: np.ndarray     # (3000, 4000, 3) uint8
    boxes: np.ndarray     # (N, 4) int [y1, x1, y2, x2]: the extent of each true box in the photo
    labels: str           # the N characters, in the ground truth's order
    lines: list           # the page's true lines of text
    outline: np.ndarray   # (4, 2) float (x, y): the paper's corners, clockwise from top-left
    angle: float          # degrees the page is turned (counter-clockwise on screen)


def composed_photo(name, k=0):
    """Photo k (0 or 1 in the standard set) of handout page `name`; returns a Photo. The JPEG is
    cached ($HW5_CACHE_DIR/composed-photos), keyed by this module's code and the page's bytes."""
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

    cached = cache_dir() / "composed-photos" / f"{_key(name, k, page)}.jpg"
    if cached.is_file():
        photo = np.asarray(Image.open(cached).convert("RGB"))
    else:
        photo = _compose(page, to_photo, rng, k)
        cached.parent.mkdir(parents=True, exist_ok=True)
        partial = cached.with_suffix(f".{os.getpid()}.part")
        Image.fromarray(photo).save(partial, format="JPEG", quality=JPEG_QUALITY)
        partial.replace(cached)   # whole or not at all: a parallel grading never reads half a file
        photo = np.asarray(Image.open(cached).convert("RGB"))

    box_corners = np.stack([boxes[:, [1, 0]], boxes[:, [3, 0]], boxes[:, [3, 2]], boxes[:, [1, 2]]], axis=1)
    mapped = to_photo(box_corners.reshape(-1, 2).astype(float)).reshape(-1, 4, 2)
    extents = np.stack([mapped[..., 1].min(1), mapped[..., 0].min(1), mapped[..., 1].max(1), mapped[..., 0].max(1)], 1)
    return Photo(photo, np.round(extents).astype(int), labels, lines, outline, angle)


def cached_photo_file(name, k=0):
    """The cached JPEG of photo k of page `name` (composed first if it is not cached): a Path, for
    the Gradescope zip to carry (the graded check composes the four k = 0 photos)."""
    composed_photo(name, k)
    return cache_dir() / "composed-photos" / f"{_key(name, k, load_page(name)[0])}.jpg"


def standard_photos():
    """The standard set: two photos of each of the four pages, (name, k) pairs."""
    return [(name, k) for name in PAGES for k in (0, 1)]


def _key(name, k, page):
    digest = hashlib.sha256(Path(__file__).read_bytes() + name.encode() + bytes([k]) + page.tobytes())
    return digest.hexdigest()[:24]


def _compose(page, to_photo, rng, k):
    """The page placed by to_photo on a surround, lit unevenly: (3000, 4000, 3) uint8 (before the
    JPEG). Worked out BAND rows at a time: a 12-megapixel float copy of the frame is 144 MB."""
    height, width = FRAME
    paper = np.asarray(Image.fromarray(page).transform((width, height), Image.Transform.PERSPECTIVE,
                                                       _pil_coefficients(to_photo.inverse), Image.Resampling.BICUBIC))
    inside = np.asarray(Image.new("L", page.shape[1::-1], 255).transform(
        (width, height), Image.Transform.PERSPECTIVE, _pil_coefficients(to_photo.inverse), Image.Resampling.BILINEAR))
    surround = _Surround(rng, k)
    light = _Light(rng)
    photo = np.empty((height, width, 3), dtype=np.uint8)
    for top in range(0, height, BAND):
        rows = slice(top, min(height, top + BAND))
        alpha = inside[rows, :, None].astype(np.float32) / 255
        band = surround.band(rows) * (1 - alpha) + paper[rows].astype(np.float32) * alpha
        band *= light.band(rows)[..., None]
        photo[rows] = np.clip(band, 0, 255).astype(np.uint8)
    return photo


def _pil_coefficients(transform):
    """PIL's 8 perspective coefficients of a skimage ProjectiveTransform (output -> input pixels)."""
    matrix = transform.params / transform.params[2, 2]
    return tuple(matrix.reshape(-1)[:8])


class _Surround:
    """A dark textured surround, in 0-255: wood grain (k even: noise stretched along the rows, a
    warm brown) or a dark woven cloth (k odd: a fine weave and blotches, blue-grey)."""

    def __init__(self, rng, k):
        height, width = FRAME
        self.wood = k % 2 == 0
        if self.wood:
            self.coarse, self.fine = _upscaled_noise(rng, (height // 6, 12)), _upscaled_noise(rng, (height // 2, width // 40))
            self.colour = np.array([70, 45, 28], dtype=np.float32)
        else:
            self.coarse, self.fine = _upscaled_noise(rng, (12, 16)), None
            self.colour = np.array([42, 46, 58], dtype=np.float32)
        self.rng = rng

    def band(self, rows):
        """The surround's rows: (len, 4000, 3) float32."""
        if self.wood:
            shade = 0.55 + 0.3 * self.coarse[rows] + 0.15 * self.fine[rows]
        else:
            y = np.arange(rows.start, rows.stop, dtype=np.float32)[:, None]
            x = np.arange(FRAME[1], dtype=np.float32)[None, :]
            shade = 0.6 + 0.25 * self.coarse[rows] + 0.15 * (0.5 + 0.25 * np.sin(y * 0.9) * np.sin(x * 0.9))
        shade += self.rng.normal(0, 0.05, shade.shape).astype(np.float32)
        return shade[..., None] * self.colour


def _upscaled_noise(rng, shape):
    """Uniform noise of a small shape, resized smoothly to the frame: (3000, 4000) float32 in [0, 1]."""
    small = Image.fromarray(rng.uniform(0, 1, shape).astype(np.float32), mode="F")
    return np.asarray(small.resize(FRAME[::-1], Image.Resampling.BICUBIC), dtype=np.float32)


class _Light:
    """Uneven light over the frame: a gradient from one side and a vignette, in about [0.65, 1.1]."""

    def __init__(self, rng):
        self.direction = rng.uniform(0, 2 * np.pi)

    def band(self, rows):
        """The light on the frame's rows: (len, 4000) float32."""
        height, width = FRAME
        y = np.linspace(-1, 1, height, dtype=np.float32)[rows, None]
        x = np.linspace(-1, 1, width, dtype=np.float32)[None, :]
        gradient = 0.9 + 0.15 * (np.cos(self.direction) * x + np.sin(self.direction) * y)
        return gradient * (1 - 0.15 * (x ** 2 + y ** 2) / 2)
