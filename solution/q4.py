"""Q4.2: find the handwritten characters in a photo of a page (the handout's q4.py)."""
from typing import NamedTuple

import numpy as np
import scipy.ndimage
import scipy.spatial
import skimage.color
import skimage.draw
import skimage.filters
import skimage.measure
import skimage.morphology
import skimage.transform

WORK_SIDE = 1200        # px: the long side the page is analysed at (a 3024x4032 photo is 8x slower)
SHADING_SIGMA = 1 / 40  # of the long side: paper shading is far wider than a stroke
MIN_DARKNESS = 0.12     # ink is at least this much darker than the paper around it
# On a photo's straightened paper, where pencil strokes come out 1-2 px wide and light: ink is at
# least FAINT_DARKNESS darker somewhere, and a stroke is followed down to FAINT_SHARE of the threshold.
FAINT_DARKNESS, FAINT_SHARE, FAINT_EDGE = 0.06, 0.5, 6   # FAINT_EDGE: px along the edge no faint stroke is followed into
EDGE_DEPTH, EDGE_LETTER = 12, 0.15   # a piece at the straightened page's edge is writing if it reaches 12 px
                                     # in and spans at most 0.15 of the page's long side
FAINT_PAPER = 6         # px: half the width of the closing that takes the strokes out of the paper
# The page finder looks at a small copy of the photo: the paper must be a bright, four-sided region
# that the surround is darker than by PAPER_CONTRAST at its edges (a shading boundary inside a
# page that fills the frame has about the same brightness on both sides of it).
FIND_SIDE = 500         # px: the long side of the copy the paper is looked for in
PAPER_CONTRAST = 0.7    # surround / paper brightness across the paper's edge, at most
SHADOW_GROWTH = 1.1     # a paper found whole past a shadow is taken if this much larger than its lit part
LIGHT_SURROUND_CONTRAST = 0.85  # paper / surround brightness, at most, where the surround is the lighter (a white desk)
MIN_COLOUR_STEP = 1.5    # CIELAB (a*, b*) distance between paper and surround, at least, where only colour tells them apart
PAPER_AREA = (0.04, 0.95)  # the paper's share of the frame
PAPER_FIT = 0.95        # the fitted quadrilateral and the bright region overlap this much (IoU)
PAPER_INSET = 0.004     # of the paper's size: the straightened page stops this far inside the
                        # outline found, so no surround shows along its edges (the handout's
                        # pages have letters 1% from the edge)


class Page(NamedTuple):
    """The characters found on the page, in the upright page's pixels (working resolution)."""
    ink: np.ndarray       # (h, w) bool: ink on the upright page
    boxes: np.ndarray     # (N, 4) int [y1, x1, y2, x2] in the upright page's pixels
    to_image: object      # skimage transform: upright page (x, y) -> image (x, y)
    outline: object       # (4, 2) float (x, y) corners of the paper in the image, clockwise from
                          # the top-left; None when the paper fills the photo


def findLetters(image):
    """Q4.2 locate every handwritten character in an RGB photo of a page.

    Inputs:  image (H, W, 3) RGB (or RGBA, or (H, W) grey), uint8 or float in [0, 1].
    Returns: (bboxes, bw): bboxes (N, 4) int array of [y1, x1, y2, x2] rows in image pixels,
             top-left corner inclusive and bottom-right exclusive (as regionprops gives them), one
             per character; bw (H, W) float in [0, 1], characters black (0) on white (1).
    Where the paper lies on a darker surround, only the paper is read, straightened (find_page);
    a box is then the extent of the character's straightened box in the photo.
    """
    page = find_characters(image)
    shape = np.asarray(image).shape[:2]
    return page_boxes_in_image(page, shape), np.where(page_ink_in_image(page, shape), 0.0, 1.0)


