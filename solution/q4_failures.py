"""Q4.1: two pages made from the handout's own photos on which the simple method (threshold, connected
components, a box per component) fails, drawn with findLetters' boxes on them.

    python q4_failures.py --images ../images --out-dir results
"""
import argparse
from pathlib import Path

import numpy as np
import skimage.draw
import skimage.io
import skimage.morphology
import skimage.transform
from q4 import findLetters
from run_q4 import plot_boxes


def touching_letters(page):
    """04_deep's first line written joined up: a pen stroke along the foot of each word links its
    letters, as joined handwriting does, so each word is one connected component. Takes the
    (H, W, 3) uint8 photo of 04_deep; returns an (h, w, 3) float image in [0, 1]."""
    line = skimage.img_as_float(page[200:700, 400:3900]).copy()
    for x0, x1 in ((60, 1125), (1500, 3420)):  # "DEEP" and "LEARNING", in the crop's pixels
        rr, cc = skimage.draw.line(405, x0, 425, x1)
        for dy in range(-4, 5):  # a pen-thick stroke in the page's blue ink
            line[np.clip(rr + dy, 0, line.shape[0] - 1), cc] = (0.2, 0.22, 0.45)
    return line


def ticked_boxes(page):
    """01_list's first three lines with the two items ticked off in drawn check boxes and a pen
    doodle in the margin: ink of a letter's size that is no letter. Takes the (H, W, 3) uint8 photo
    of 01_list; returns an (h, w, 3) float image in [0, 1]."""
    image = skimage.img_as_float(page[0:600, 0:2270]).copy()
    ink = np.zeros(image.shape[:2], dtype=bool)
    for centre in (257, 492):  # beside items 1 and 2
        top, left = centre - 35, 1950
        for r0, c0, r1, c1 in ((0, 0, 0, 70), (70, 0, 70, 70), (0, 0, 70, 0), (0, 70, 70, 70),  # the box
                               (35, 15, 60, 35), (60, 35, 5, 65)):                           # the tick
            rr, cc = skimage.draw.line(top + r0, left + c0, top + r1, left + c1)
            ink[rr, cc] = True
    rr, cc = skimage.draw.circle_perimeter(140, 2120, 50, shape=ink.shape)
    ink[rr, cc] = True
    image[skimage.morphology.dilation(ink, skimage.morphology.disk(2))] = 0.1  # pen-thick strokes
    return image


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", default="../images", help="folder with 01_list.jpg and 04_deep.jpg")
    parser.add_argument("--out-dir", default="results")
    args = parser.parse_args(argv)
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name, make, source in (("touching_letters", touching_letters, "04_deep.jpg"),
                               ("ticked_boxes", ticked_boxes, "01_list.jpg")):
        image = make(skimage.io.imread(Path(args.images) / source))
        bboxes, _ = findLetters(image)
        print(f"{name}: {len(bboxes)} boxes -> {plot_boxes(image, bboxes, out / f'q4_1_{name}.png')}")


if __name__ == "__main__":
    main()
