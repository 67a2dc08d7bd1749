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
import scipy.ndimage  # noqa: E402
import scipy.spatial  # noqa: E402
import skimage.color  # noqa: E402
import skimage.io  # noqa: E402
import skimage.morphology  # noqa: E402
import skimage.transform  # noqa: E402
from matplotlib.patches import Polygon, Rectangle  # noqa: E402
from q4 import find_characters, find_page, findLetters  # noqa: E402
from run_q3 import CLASS_NAMES, class_probabilities  # noqa: E402
from words import word_labels  # noqa: E402

SIDE = 32
# NIST rows hold the character's box scaled to about 24 of the 32 rows (23.7 on average, measured on
# real NIST letters) and at most 28 columns, centred, with pen strokes about 3.5 px wide.
GLYPH_HEIGHT, GLYPH_WIDTH = 24, 28
# Every character's strokes are redrawn STROKE px wide at 32x32 (2.75 at the least before: thin
# lines were thickened, thick ones kept): a pencil page's 1-2 px lines and the wide strokes that
# hysteresis follows on a photo's paper both come out as NIST's rows do (docs/reading.md).
STROKE = 3.0
# A word ends where the gap to the next box exceeds 1.1 median character heights and twice the
# page's median gap (pages written with wide letter spacing, like 02_letters, have no spaces).
# On the four handout images: word gaps >= 1.19 heights, letter gaps <= 1.05 (01_list).
SPACE_HEIGHTS, SPACE_GAPS = 1.1, 2.0
# letters_to_read turns a photo whose writing runs 2-30 degrees off the horizontal (no paper found)
# until it is level, at DESKEW_SIDE px on its long side (findLetters works at 1200).
DESKEW, DESKEW_SIDE = (2.0, 30.0), 2400
# read_text(refine=True), beyond the handout's recipe: each character is read in these variants of
# its crop (glyph height, stroke width) and their class probabilities averaged.
REFINE_VARIANTS = tuple((height, stroke) for height in (22, 24, 26) for stroke in (STROKE, STROKE + 0.5))


def group_lines(bboxes):
    """Q4.4 group character boxes into lines of text, top to bottom, each left to right.

    Inputs:  bboxes (N, 4) [y1, x1, y2, x2].
    Returns: list of lines, each a list of indices into bboxes, in reading order.
    The box centres are first turned by the writing's own angle (writing_angle), so that lines on
    a turned page or written on a slant run level; then, left to right, a box joins the line whose
    last box (the one furthest right so far) is level with it, so a line that bows or drifts up or
    down is followed; lines are ordered by their mean height in the turned frame.
    """
    bboxes = np.asarray(bboxes).reshape(-1, 4)
    if len(bboxes) == 0:
        return []
    angle = writing_angle(bboxes)
    x, y = (bboxes[:, 1] + bboxes[:, 3]) / 2, (bboxes[:, 0] + bboxes[:, 2]) / 2
    along, across = x * np.cos(angle) + y * np.sin(angle), y * np.cos(angle) - x * np.sin(angle)
    height = np.median(bboxes[:, 2] - bboxes[:, 0])
    lines = []
    for i in np.argsort(along, kind="stable"):
        level = [line for line in lines if abs(across[line[-1]] - across[i]) < 0.6 * height]
        if level:
            min(level, key=lambda line: abs(across[line[-1]] - across[i])).append(int(i))
        else:
            lines.append([int(i)])
    return sorted(lines, key=lambda line: np.mean(across[line]))


def writing_angle(bboxes):
    """The angle (radians, positive when the writing runs down to the right on screen) of the lines
    of writing: the median direction from each box to its nearest neighbour to the right within 3
    character heights and 40 degrees of the horizontal; 0 where no box has one."""
    bboxes = np.asarray(bboxes, dtype=float).reshape(-1, 4)
    if len(bboxes) < 2:
        return 0.0
    centres = np.stack([(bboxes[:, 1] + bboxes[:, 3]) / 2, (bboxes[:, 0] + bboxes[:, 2]) / 2], axis=1)
    tree = scipy.spatial.cKDTree(centres)
    pairs = tree.sparse_distance_matrix(tree, 3 * np.median(bboxes[:, 2] - bboxes[:, 0]), output_type="ndarray")
    dx = centres[pairs["j"], 0] - centres[pairs["i"], 0]
    dy = centres[pairs["j"], 1] - centres[pairs["i"], 1]
    keep = (dx > 0) & (np.abs(dy) < np.tan(np.deg2rad(40)) * dx)   # a neighbour to the right, not above or below
    if not keep.any():
        return 0.0
    i, distance, dx, dy = pairs["i"][keep], pairs["v"][keep], dx[keep], dy[keep]
    order = np.lexsort((distance, i))                               # by box, nearest first
    first = order[np.r_[True, i[order][1:] != i[order][:-1]]]       # each box's nearest
    return float(np.median(np.arctan2(dy[first], dx[first])))


