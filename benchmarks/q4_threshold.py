"""Measure Q4.4's character accuracy over training seeds, and the bars, for several pipelines.

Per seed: the reference network is trained on the grader's data (nist36-lite here); then (a) each
page, given as the tests give it (float32 in [0, 1]), is read end to end, and (b) the network reads
the crops of the 246 ground-truth boxes. Crop recipes, each on findLetters' bw:
  - handout: the handout's recipe as the reference did it until issue #19 (the character's longer
    side 24 of 32 px, thin pen strokes thickened, transposed), frozen here. The page bars of
    spec_tests/test_q4_text.py are this pipeline's mean - 5 sd (findLetters, these crops, the Q3
    network, group_lines, lines_text): a stronger reference does not make them stricter;
  - plain: the starter code's hints and nothing more (a square crop, np.pad to a margin, resize to
    32 x 32, transpose); the crops bar is this recipe's mean - 5 sd;
  - thickened: plain, with the strokes thickened after looking at the crops
    (fixtures/students/crops_square_pad_resize);
  - reference: the reference's to_nist_rows (sized like NIST rows: 24 rows high, at most 28 wide).
On these pages the reference's read_text reads findLetters' output with the `reference` crops;
read_text(refine=True) is measured beside them.
"""
import argparse
import sys

import numpy as np
import skimage
import skimage.morphology
import skimage.transform

from autograde import REFERENCE_DIR
from hw5data.choose import nist36_data
from spec_tests.pages import PAGES, char_accuracy, load_page

sys.path.insert(0, str(REFERENCE_DIR))
import run_q3  # noqa: E402
import run_q4  # noqa: E402
from q4 import findLetters  # noqa: E402

SIDE = 32


def plain_to_nist_rows(bw, bboxes):
    """The handout's crop recipe, no more: pad each box to a square, add a margin (a sixth of its
    side), resize to 32 x 32, transpose and flatten. (N, 1024) rows, ink dark on white."""
    bw = np.asarray(bw, dtype=float)
    rows = [skimage.transform.resize(_squared(bw[y1:y2, x1:x2]), (SIDE, SIDE), anti_aliasing=True).T.reshape(-1)
            for y1, x1, y2, x2 in np.asarray(bboxes).reshape(-1, 4).astype(int)]
    return np.array(rows).reshape(-1, SIDE * SIDE)


