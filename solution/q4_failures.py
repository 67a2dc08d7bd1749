"""Q4.1: two pages made from the handout's own photos on which the simple method (threshold, connected
components, a box per component) fails, drawn with findLetters' boxes on them; and a page lying on a
dark desk, where one threshold over the whole photo fails and findLetters reads the paper it finds
(its outline drawn in cyan).

    python q4_failures.py --images ../images --out-dir results
"""
import argparse
from pathlib import Path

import numpy as np
import skimage.color
import skimage.draw
import skimage.filters
import skimage.io
import skimage.measure
import skimage.morphology
import skimage.transform
from q4 import find_page, findLetters
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


def on_a_desk(page, angle=12.0):
    """A photo of a page lying turned on a dark wooden desk: the page (H, W, 3) uint8 shrunk to
    half size, turned `angle` degrees, on a brown grain filling a frame a third larger. Returns an
    (h, w, 3) float image in [0, 1]."""
    half = skimage.transform.rescale(skimage.img_as_float(page), 0.5, channel_axis=2, anti_aliasing=True)
    turned = skimage.transform.rotate(half, angle, resize=True, cval=-1)   # -1: outside the paper
    frame = np.zeros((int(turned.shape[0] * 1.35), int(turned.shape[1] * 1.35), 3))
    rng = np.random.default_rng(0)
    grain = skimage.transform.resize(rng.uniform(0, 1, (frame.shape[0] // 6, 8)), frame.shape[:2], order=3)
    frame[:] = (0.55 + 0.35 * grain + 0.08 * rng.standard_normal(frame.shape[:2]))[..., None] * (0.27, 0.18, 0.11)
    top, left = (frame.shape[0] - turned.shape[0]) // 2, (frame.shape[1] - turned.shape[1]) // 2
    window = frame[top:top + turned.shape[0], left:left + turned.shape[1]]
    window[turned[..., 0] >= 0] = turned[turned[..., 0] >= 0]
    return np.clip(frame, 0, 1)


def simple_boxes(image):
    """The simple method: one Otsu threshold over the whole grey image, a box per connected
    component of the dark side bigger than a speck. Returns (N, 4) [y1, x1, y2, x2]."""
    gray = skimage.color.rgb2gray(image)
    dark = gray < skimage.filters.threshold_otsu(gray)
    regions = skimage.measure.regionprops(skimage.measure.label(dark))
    return np.array([r.bbox for r in regions if r.area >= 30]).reshape(-1, 4)


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
    desk = on_a_desk(skimage.io.imread(Path(args.images) / "02_letters.jpg"))
    simple = simple_boxes(desk)
    print(f"on_a_desk, the simple method: {len(simple)} boxes -> {plot_boxes(desk, simple, out / 'q4_1_on_a_desk_simple.png')}")
    bboxes, _ = findLetters(desk)
    print(f"on_a_desk, findLetters: {len(bboxes)} boxes -> "
          f"{plot_boxes(desk, bboxes, out / 'q4_1_on_a_desk.png', outline=find_page(desk))}")


if __name__ == "__main__":
    main()