def find_characters(image):
    """The characters of a photo on its upright page: find_page, then the ink and its boxes.
    Inputs: image as findLetters takes it. Returns a Page."""
    image = np.asarray(image)
    outline = find_page(image)
    if outline is None:  # the paper fills the photo: the whole photo, at WORK_SIDE
        gray = _gray(image)
        scale = _work_scale(gray.shape)
        small = skimage.transform.rescale(gray, scale, anti_aliasing=True) if scale < 1 else gray
        ink = _ink(small)
        return Page(ink, _character_boxes(ink), skimage.transform.AffineTransform(scale=1 / scale), None)
    upright, to_image = _straightened(image, outline)
    ink = _clear_paper_edge(_ink(upright, faint=True))
    return Page(ink, _character_boxes(ink), to_image, outline)


def page_boxes_in_image(page, shape):
    """A Page's boxes in the image's pixels: (N, 4) int [y1, x1, y2, x2], within shape (H, W)."""
    if page.outline is None:  # a scaling of the whole photo
        scale = _work_scale(shape)
        boxes = page.boxes.reshape(-1, 4)
        if scale < 1:
            boxes = np.round(boxes / scale).astype(int)
            boxes[:, 2:] = np.minimum(boxes[:, 2:], shape)
        return boxes.astype(int)
    boxes = page.boxes.reshape(-1, 4).astype(float)
    corners = np.stack([boxes[:, [1, 0]], boxes[:, [3, 0]], boxes[:, [3, 2]], boxes[:, [1, 2]]], axis=1)
    mapped = page.to_image(corners.reshape(-1, 2)).reshape(-1, 4, 2)
    found = np.stack([mapped[..., 1].min(1), mapped[..., 0].min(1), mapped[..., 1].max(1), mapped[..., 0].max(1)], 1)
    found = np.round(found).astype(int)
    found[:, :2] = np.maximum(found[:, :2], 0)
    found[:, 2:] = np.minimum(found[:, 2:], shape)
    return found.reshape(-1, 4)


