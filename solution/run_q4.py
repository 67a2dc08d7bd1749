"""Q4.3-Q4.4: boxes on the page, lines, crops that look like NIST rows, and the text they spell
(the handout's run_q4.py). The graded parts are functions; `main()` runs them on the images."""
import argparse
import json
import pickle
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import skimage.io  # noqa: E402
import skimage.morphology  # noqa: E402
import skimage.transform  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402
from q4 import findLetters  # noqa: E402
from run_q3 import CLASS_NAMES, predict  # noqa: E402

SIDE = 32
GLYPH = 24              # px of a 32x32 NIST crop the character's longer side spans
NIST_STROKE = 3.5       # px: NIST strokes' width at 32x32
# A word ends where the gap to the next box exceeds 1.1 median character heights and twice the
# page's median gap (pages written with wide letter spacing, like 02_letters, have no spaces).
# On the four handout images: word gaps >= 1.19 heights, letter gaps <= 1.05 (01_list).
SPACE_HEIGHTS, SPACE_GAPS = 1.1, 2.0


def group_lines(bboxes):
    """Q4.4 group character boxes into lines of text, top to bottom, each left to right.

    Inputs:  bboxes (N, 4) [y1, x1, y2, x2].
    Returns: list of lines, each a list of indices into bboxes, in reading order.
    A box joins the line whose last box (the one furthest right so far) is level with it, so a
    line that drifts up or down across a tilted page is followed.
    """
    bboxes = np.asarray(bboxes).reshape(-1, 4)
    if len(bboxes) == 0:
        return []
    centre_y = (bboxes[:, 0] + bboxes[:, 2]) / 2
    height = np.median(bboxes[:, 2] - bboxes[:, 0])
    lines = []
    for i in np.argsort(bboxes[:, 1], kind="stable"):
        level = [line for line in lines if abs(centre_y[line[-1]] - centre_y[i]) < 0.6 * height]
        if level:
            min(level, key=lambda line: abs(centre_y[line[-1]] - centre_y[i])).append(int(i))
        else:
            lines.append([int(i)])
    return sorted(lines, key=lambda line: np.mean(centre_y[line]))


def lines_text(bboxes, lines, labels):
    """The text of each line, with a space wherever the gap to the next box says a word ends.

    Inputs:  bboxes (N, 4); lines as group_lines returns them; labels: one character per box.
    Returns: list of strings, one per line.
    """
    bboxes = np.asarray(bboxes).reshape(-1, 4)
    gaps = [bboxes[b, 1] - bboxes[a, 3] for line in lines for a, b in zip(line[:-1], line[1:], strict=True)]
    height = np.median(bboxes[:, 2] - bboxes[:, 0]) if len(bboxes) else 0
    space = max(SPACE_HEIGHTS * height, SPACE_GAPS * np.median(gaps) if gaps else 0)
    texts = []
    for line in lines:
        text = labels[line[0]] if line else ""
        for previous, current in zip(line[:-1], line[1:], strict=True):
            text += (" " if bboxes[current, 1] - bboxes[previous, 3] > space else "") + labels[current]
        texts.append(text)
    return texts


def to_nist_rows(bw, bboxes):
    """Q4.4 crops of the characters made to look like the NIST training rows.

    Inputs:  bw (H, W) in [0, 1], ink black; bboxes (N, 4).
    Returns: (N, 1024) rows: each crop padded to a square around the character (its longer side
             GLYPH of 32 px), strokes thickened to NIST's width, dark ink on white, transposed and
             flattened like the data files.
    """
    bw = np.asarray(bw, dtype=np.float64)
    rows = []
    for y1, x1, y2, x2 in np.asarray(bboxes).reshape(-1, 4):
        ink = 1.0 - bw[y1:y2, x1:x2]
        scale = GLYPH / max(ink.shape)
        small = skimage.transform.rescale(ink, scale, anti_aliasing=True) if scale < 1 else ink
        # Thicken thin pen strokes (measured as ink area over skeleton length) to NIST's width.
        mask = small > 0.5
        width = mask.sum() / max(1, skimage.morphology.skeletonize(mask).sum())
        if width < NIST_STROKE - 0.75:
            small = skimage.morphology.dilation(small, skimage.morphology.disk(max(1, round((NIST_STROKE - width) / 2))))
        canvas = np.zeros((SIDE, SIDE))
        h, w = small.shape[0], small.shape[1]
        top, left = (SIDE - h) // 2, (SIDE - w) // 2
        canvas[top:top + h, left:left + w] = np.clip(small, 0, 1)
        rows.append((1.0 - canvas).T.reshape(-1))
    return np.array(rows).reshape(-1, SIDE * SIDE)


