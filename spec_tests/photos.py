"""Phone photos of the handout pages, composed with their ground truth: each page lies on a dark,
textured surround (a wooden desk, a dark cloth), turned 5-20 degrees, seen with some perspective,
in a 12-megapixel (4000 x 3000) frame, lit unevenly and saved as a JPEG.

Harder kinds (KINDS; "desk" is the standard set above, which the grader's Q4.2 check uses):
  slanted      each line of writing runs at 3-8 degrees to the paper's edges (its own angle, within
               1.5 degrees of the page's) and bows slightly, as handwriting does on unruled paper;
  pencil       thin grey strokes: the ink thinned by about a third of its width each side, made grey
               and lightened to 35-50 % of its contrast;
  white_desk   a light, nearly plain surround, brighter than the paper, with part of the paper
               (never its writing) outside the frame;
  shadow       a soft-edged shadow across the page (45-60 % of the light);
  perspective  a strong keystone: the paper's far edge 25-35 % shorter than its near edge.

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
import scipy.ndimage
import skimage.filters
import skimage.morphology
import skimage.transform
from PIL import Image

from hw5data.paths import cache_dir
from spec_tests.pages import PAGES, load_page, page_lines

FRAME = (3000, 4000)          # (rows, columns): 12 megapixels, landscape
ANGLES = (7.0, -12.0, 16.0, -19.0, -6.0, 10.0, -15.0, 20.0)   # photo k of page i is turned ANGLES[(2i + k) % 8]
PERSPECTIVE = 0.04            # each corner moves up to this fraction of the page's diagonal
JPEG_QUALITY = 88
BAND = 500                    # rows composed at a time
KINDS = ("desk", "slanted", "pencil", "white_desk", "shadow", "perspective")
ALTERED_PIXELS = 5e6          # a harder kind alters a copy of the page of at most this many pixels (04_deep: 12 MP)


class Photo(NamedTuple):
    image: np.ndarray     # (3000, 4000, 3) uint8
    boxes: np.ndarray     # (N, 4) int [y1, x1, y2, x2]: the extent of each true box in the photo
    labels: str           # the N characters, in the ground truth's order
    lines: list           # the page's true lines of text
    outline: np.ndarray   # (4, 2) float (x, y): the paper's corners, clockwise from top-left
    angle: float          # degrees the page is turned (counter-clockwise on screen)


def composed_photo(name, k=0, kind="desk"):
    """Photo k (0 or 1 in the standard set) of handout page `name`, of one of KINDS; returns a
    Photo. The JPEG is cached ($HW5_CACHE_DIR/composed-photos), keyed by this module's code, the
    kind and the page's bytes."""
    page, boxes, labels, lines, to_photo, outline, rng = _placement(name, k, kind)
    cached = cache_dir() / "composed-photos" / f"{_key(name, k, page, kind)}.jpg"
    if cached.is_file():
        photo = np.asarray(Image.open(cached).convert("RGB"))
    else:
        photo = _compose(page, to_photo, rng, k, kind, outline)
        cached.parent.mkdir(parents=True, exist_ok=True)
        partial = cached.with_suffix(f".{os.getpid()}.part")
        Image.fromarray(photo).save(partial, format="JPEG", quality=JPEG_QUALITY)
        partial.replace(cached)   # whole or not at all: a parallel grading never reads half a file
        photo = np.asarray(Image.open(cached).convert("RGB"))
    return Photo(photo, _photo_boxes(boxes, to_photo), labels, lines, outline, ANGLES[(2 * PAGES.index(name) + k) % len(ANGLES)])


def photo_geometry(name, k=0, kind="desk"):
    """The ground truth of composed_photo(name, k, kind) without drawing the photo (fast):
    (boxes (N, 4) int in the photo, outline (4, 2) (x, y), to_photo: the homography from the
    altered page's pixels (x, y) to the photo's; its inverse maps the photo back onto the paper)."""
    _, boxes, _, _, to_photo, outline, _ = _placement(name, k, kind)
    return _photo_boxes(boxes, to_photo), outline, to_photo