def page_ink_in_image(page, shape):
    """A Page's ink mask in the image's pixels, (H, W) bool: each image pixel takes the nearest
    upright pixel (mapped at a reduced size first where the image is large, then enlarged)."""
    if page.outline is None:  # a scaling: index the rows and columns
        scale = _work_scale(shape)
        if scale == 1:
            return page.ink
        rows = np.minimum((np.arange(shape[0]) * scale).astype(int), page.ink.shape[0] - 1)
        cols = np.minimum((np.arange(shape[1]) * scale).astype(int), page.ink.shape[1] - 1)
        return page.ink[np.ix_(rows, cols)]
    step = max(1, int(max(shape) // (2 * WORK_SIDE)))
    small_shape = (-(-shape[0] // step), -(-shape[1] // step))
    # warp's map (a 3x3 matrix: its fast path) takes each pixel of the reduced image to the upright page's pixel it shows
    small_to_upright = np.linalg.inv(_scaling(1 / step) @ page.to_image.params)
    ink = skimage.transform.warp(page.ink.astype(np.float32), small_to_upright, output_shape=small_shape,
                                 order=1, cval=0) > 0.5   # order 1: warp's fast path
    return np.repeat(np.repeat(ink, step, axis=0), step, axis=1)[:shape[0], :shape[1]]


def _clear_paper_edge(ink):
    """The ink of a straightened paper less what lies along its edge (the paper's edge and the
    surround's shading): a piece that touches the edge goes unless it is letter-sized (at most
    EDGE_LETTER of the page's long side) and reaches EDGE_DEPTH px into the page, as a letter
    written up to the edge does."""
    labels = skimage.measure.label(ink)
    height, width = ink.shape
    for region in skimage.measure.regionprops(labels):
        top, left, bottom, right = region.bbox
        if top > 0 and left > 0 and bottom < height and right < width:
            continue
        depth = max(bottom if top == 0 else 0, right if left == 0 else 0,
                    height - top if bottom == height else 0, width - left if right == width else 0)
        if depth < EDGE_DEPTH or max(bottom - top, right - left) > EDGE_LETTER * max(height, width):
            ink[labels == region.label] = False
    return ink


def _work_scale(shape):
    """The factor a whole photo of this (H, W) shape is analysed at: its long side to WORK_SIDE, never enlarged."""
    return min(1.0, WORK_SIDE / max(shape[:2]))


def find_page(image):
    """The paper's outline where a page lies on a surround darker than it (a desk, a cloth) or,
    failing that, clearly lighter (a white desk), or as light but of another colour (_colour_outline).

    Inputs:  image as findLetters takes it.
    Returns: (4, 2) float (x, y) corners in image pixels, clockwise from the top-left, or None when
             no such paper is seen (the paper fills the photo, as on the handout's four pages).
    """
    image = np.asarray(image)
    step = max(1, int(np.ceil(max(image.shape[:2]) / FIND_SIDE)))
    small = skimage.filters.gaussian(_gray(image[::step, ::step]), sigma=2)
    if np.ptp(small) < 1e-3:   # one grey level (a blank frame): nothing to tell the paper by
        return None
    threshold = skimage.filters.threshold_otsu(small)
    bright = _paper_outline(small, small > threshold, paper_is_bright=True)
    # A shadow across the paper: Otsu's two classes split its lit part from the rest; the lower of
    # three classes' thresholds keeps it whole. Taken where it is a paper's edge all round and
    # clearly larger (the two differ by the paper's soft edge otherwise, where Otsu's is the tighter).
    whole = _paper_outline(small, small > skimage.filters.threshold_multiotsu(small, classes=3)[0], paper_is_bright=True)
    if whole is not None and _dark_beyond_every_side(small, whole) and \
            (bright is None or _area(whole) > SHADOW_GROWTH * _area(bright)):
        return whole * step   # the copy took every step-th pixel
    if bright is not None:
        return bright * step
    corners = _paper_outline(small, small < threshold, paper_is_bright=False)
    if corners is not None:
        return corners * step
    # A light surround lit unevenly (one end of the desk darker than the paper): divide the light out
    flat = small / _light_over_surround(small)
    corners = _paper_outline(flat, flat < skimage.filters.threshold_otsu(flat), paper_is_bright=False)
    if corners is None and image.ndim == 3:   # as light as the surround all along one side: its colour may differ
        corners = _colour_outline(image[::step, ::step])
    return None if corners is None else corners * step


def _colour_outline(rgb):
    """The paper's corners (4, 2) (x, y) in a small RGB copy (h, w, 3) where its colour, not its
    grey level, sets it apart from the surround, or None.

    Each pixel's distance from the copy's median colour (CIELAB a*, b*; smoothed) is split by Otsu.
    The paper is whichever side _paper_outline finds four-sided: the far side (a paper smaller than
    the surround, which sets the median) with the surround at most PAPER_CONTRAST times as far off,
    or the near side with the surround clearly further off; its median colour must lie at least
    MIN_COLOUR_STEP from the surround's (a just-noticeable difference is about 2.3)."""
    lab = skimage.color.rgb2lab(skimage.filters.gaussian(skimage.img_as_float32(rgb[..., :3]), sigma=2, channel_axis=-1))
    a, b = lab[..., 1], lab[..., 2]
    distance = np.hypot(a - np.median(a), b - np.median(b))
    if np.ptp(distance) < 1e-3:   # one colour (a grey photo)
        return None
    threshold = skimage.filters.threshold_otsu(distance)
    for side, paper_is_far in ((distance > threshold, True), (distance < threshold, False)):
        corners = _paper_outline(distance, side, paper_is_bright=paper_is_far)
        if corners is not None:
            paper = skimage.draw.polygon2mask(distance.shape, corners[:, ::-1])
            difference = np.linalg.norm(np.median(lab[paper][:, 1:], 0) - np.median(lab[~paper][:, 1:], 0))
            return corners if difference >= MIN_COLOUR_STEP else None
    return None


def _area(corners):
    """The area of a polygon (K, 2) (x, y) (the shoelace formula)."""
    x, y = corners.T
    return 0.5 * abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))


def _dark_beyond_every_side(small, corners, offset=6):
    """Whether, along each side of the quadrilateral (4, 2) (x, y) in the copy, the copy just outside
    is at most PAPER_CONTRAST times as bright as just inside (samples outside the frame skipped):
    a paper's edge all round, not a region that has swallowed some of a bright desk."""
    centre = corners.mean(0)
    height, width = small.shape
    for a, b in zip(corners, np.roll(corners, -1, axis=0), strict=True):
        points = a + np.linspace(0.2, 0.8, 25)[:, None] * (b - a)
        normal = np.array([a[1] - b[1], b[0] - a[0]]) / max(np.linalg.norm(b - a), 1e-9)
        normal *= np.sign(normal @ (centre - (a + b) / 2))   # pointing into the paper
        inner, outer = points + offset * normal, points - offset * normal
        seen = (outer[:, 0] >= 0) & (outer[:, 0] < width - 1) & (outer[:, 1] >= 0) & (outer[:, 1] < height - 1)
        if seen.sum() < 5:
            continue
        values = [small[np.clip(p[seen, 1].round().astype(int), 0, height - 1), np.clip(p[seen, 0].round().astype(int), 0, width - 1)]
                  for p in (inner, outer)]
        if np.median(values[1]) > PAPER_CONTRAST * np.median(values[0]):
            return False
    return True


def _light_over_surround(small, rounds=4):
    """(h, w): a quadratic surface fitted to the copy's upper envelope (each round refits to the
    pixels at or above the last fit): the light on a surround brighter than the paper."""
    height, width = small.shape
    y, x = np.mgrid[0:height, 0:width]
    y, x = y / height - 0.5, x / width - 0.5
    terms = np.stack([np.ones_like(x), x, y, x * x, x * y, y * y], axis=-1)
    rows, values = terms[::4, ::4].reshape(-1, 6), small[::4, ::4].ravel()
    keep = np.ones(len(values), dtype=bool)
    for _ in range(rounds):
        coefficients = np.linalg.lstsq(rows[keep], values[keep], rcond=None)[0]
        keep = values >= rows @ coefficients - 0.01
    return np.maximum(terms @ coefficients, 1e-3)


def _paper_outline(small, side, paper_is_bright):
    """The paper's corners in the small copy, if the largest region of one side of the threshold
    (side, (h, w) bool) is a four-sided paper: 4-95 % of the frame, its edge mostly inside the
    frame, and the surround across that edge at most PAPER_CONTRAST times as bright as the paper
    (paper_is_bright) or the paper at most LIGHT_SURROUND_CONTRAST times as bright as the surround."""
    region = scipy.ndimage.binary_opening(side, skimage.morphology.disk(3))
    labels = skimage.measure.label(region)
    if labels.max() == 0:
        return None
    paper = scipy.ndimage.binary_fill_holes(labels == np.argmax(np.bincount(labels.ravel())[1:]) + 1)
    if not PAPER_AREA[0] <= paper.mean() <= PAPER_AREA[1]:
        return None
    inside = paper & ~scipy.ndimage.binary_erosion(paper, skimage.morphology.disk(4))
    outside = scipy.ndimage.binary_dilation(paper, skimage.morphology.disk(8)) & \
        ~scipy.ndimage.binary_dilation(paper, skimage.morphology.disk(4))
    if outside.sum() < 0.25 * inside.sum():  # the region's edge is mostly the frame's
        return None
    paper_level, surround_level = np.median(small[inside]), np.median(small[outside])
    if paper_is_bright and surround_level > PAPER_CONTRAST * paper_level:
        return None
    if not paper_is_bright and paper_level > LIGHT_SURROUND_CONTRAST * surround_level:
        return None
    return _quadrilateral(paper)


def _quadrilateral(region):
    """Four corners (x, y), clockwise from the top-left, of a four-sided region (h, w) bool: each
    side a line fitted to the middle of its stretch of the outline. None if the region is no
    quadrilateral (the fitted one overlaps it by under PAPER_FIT)."""
    contour = max(skimage.measure.find_contours(np.pad(region, 1).astype(float), 0.5), key=len)[:, ::-1] - 1
    hull = contour[scipy.spatial.ConvexHull(contour).vertices]
    # where the paper runs out of the frame, the outline follows the frame's edge: not a side of the paper's
    height, width = region.shape
    on_paper_edge = (contour[:, 0] > 0) & (contour[:, 0] < width - 1) & (contour[:, 1] > 0) & (contour[:, 1] < height - 1)
    rough = np.array([hull[np.argmin(hull.sum(1))], hull[np.argmax(hull[:, 0] - hull[:, 1])],
                      hull[np.argmax(hull.sum(1))], hull[np.argmax(hull[:, 1] - hull[:, 0])]])
    lines = []
    for a, b in zip(rough, np.roll(rough, -1, axis=0), strict=True):
        direction = (b - a) / max(np.linalg.norm(b - a), 1e-9)
        along = (contour - a) @ direction
        across = (contour - a) @ np.array([-direction[1], direction[0]])
        length = np.linalg.norm(b - a)
        near = (along > 0.1 * length) & (along < 0.9 * length) & (np.abs(across) < 0.05 * length + 2) & on_paper_edge
        if near.sum() < 5:
            return None
        points = contour[near]
        centre = points.mean(0)
        normal = np.linalg.svd(points - centre)[2][1]   # total least squares: the smallest direction
        lines.append((normal, normal @ centre))
    corners = []
    for (n1, c1), (n2, c2) in zip(lines[-1:] + lines[:-1], lines, strict=True):   # side before, side after
        corners.append(np.linalg.solve(np.array([n1, n2]), np.array([c1, c2])))
    corners = np.array(corners)
    fitted = skimage.draw.polygon2mask(region.shape, corners[:, ::-1])
    if (fitted & region).sum() < PAPER_FIT * (fitted | region).sum():
        return None
    return corners


def _straightened(image, outline):
    """The paper cut out of the photo and made upright, in grey levels at WORK_SIDE (or the
    paper's own size if smaller). Returns ((h, w) float image, transform upright (x, y) -> image (x, y))."""
    top, right, bottom, left = (np.linalg.norm(outline[i] - outline[(i + 1) % 4]) for i in range(4))
    size = np.array([(top + bottom) / 2, (left + right) / 2])   # (width, height) of the paper, image pixels
    scale = min(1.0, WORK_SIDE / size.max())
    width, height = np.maximum(1, np.round(size * scale)).astype(int)
    upright = np.array([[0, 0], [width, 0], [width, height], [0, height]], dtype=float) - 0.5
    inset = outline.mean(0) + (outline - outline.mean(0)) * (1 - 2 * PAPER_INSET)
    to_image = skimage.transform.estimate_transform("projective", upright, inset)
    step = max(1, int(1 / scale))   # a block-mean copy at about the paper's working size: no aliasing
    reduced = _block_mean_gray(image, step)
    to_reduced = _scaling(1 / step) @ to_image.params   # a 3x3 matrix: warp's fast path
    return skimage.transform.warp(reduced, to_reduced, output_shape=(height, width), order=1, mode="edge"), to_image


def _scaling(factor):
    """The 3x3 matrix taking image pixel centres (x, y) to those of the image resized by factor
    (a block mean of 1/factor, or an enlargement)."""
    return np.array([[factor, 0, (factor - 1) / 2], [0, factor, (factor - 1) / 2], [0, 0, 1]])


def _block_mean_gray(image, step):
    """Grey levels in [0, 1] of the image averaged over step x step blocks: (H // step, W // step) float32."""
    image = np.asarray(image)
    if step > 1:
        h, w = image.shape[0] // step * step, image.shape[1] // step * step
        blocks = image[:h, :w].reshape(h // step, step, w // step, step, *image.shape[2:])
        image = blocks.mean(axis=(1, 3), dtype=np.float32)
        if np.issubdtype(blocks.dtype, np.integer):
            image /= np.iinfo(blocks.dtype).max
    return _gray(image)


def _gray(image):
    """Grey levels in [0, 1], in single precision unless given double: a 12-megapixel photo is
    290 MB in float64."""
    image = np.asarray(image)
    image = image if image.dtype == np.float64 else skimage.img_as_float32(image)
    return skimage.color.rgb2gray(image[..., :3]) if image.ndim == 3 else image


def _ink(gray, faint=False):
    """Boolean mask of ink pixels. Ink is darker than the paper around it, so the page's slow
    shading (uneven light, a darker photo, show-through) is divided out first. faint (the
    straightened paper of a photo, where pencil strokes are 1-2 px): a stroke that reaches the
    threshold somewhere is followed along to FAINT_SHARE of it (hysteresis), so it is not broken up."""
    smooth = skimage.filters.gaussian(gray, sigma=1)
    if faint:   # the paper: a closing wider than any stroke takes strokes out and keeps a shadow's edge a step
        paper = skimage.filters.gaussian(scipy.ndimage.grey_closing(smooth, size=2 * FAINT_PAPER + 1), sigma=1)
    else:
        paper = skimage.filters.gaussian(gray, sigma=max(gray.shape) * SHADING_SIGMA)
    darkness = np.clip(1 - smooth / np.maximum(paper, 1e-3), 0, 1)
    if faint:   # the closing sits on the paper grain's brightest: take the paper's typical darkness off
        darkness = np.clip(darkness - np.median(darkness), 0, 1)
    # (faint: Otsu's threshold from inside the edge band, where a sliver of the surround may show)
    inner = darkness[FAINT_EDGE:-FAINT_EDGE, FAINT_EDGE:-FAINT_EDGE] if faint and min(darkness.shape) > 4 * FAINT_EDGE else darkness
    threshold = max(skimage.filters.threshold_otsu(inner), FAINT_DARKNESS if faint else MIN_DARKNESS)
    if faint:   # both stop short of the paper's edge, where a sliver of the surround would join strokes together
        strong, weak = darkness > threshold, darkness > FAINT_SHARE * threshold
        for mask in (strong, weak):
            mask[:FAINT_EDGE], mask[-FAINT_EDGE:], mask[:, :FAINT_EDGE], mask[:, -FAINT_EDGE:] = False, False, False, False
        ink = skimage.measure.label(weak | strong)
        seeds = np.unique(ink[strong])
        ink = np.isin(ink, seeds[seeds > 0])
    else:
        ink = darkness > threshold
    ink = skimage.morphology.remove_small_objects(ink, max_size=4)
    return skimage.morphology.closing(ink, skimage.morphology.disk(1))


def _character_boxes(ink):
    """Boxes of the ink's connected components, with pieces of one character merged and specks
    (periods, texture) dropped. Returns (N, 4) [y1, x1, y2, x2]."""
    boxes = np.array([r.bbox for r in skimage.measure.regionprops(skimage.measure.label(ink, connectivity=2))])
    if len(boxes) == 0:
        return np.zeros((0, 4), dtype=int)
    boxes = _merge_stacked(boxes)
    heights = boxes[:, 2] - boxes[:, 0]
    typical = np.median(heights[heights >= np.median(heights)])  # the taller half: letters, not specks
    return boxes[heights >= 0.4 * typical]


def _merge_stacked(boxes):
    """Merge boxes that sit one above the other in one column (a T's bar over its stem, a broken
    stroke): they overlap in x by most of the narrower one's width and nearly touch in y."""
    boxes = [list(b) for b in boxes]
    merged = True
    while merged:
        merged = False
        for i in range(len(boxes)):
            for j in range(i + 1, len(boxes)):
                a, b = boxes[i], boxes[j]
                overlap_x = min(a[3], b[3]) - max(a[1], b[1])
                gap_y = max(a[0], b[0]) - min(a[2], b[2])
                narrower = min(a[3] - a[1], b[3] - b[1])
                taller = max(a[2] - a[0], b[2] - b[0])
                if overlap_x > 0.6 * narrower and gap_y < 0.25 * taller:
                    boxes[i] = [min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])]
                    del boxes[j]
                    merged = True
                    break
            if merged:
                break
    return np.array(boxes)