def _squared(crop):
    """A crop padded with white to a square, then by a sixth of its side on every edge."""
    h, w = crop.shape
    side = max(h, w)
    top, left = (side - h) // 2, (side - w) // 2
    crop = np.pad(crop, ((top, side - h - top), (left, side - w - left)), constant_values=1)
    return np.pad(crop, side // 6, constant_values=1)


def thickened_to_nist_rows(bw, bboxes):
    """The plain recipe, having looked at the crops as the handout asks: the ink eroded (thickened)
    by a disk of a thirtieth of the crop's side before resizing (fixtures/students/crops_square_pad_resize)."""
    bw = np.asarray(bw, dtype=float)
    rows = []
    for y1, x1, y2, x2 in np.asarray(bboxes).reshape(-1, 4).astype(int):
        side = max(y2 - y1, x2 - x1)
        crop = skimage.morphology.erosion(_squared(bw[y1:y2, x1:x2]), skimage.morphology.disk(max(1, side // 30)))
        rows.append(skimage.transform.resize(crop, (SIDE, SIDE), anti_aliasing=True).T.reshape(-1))
    return np.array(rows).reshape(-1, SIDE * SIDE)


def handout_to_nist_rows(bw, bboxes, glyph=24, nist_stroke=3.5):
    """The reference's to_nist_rows until issue #19: each box's longer side scaled to `glyph` px,
    strokes thinner than nist_stroke - 0.75 thickened by a disk, centred in 32 x 32, transposed."""
    bw = np.asarray(bw, dtype=np.float64)
    rows = []
    for y1, x1, y2, x2 in np.asarray(bboxes).reshape(-1, 4):
        ink = 1.0 - bw[y1:y2, x1:x2]
        scale = glyph / max(ink.shape)
        small = skimage.transform.rescale(ink, scale, anti_aliasing=True) if scale < 1 else ink
        mask = small > 0.5
        width = mask.sum() / max(1, skimage.morphology.skeletonize(mask).sum())
        if width < nist_stroke - 0.75:
            small = skimage.morphology.dilation(small, skimage.morphology.disk(max(1, round((nist_stroke - width) / 2))))
        canvas = np.zeros((SIDE, SIDE))
        h, w = small.shape[0], small.shape[1]
        top, left = (SIDE - h) // 2, (SIDE - w) // 2
        canvas[top:top + h, left:left + w] = np.clip(small, 0, 1)
        rows.append((1.0 - canvas).T.reshape(-1))
    return np.array(rows).reshape(-1, SIDE * SIDE)


def read_with(crop, found, params):
    """The handout's pipeline with a crop recipe on findLetters' output found = (bboxes, bw):
    crop(bw, boxes), the Q3 network, group_lines, lines_text. Returns the page's lines of text."""
    bboxes, bw = found
    labels = [run_q3.CLASS_NAMES[k] for k in run_q3.predict(params, crop(bw, bboxes))]
    return run_q4.lines_text(bboxes, run_q4.group_lines(bboxes), labels)


RECIPES = {"handout": handout_to_nist_rows, "plain": plain_to_nist_rows, "thickened": thickened_to_nist_rows,
           "reference": run_q4.to_nist_rows}
# On these pages (no paper on a surround) read_text reads findLetters' output, as the `reference` recipe does.
READERS = {**{recipe: lambda page, params, crop=crop: read_with(crop, page[1], params) for recipe, crop in RECIPES.items()},
           "reference read_text(refine=True)": lambda page, params: run_q4.read_text(page[0], params, refine=True)}


def main(seeds):
    data = nist36_data()
    (x, y), (vx, vy) = data.splits["train"], data.splits["valid"]
    pages = {name: load_page(name) for name in PAGES}
    photos = {name: skimage.img_as_float32(page[0]) for name, page in pages.items()}
    found = {name: findLetters(photo) for name, photo in photos.items()}   # deterministic: once, not per seed
    labels = np.array(list("".join(page[2] for page in pages.values())))
    crops = {recipe: np.concatenate([crop(found[name][1], page[1]) for name, page in pages.items()])
             for recipe, crop in RECIPES.items()}
    chars = {reader: {n: [] for n in PAGES} for reader in READERS}
    crop_acc = {recipe: [] for recipe in RECIPES}
    for seed in range(seeds):
        np.random.seed(seed)
        params, _ = run_q3.train_nist36(x, y, vx, vy)
        for recipe in RECIPES:
            crop_acc[recipe].append(np.mean(np.array(list(run_q3.CLASS_NAMES))[run_q3.predict(params, crops[recipe])] == labels))
        for reader, read in READERS.items():
            for name, (_, _, _, truth) in pages.items():
                chars[reader][name].append(char_accuracy(read((photos[name], found[name]), params), truth))
        print(f"seed {seed}: " + "; ".join(f"{r} {np.mean([chars[r][n][-1] for n in PAGES]):.3f}" for r in READERS), flush=True)
    print(data.description)
    for reader in READERS:
        print(f"--- {reader}")
        for name in PAGES:
            c = np.array(chars[reader][name])
            print(f"{name:15s} characters mean {c.mean():.4f} sd {c.std(ddof=1):.4f} min {c.min():.4f} max {c.max():.4f}"
                  f" bar (mean - 5 sd) {c.mean() - 5 * c.std(ddof=1):.3f}")
        if reader in RECIPES:
            c = np.array(crop_acc[reader])
            print(f"crops of the {len(labels)} true boxes: mean {c.mean():.4f} sd {c.std(ddof=1):.4f} min {c.min():.4f} "
                  f"max {c.max():.4f} bar {c.mean() - 5 * c.std(ddof=1):.3f}")

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    main(parser.parse_args().seeds)