def _placement(name, k, kind):
    """The (altered) page, its boxes, labels and true lines, the homography page -> photo, the
    paper's outline in the photo, and the random generator the drawing goes on with."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind of composed photo {kind!r}; one of {KINDS}")
    page, boxes, labels, lines = load_page(name)
    index = 2 * PAGES.index(name) + k
    rng = np.random.default_rng(1000 + index if kind == "desk" else [1000 + index, KINDS.index(kind)])
    if kind in ("slanted", "pencil"):
        page, boxes = _smaller(page, boxes)
        page, boxes = (_slanted(page, boxes, page_lines(name), rng) if kind == "slanted" else _pencil(page, boxes, rng))
    angle = ANGLES[index % len(ANGLES)]
    height, width = FRAME
    corners = np.array([[0, 0], [page.shape[1], 0], [page.shape[1], page.shape[0]], [0, page.shape[0]]], dtype=float)
    shape = corners.copy()
    if kind == "perspective":   # the far (top) edge shorter: the page tilted away from the camera
        pull = rng.uniform(0.125, 0.175) * page.shape[1]
        shape[0, 0] += pull
        shape[1, 0] -= pull
    turned = skimage.transform.EuclideanTransform(rotation=np.deg2rad(-angle))(shape - shape.mean(0))
    span = turned.max(0) - turned.min(0)
    scale = rng.uniform(0.6, 0.8) * min(width / span[0], height / span[1])
    centre = np.array([width, height]) / 2 + rng.uniform(-0.06, 0.06, 2) * [width, height]
    outline = turned * scale + centre
    outline += rng.uniform(-1, 1, (4, 2)) * PERSPECTIVE * scale * np.hypot(*page.shape[:2])
    to_photo = skimage.transform.estimate_transform("projective", corners, outline)
    if kind == "white_desk":
        outline = outline + _off_frame_shift(_photo_boxes(boxes, to_photo), outline, rng)
        to_photo = skimage.transform.estimate_transform("projective", corners, outline)
    return page, boxes, labels, lines, to_photo, outline, rng


def _photo_boxes(boxes, to_photo):
    """Each page box mapped into the photo: the extent of its four mapped corners, (N, 4) int."""
    box_corners = np.stack([boxes[:, [1, 0]], boxes[:, [3, 0]], boxes[:, [3, 2]], boxes[:, [1, 2]]], axis=1)
    mapped = to_photo(box_corners.reshape(-1, 2).astype(float)).reshape(-1, 4, 2)
    extents = np.stack([mapped[..., 1].min(1), mapped[..., 0].min(1), mapped[..., 1].max(1), mapped[..., 0].max(1)], 1)
    return np.round(extents).astype(int)


def _off_frame_shift(boxes, outline, rng, margin=20):
    """(dx, dy) that moves the paper partly out of one side of the frame (up to 6 % of its extent
    there), never its writing: every box stays `margin` px inside the frame."""
    height, width = FRAME
    side = int(rng.integers(4))   # left, right, top, bottom
    extent = outline.max(0) - outline.min(0)
    shift = np.zeros(2)
    if side in (0, 1):
        want = (outline[:, 0].min() if side == 0 else width - outline[:, 0].max()) + rng.uniform(0.03, 0.06) * extent[0]
        room = (boxes[:, 1].min() if side == 0 else width - boxes[:, 3].max()) - margin
        shift[0] = min(want, room) * (-1 if side == 0 else 1)
    else:
        want = (outline[:, 1].min() if side == 2 else height - outline[:, 1].max()) + rng.uniform(0.03, 0.06) * extent[1]
        room = (boxes[:, 0].min() if side == 2 else height - boxes[:, 2].max()) - margin
        shift[1] = min(want, room) * (-1 if side == 2 else 1)
    return shift


def _smaller(page, boxes):
    """The page and its boxes at most ALTERED_PIXELS (an altered kind redraws the page)."""
    factor = min(1.0, np.sqrt(ALTERED_PIXELS / (page.shape[0] * page.shape[1])))
    if factor == 1.0:
        return page, boxes
    small = np.asarray(Image.fromarray(page).resize((round(page.shape[1] * factor), round(page.shape[0] * factor)),
                                                    Image.Resampling.LANCZOS))
    return small, np.round(boxes * factor).astype(int)


def _slanted(page, boxes, lines, rng, tries=6):
    """Each true line of writing turned by its own slope and bowed: every pixel moves down by
    slope(y) * (x - W/2) + bow(y) * u**2 (u = -1..1 across the page), slope and bow interpolated
    between the lines' centres, so the letters shear with their line. Returns (page, boxes) of the
    slanted page, padded with its edge rows; lines stay apart (the jitter halves until they do)."""
    height, width = page.shape[:2]
    centres = np.array([np.mean((boxes[line, 0] + boxes[line, 2]) / 2) for line in lines])
    order = np.argsort(centres)
    sign = rng.choice([-1.0, 1.0])
    base = rng.uniform(3, 8)
    jitter, bows = rng.uniform(-1, 1, len(lines)), rng.uniform(-1, 1, len(lines))
    char_height = np.median(boxes[:, 2] - boxes[:, 0])
    for _ in range(tries):
        slopes = sign * np.tan(np.deg2rad(np.clip(base + 1.5 * jitter, 3, 8)))
        bow = 0.5 * char_height * bows

        def shift(y, x, slopes=slopes, bow=bow):
            u = (np.asarray(x, dtype=float) - width / 2) / (width / 2)
            return (np.interp(y, centres[order], slopes[order]) * u * width / 2
                    + np.interp(y, centres[order], bow[order]) * u ** 2)

        xs = boxes[:, [1]] + (boxes[:, [3]] - boxes[:, [1]]) * np.linspace(0, 1, 5)[None, :]
        top = (boxes[:, [0]] + shift(boxes[:, [0]], xs)).min(1)
        bottom = (boxes[:, [2]] + shift(boxes[:, [2]], xs)).max(1)
        if _lines_apart(top, bottom, boxes, lines):
            break
        jitter, bows = jitter / 2, bows / 2
    else:
        raise AssertionError("slanted lines still touch after halving their jitter; change the seed")
    pad = int(np.ceil(max(0.0, -top.min(), bottom.max() - height))) + 10
    rows, cols = np.mgrid[0:height + 2 * pad, 0:width].astype(np.float32)
    source = rows - pad
    source -= shift(source, cols).astype(np.float32)   # the output row y shows page row y - shift
    padded = np.pad(page, ((pad, pad), (0, 0), (0, 0)), mode="edge")
    slanted = np.stack([scipy.ndimage.map_coordinates(padded[..., c], [source + pad, cols], order=1, mode="nearest")
                        for c in range(3)], axis=2)
    # Each box's ink, labelled and moved with the page (nearest pixel), gives its box on the slanted page.
    labels = np.pad(_ink_labels(page, boxes), ((pad, pad), (0, 0)))
    moved_labels = scipy.ndimage.map_coordinates(labels, [source + pad, cols], order=0, mode="constant")
    moved = np.stack([np.floor(top) + pad, boxes[:, 1], np.ceil(bottom) + pad, boxes[:, 3]], axis=1).astype(int)
    for i, found in enumerate(scipy.ndimage.find_objects(moved_labels, max_label=len(boxes))):
        if found is not None:
            moved[i] = [found[0].start, found[1].start, found[0].stop, found[1].stop]
    return slanted, moved


def _ink_labels(page, boxes):
    """(H, W) int32: i + 1 where box i holds ink (darker than Otsu's threshold of the page), else 0."""
    grey = page.mean(axis=2)
    ink = grey < skimage.filters.threshold_otsu(grey)
    labels = np.zeros(grey.shape, dtype=np.int32)
    for i, (y1, x1, y2, x2) in enumerate(boxes):
        labels[y1:y2, x1:x2] = np.where(ink[y1:y2, x1:x2], i + 1, labels[y1:y2, x1:x2])
    return labels


def _lines_apart(top, bottom, boxes, lines):
    """Whether every box of a line stays below every box of the line above that it overlaps in x."""
    for upper, lower in zip(lines[:-1], lines[1:], strict=True):
        for i in lower:
            overlap = (boxes[upper, 1] < boxes[i, 3]) & (boxes[upper, 3] > boxes[i, 1])
            if overlap.any() and top[i] <= bottom[upper][overlap].max():
                return False
    return True


def _pencil(page, boxes, rng):
    """Thin grey strokes: the dark ink shrunk by about a third of its width on each side (a grey
    max filter) and lightened to 35-50 % of its darkness against the paper around it (the paper's
    own tint and shading kept: each pixel is the local paper times 1 - that darkness). Returns
    (page, boxes), each box shrunk as its ink is."""
    grey = page.mean(axis=2, dtype=np.float32)
    ink = grey < skimage.filters.threshold_otsu(grey)
    inside = np.zeros_like(ink)
    for y1, x1, y2, x2 in boxes:
        inside[y1:y2, x1:x2] = True
    ink &= inside
    width = ink.sum() / max(1, skimage.morphology.skeletonize(ink).sum())
    radius = max(1, int(0.3 * width))
    thinned = scipy.ndimage.grey_dilation(grey, footprint=skimage.morphology.disk(radius))
    # the paper without its ink: a max filter wider than any stroke, smoothed
    window = int(4 * width) + 1
    paper = np.stack([scipy.ndimage.gaussian_filter(scipy.ndimage.maximum_filter(page[..., c].astype(np.float32), window),
                                                    window / 2) for c in range(3)], axis=2)
    darkness = np.clip(1 - thinned / np.maximum(paper.mean(axis=2), 1), 0, 1) * rng.uniform(0.35, 0.5)
    pencil = np.clip(paper * (1 - darkness[..., None]), 0, 255).astype(np.uint8)
    return pencil, boxes + np.array([radius, radius, -radius, -radius])


def cached_photo_file(name, k=0):
    """The cached JPEG of photo k of page `name` (composed first if it is not cached): a Path, for
    the Gradescope zip to carry (the graded check composes the four k = 0 photos)."""
    composed_photo(name, k)
    return cache_dir() / "composed-photos" / f"{_key(name, k, load_page(name)[0], 'desk')}.jpg"


def standard_photos():
    """The standard set: two photos of each of the four pages, (name, k) pairs."""
    return [(name, k) for name in PAGES for k in (0, 1)]


def _key(name, k, page, kind):
    digest = hashlib.sha256(Path(__file__).read_bytes() + name.encode() + bytes([k]) + kind.encode() + page.tobytes())
    return digest.hexdigest()[:24]


def _compose(page, to_photo, rng, k, kind="desk", outline=None):
    """The page placed by to_photo on a surround, lit unevenly: (3000, 4000, 3) uint8 (before the
    JPEG). Worked out BAND rows at a time: a 12-megapixel float copy of the frame is 144 MB."""
    height, width = FRAME
    paper = np.asarray(Image.fromarray(page).transform((width, height), Image.Transform.PERSPECTIVE,
                                                       _pil_coefficients(to_photo.inverse), Image.Resampling.BICUBIC))
    inside = np.asarray(Image.new("L", page.shape[1::-1], 255).transform(
        (width, height), Image.Transform.PERSPECTIVE, _pil_coefficients(to_photo.inverse), Image.Resampling.BILINEAR))
    surround = _Surround(rng, k, white=kind == "white_desk")
    light = _Light(rng, shadow_across=outline if kind == "shadow" else None)
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
    warm brown) or a dark woven cloth (k odd: a fine weave and blotches, blue-grey); white: a light,
    nearly plain desk top (a broad shading, a little grain), brighter than the handout's paper."""

    def __init__(self, rng, k, white=False):
        height, width = FRAME
        self.wood = k % 2 == 0 and not white
        self.white = white
        if white:
            self.coarse, self.fine = _upscaled_noise(rng, (6, 8)), None
            self.colour = np.array([238, 236, 231], dtype=np.float32)
        elif self.wood:
            self.coarse, self.fine = _upscaled_noise(rng, (height // 6, 12)), _upscaled_noise(rng, (height // 2, width // 40))
            self.colour = np.array([70, 45, 28], dtype=np.float32)
        else:
            self.coarse, self.fine = _upscaled_noise(rng, (12, 16)), None
            self.colour = np.array([42, 46, 58], dtype=np.float32)
        self.rng = rng

    def band(self, rows):
        """The surround's rows: (len, 4000, 3) float32."""
        if self.white:
            shade = 0.9 + 0.08 * self.coarse[rows]
            shade += self.rng.normal(0, 0.015, shade.shape).astype(np.float32)
            return shade[..., None] * self.colour
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
    """Uneven light over the frame: a gradient from one side and a vignette, in about [0.65, 1.1];
    with shadow_across (a paper outline (4, 2)), a soft-edged shadow (45-60 % of the light) over
    the part of the frame beyond a random line through the paper's middle third."""

    def __init__(self, rng, shadow_across=None):
        self.direction = rng.uniform(0, 2 * np.pi)
        self.shadow = None
        if shadow_across is not None:
            centre = shadow_across.mean(0) + rng.uniform(-1, 1, 2) * (shadow_across.max(0) - shadow_across.min(0)) / 6
            normal = rng.uniform(0, 2 * np.pi)
            self.shadow = (centre, np.array([np.cos(normal), np.sin(normal)]), rng.uniform(0.45, 0.6), rng.uniform(15, 40))

    def band(self, rows):
        """The light on the frame's rows: (len, 4000) float32."""
        height, width = FRAME
        y = np.linspace(-1, 1, height, dtype=np.float32)[rows, None]
        x = np.linspace(-1, 1, width, dtype=np.float32)[None, :]
        gradient = 0.9 + 0.15 * (np.cos(self.direction) * x + np.sin(self.direction) * y)
        light = gradient * (1 - 0.15 * (x ** 2 + y ** 2) / 2)
        if self.shadow is not None:
            (cx, cy), (nx, ny), depth, softness = self.shadow
            ys = np.arange(rows.start, rows.stop, dtype=np.float32)[:, None]
            xs = np.arange(width, dtype=np.float32)[None, :]
            beyond = 1 / (1 + np.exp(-((xs - cx) * nx + (ys - cy) * ny) / softness))   # 0 in the light, 1 in shadow
            light = light * (1 - (1 - depth) * beyond)
        return light
