"""Q4.2: find the handwritten characters in a photo of a page (the handout's q4.py)."""
import numpy as np
import skimage.color
import skimage.filters
import skimage.measure
import skimage.morphology
import skimage.transform

WORK_SIDE = 1200        # px: the long side the page is analysed at (a 3024x4032 photo is 8x slower)
SHADING_SIGMA = 1 / 40  # of the long side: paper shading is far wider than a stroke
MIN_DARKNESS = 0.12     # ink is at least this much darker than the paper around it


def findLetters(image):
    """Q4.2 locate every handwritten character in an RGB photo of a page.

    Inputs:  image (H, W, 3) RGB (or RGBA, or (H, W) grey), uint8 or float in [0, 1].
    Returns: (bboxes, bw): bboxes (N, 4) int array of [y1, x1, y2, x2] rows in image pixels,
             top-left corner inclusive and bottom-right exclusive (as regionprops gives them), one
             per character; bw (H, W) float in [0, 1], characters black (0) on white (1).
    """
    gray = _gray(image)
    scale = min(1.0, WORK_SIDE / max(gray.shape))
    small = skimage.transform.rescale(gray, scale, anti_aliasing=True) if scale < 1 else gray
    ink = _ink(small)
    boxes = _character_boxes(ink)
    if scale < 1:  # back to the photo's pixels: the mask by nearest neighbour, boxes by scaling
        rows = np.minimum((np.arange(gray.shape[0]) * scale).astype(int), ink.shape[0] - 1)
        cols = np.minimum((np.arange(gray.shape[1]) * scale).astype(int), ink.shape[1] - 1)
        ink = ink[np.ix_(rows, cols)]
        boxes = np.round(boxes / scale).astype(int)
        boxes[:, 2:] = np.minimum(boxes[:, 2:], gray.shape)
    return boxes.reshape(-1, 4).astype(int), np.where(ink, 0.0, 1.0)


def _gray(image):
    """Grey levels in [0, 1], in single precision unless given double: a 12-megapixel photo is
    290 MB in float64."""
    image = np.asarray(image)
    image = image if image.dtype == np.float64 else skimage.img_as_float32(image)
    return skimage.color.rgb2gray(image[..., :3]) if image.ndim == 3 else image


def _ink(gray):
    """Boolean mask of ink pixels. Ink is darker than the paper around it, so the page's slow
    shading (uneven light, a darker photo, show-through) is divided out first."""
    paper = skimage.filters.gaussian(gray, sigma=max(gray.shape) * SHADING_SIGMA)
    darkness = np.clip(1 - skimage.filters.gaussian(gray, sigma=1) / np.maximum(paper, 1e-3), 0, 1)
    ink = darkness > max(skimage.filters.threshold_otsu(darkness), MIN_DARKNESS)
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