def line_words(bboxes, lines):
    """The words of each line: a space wherever the gap to the next box says a word ends.

    Inputs:  bboxes (N, 4); lines as group_lines returns them.
    Returns: list of lines, each a list of words, each a list of indices into bboxes.
    """
    bboxes = np.asarray(bboxes).reshape(-1, 4)
    gaps = [bboxes[b, 1] - bboxes[a, 3] for line in lines for a, b in zip(line[:-1], line[1:], strict=True)]
    height = np.median(bboxes[:, 2] - bboxes[:, 0]) if len(bboxes) else 0
    space = max(SPACE_HEIGHTS * height, SPACE_GAPS * np.median(gaps) if gaps else 0)
    words = []
    for line in lines:
        words.append([line[:1]] if line else [])
        for previous, current in zip(line[:-1], line[1:], strict=True):
            if bboxes[current, 1] - bboxes[previous, 3] > space:
                words[-1].append([])
            words[-1][-1].append(current)
    return words


def lines_text(bboxes, lines, labels):
    """The text of each line, with a space wherever the gap to the next box says a word ends.

    Inputs:  bboxes (N, 4); lines as group_lines returns them; labels: one character per box.
    Returns: list of strings, one per line.
    """
    return [" ".join("".join(labels[i] for i in word) for word in words) for words in line_words(bboxes, lines)]


def nist_row(ink, glyph_height=GLYPH_HEIGHT, stroke=STROKE):
    """One crop made to look like a NIST row.

    Inputs:  ink (h, w) in [0, 1], ink = 1 (a box cut from the page).
    Returns: (1024,) row: the character's box scaled to glyph_height rows (at most GLYPH_WIDTH
             columns) and centred in 32 x 32, its strokes redrawn `stroke` px wide (redrawn), dark
             ink on white, transposed and flattened like the data files.
    """
    ink = np.asarray(ink, dtype=np.float64)
    scale = min(glyph_height / ink.shape[0], GLYPH_WIDTH / ink.shape[1])
    height, width = (max(1, round(side * scale)) for side in ink.shape)
    canvas = np.zeros((SIDE, SIDE))
    top, left = (SIDE - height) // 2, (SIDE - width) // 2
    canvas[top:top + height, left:left + width] = np.clip(
        skimage.transform.resize(ink, (height, width), order=1, anti_aliasing=True), 0, 1)
    return (1.0 - redrawn(canvas, stroke)).T.reshape(-1)


def redrawn(canvas, stroke, up=4):
    """A glyph with every stroke made `stroke` px wide: its skeleton (found at `up` times the size,
    where a 2 px pencil line and a 6 px marker line have one), drawn anti-aliased at that width.

    Inputs:  canvas (h, w) in [0, 1], ink = 1; stroke in px of the canvas.
    Returns: (h, w) in [0, 1], ink = 1; the canvas itself where it holds no ink above 0.5.
    """
    big = skimage.transform.resize(canvas, (canvas.shape[0] * up, canvas.shape[1] * up), order=1)
    skeleton = skimage.morphology.skeletonize(big > 0.5)
    if not skeleton.any():
        return canvas
    distance = scipy.ndimage.distance_transform_edt(~skeleton) / up   # in px of the canvas
    drawn = np.clip(stroke / 2 + 0.5 - distance, 0, 1)
    return drawn.reshape(canvas.shape[0], up, canvas.shape[1], up).mean(axis=(1, 3))


def to_nist_rows(bw, bboxes):
    """Q4.4 crops of the characters made to look like the NIST training rows (nist_row).

    Inputs:  bw (H, W) in [0, 1], ink black; bboxes (N, 4).
    Returns: (N, 1024) rows, dark ink on white, transposed and flattened like the data files.
    """
    bw = np.asarray(bw, dtype=np.float64)
    return np.array([nist_row(1.0 - bw[y1:y2, x1:x2]) for y1, x1, y2, x2 in np.asarray(bboxes).reshape(-1, 4)]
                    ).reshape(-1, SIDE * SIDE)