def read_text(image, params):
    """Q4.4 the text on a page: findLetters, group_lines, to_nist_rows, the Q3 network.

    Inputs:  image (H, W, 3); params: a trained Q3 network ('layer1', 'output').
    Returns: list of strings, one per line of text, top to bottom, words separated by spaces.
    """
    bboxes, bw = findLetters(image)
    labels = [CLASS_NAMES[k] for k in predict(params, to_nist_rows(bw, bboxes))] if len(bboxes) else []
    return lines_text(bboxes, group_lines(bboxes), labels)


def plot_boxes(image, bboxes, path):
    """Q4.3 the image with every box drawn on it; writes a PNG at path and returns path."""
    image = np.asarray(image)
    # Every k-th pixel is plenty for an 800 px figure, and spares matplotlib a 12-megapixel float copy.
    step = max(1, int(np.ceil(max(image.shape[:2]) / 1600)))
    fig, ax = plt.subplots(figsize=(8, 8 * image.shape[0] / image.shape[1]))
    ax.imshow(image[::step, ::step], cmap="gray", extent=(0, image.shape[1], image.shape[0], 0))
    for y1, x1, y2, x2 in np.asarray(bboxes).reshape(-1, 4):
        ax.add_patch(Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, edgecolor="red", linewidth=1))
    ax.axis("off")
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return Path(path)


def plot_crops(rows, path, columns=16):
    """Q4.4 the 32x32 crops as the network sees them (upright), in a grid; returns path."""
    rows = np.asarray(rows).reshape(-1, SIDE * SIDE)
    count = max(1, len(rows))
    grid = np.ones((((count - 1) // columns + 1) * (SIDE + 2), columns * (SIDE + 2)))
    for i, row in enumerate(rows):
        r, c = divmod(i, columns)
        grid[r * (SIDE + 2):r * (SIDE + 2) + SIDE, c * (SIDE + 2):c * (SIDE + 2) + SIDE] = row.reshape(SIDE, SIDE).T
    plt.imsave(path, grid, cmap="gray", vmin=0, vmax=1)
    return Path(path)


def main(argv=None):
    parser = argparse.ArgumentParser(description="Q4: find, crop and read the characters in the images")
    parser.add_argument("--images", default="../images", help="folder with 01_list.jpg ... 04_deep.jpg")
    parser.add_argument("--params", required=True, help="pickle of a trained Q3 network's params")
    parser.add_argument("--out-dir", default="results")
    args = parser.parse_args(argv)
    with open(args.params, "rb") as f:
        params = pickle.load(f)
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    texts = {}
    for path in sorted(Path(args.images).glob("*.jpg")):
        image = skimage.io.imread(path)
        bboxes, bw = findLetters(image)
        plot_boxes(image, bboxes, out / f"q4_3_{path.stem}.png")
        plot_crops(to_nist_rows(bw, bboxes), out / f"q4_4_crops_{path.stem}.png")
        texts[path.name] = read_text(image, params)
        print(path.name, *texts[path.name], sep="\n  ")
    (out / "q4_text.json").write_text(json.dumps(texts, indent=2))


if __name__ == "__main__":
    main()
