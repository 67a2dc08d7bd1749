"""Measure Q4.4's character accuracy over training seeds, and the bars, for two pipelines.

Per seed: the reference network is trained on the grader's data (nist36-lite here); then (a)
read_text on each page, given as the tests give it (float32 in [0, 1]), and (b) the network on the
crops of the 246 ground-truth boxes, each with two crop recipes:
  - reference: the reference's to_nist_rows (the character's longer side 24 of 32 px, pen strokes
    thickened to NIST's width);
  - plain: the handout's recipe as its starter code hints it (a square crop, np.pad to a margin,
    resize to 32 x 32, transpose), with nothing more: fixtures/students/crops_square_pad_resize.
The bars in spec_tests/test_q4_text.py are the plain pipeline's mean - 5 sd, so a submission that
follows the handout, without the reference's refinements, is not failed by them.
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


RECIPES = {"reference": run_q4.to_nist_rows, "plain": plain_to_nist_rows, "thickened": thickened_to_nist_rows}


def main(seeds):
    data = nist36_data()
    (x, y), (vx, vy) = data.splits["train"], data.splits["valid"]
    pages = {name: load_page(name) for name in PAGES}
    photos = {name: skimage.img_as_float32(page[0]) for name, page in pages.items()}
    labels = np.array(list("".join(page[2] for page in pages.values())))
    crops = {recipe: np.concatenate([crop(findLetters(page[0])[1], page[1]) for page in pages.values()])
             for recipe, crop in RECIPES.items()}
    chars = {recipe: {n: [] for n in PAGES} for recipe in RECIPES}
    crop_acc = {recipe: [] for recipe in RECIPES}
    for seed in range(seeds):
        np.random.seed(seed)
        params, _ = run_q3.train_nist36(x, y, vx, vy)
        for recipe, crop in RECIPES.items():
            crop_acc[recipe].append(np.mean(np.array(list(run_q3.CLASS_NAMES))[run_q3.predict(params, crops[recipe])] == labels))
            run_q4.to_nist_rows = crop   # read_text looks it up in its module at each call
            for name, (_, _, _, truth) in pages.items():
                chars[recipe][name].append(char_accuracy(run_q4.read_text(photos[name], params), truth))
        run_q4.to_nist_rows = RECIPES["reference"]
        print(f"seed {seed}: " + "; ".join(f"{r} {np.mean([chars[r][n][-1] for n in PAGES]):.3f}" for r in RECIPES), flush=True)
    print(data.description)
    for recipe in RECIPES:
        print(f"--- {recipe} crops")
        for name in PAGES:
            c = np.array(chars[recipe][name])
            print(f"{name:15s} characters mean {c.mean():.4f} sd {c.std(ddof=1):.4f} min {c.min():.4f} max {c.max():.4f}"
                  f" bar (mean - 5 sd) {c.mean() - 5 * c.std(ddof=1):.3f}")
        c = np.array(crop_acc[recipe])
        print(f"crops of the {len(labels)} true boxes: mean {c.mean():.4f} sd {c.std(ddof=1):.4f} min {c.min():.4f} "
              f"max {c.max():.4f} bar {c.mean() - 5 * c.std(ddof=1):.3f}")

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    main(parser.parse_args().seeds)