def letters_to_read(image):
    """The boxes and bw read_text reads: findLetters' (the handout's flow); where find_page sees
    the paper on a surround, those of the straightened paper (upright crops); where it does not
    but the writing runs 2-30 degrees off the horizontal (DESKEW: a turned page whose paper it
    cannot tell from the desk), findLetters' on the photo turned until the writing is level.
    Returns (bboxes (N, 4), bw (h, w) float in [0, 1], ink 0)."""
    if find_page(image) is None:
        bboxes, bw = findLetters(image)
        angle = np.degrees(writing_angle(bboxes)) if len(bboxes) else 0.0
        if not DESKEW[0] < abs(angle) <= DESKEW[1]:
            return bboxes, bw
        image = np.asarray(image)
        grey = skimage.color.rgb2gray(image[..., :3]) if image.ndim == 3 else skimage.img_as_float(image)
        scale = min(1.0, DESKEW_SIDE / max(grey.shape))
        grey = skimage.transform.rescale(grey, scale, anti_aliasing=True) if scale < 1 else grey
        levelled = skimage.transform.rotate(grey, angle, resize=True, mode="edge").astype(np.float32)
        # the handout's flow, levelled; findLetters takes an RGB photo (a submission's may need its three channels)
        return findLetters(np.repeat(levelled[..., None], 3, axis=-1))
    page = find_characters(image)
    return page.boxes, np.where(page.ink, 0.0, 1.0)


def read_text(image, params, refine=False, context=True):
    """Q4.4 the text on a page: findLetters (on the straightened paper where the photo shows a
    surround: letters_to_read), group_lines, to_nist_rows, the Q3 network.

    Inputs:  image (H, W, 3); params: a trained Q3 network ('layer1', 'output');
             context: each word (the boxes between two spaces, line_words) read as all letters
             or all digits, whichever its characters make likelier (words.word_labels): the
             handout asks for the page's text, and an O inside a word is not a 0. False: each
             character its network's argmax, the handout's recipe (what the bars are calibrated
             on, docs/reading.md);
             refine: beyond the handout's recipe (the leaderboard's baseline, docs/reading.md):
             each character read in REFINE_VARIANTS of its crop, probabilities averaged, in context.
    Returns: list of strings, one per line of text, top to bottom, words separated by spaces.
    """
    bboxes, bw = letters_to_read(image)
    if len(bboxes) == 0:
        return []
    lines = group_lines(bboxes)
    if refine:
        crops = [1.0 - bw[y1:y2, x1:x2] for y1, x1, y2, x2 in bboxes]
        rows = np.array([nist_row(crop, *variant) for crop in crops for variant in REFINE_VARIANTS])
        probs = class_probabilities(params, rows).reshape(len(crops), len(REFINE_VARIANTS), -1).mean(axis=1)
    else:
        probs = class_probabilities(params, to_nist_rows(bw, bboxes))
    if refine or context:
        labels = word_labels(probs, line_words(bboxes, lines), CLASS_NAMES)
    else:
        labels = [CLASS_NAMES[k] for k in probs.argmax(axis=1)]
    return lines_text(bboxes, lines, labels)


def plot_boxes(image, bboxes, path, outline=None):
    """Q4.3 the image with every box drawn on it (red), and the paper's outline (4, 2) (x, y) if
    given (cyan, as q4.find_page returns it); writes a PNG at path and returns path."""
    image = np.asarray(image)
    # Every k-th pixel is plenty for an 800 px figure, and spares matplotlib a 12-megapixel float copy.
    step = max(1, int(np.ceil(max(image.shape[:2]) / 1600)))
    fig, ax = plt.subplots(figsize=(8, 8 * image.shape[0] / image.shape[1]))
    ax.imshow(image[::step, ::step], cmap="gray", extent=(0, image.shape[1], image.shape[0], 0))
    for y1, x1, y2, x2 in np.asarray(bboxes).reshape(-1, 4):
        ax.add_patch(Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, edgecolor="red", linewidth=1))
    if outline is not None:
        ax.add_patch(Polygon(outline, closed=True, fill=False, edgecolor="cyan", linewidth=2))
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
        plot_boxes(image, bboxes, out / f"q4_3_{path.stem}.png", outline=find_page(image))
        plot_crops(to_nist_rows(bw, bboxes), out / f"q4_4_crops_{path.stem}.png")
        texts[path.name] = read_text(image, params)
        print(path.name, *texts[path.name], sep="\n  ")
    (out / "q4_text.json").write_text(json.dumps(texts, indent=2))


if __name__ == "__main__":
    main()
