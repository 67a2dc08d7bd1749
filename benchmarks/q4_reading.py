"""The reading table of docs/reading.md: how well a solution finds and reads the handout pages,
altered copies of them and composed phone photos.

    python benchmarks/q4_reading.py [--solution DIR] [--seeds 0 1 2] [--photos 8] [--kinds desk pencil ...]

For each image: the boxes findLetters finds (matched one-to-one to the truth at IoU >= 0.5), its
time, and the character accuracy (1 - edit distance / characters, spaces ignored, case-folded,
pooled over the images of a row) of
  - MLP: read_text with the Q3 network (trained as the grader trains it: nist36-lite, 30 epochs,
    np.random.seed(seed)) by the handout's recipe (context=False where the solution has it), in
    context (each word all letters or all digits: its default) and with refine=True where it has them;
  - CNN: q7_emnist.read_boxes with the Q7.1.4 network (trained on emnist-lite, torch seed = seed)
    on the boxes read_text reads (run_q4.letters_to_read where the solution has it, else
    findLetters'), in reading order, with the boxes' words (in context) and refined where it takes them.
Rows: the four pages; their 28 altered copies (7 kinds of spec_tests.pages.variant); the composed
12-megapixel photos of each kind (spec_tests/photos.py: the dark desk, slanted lines, pencil, a
white desk, a shadow, a strong perspective). Run it with `taskset -c 0` and OMP_NUM_THREADS=1 for
one-core times. --solution points at another solution folder (an older reference) to compare.
"""
import argparse
import importlib
import inspect
import sys
import time
from pathlib import Path

import numpy as np
import skimage
from rapidfuzz.distance import Levenshtein

from autograde import REFERENCE_DIR
from hw5data import emnist
from hw5data.choose import nist36_data
from spec_tests.pages import PAGES, load_page, match_boxes, variant
from spec_tests.photos import KINDS, composed_photo, standard_photos

ALTERED = ("rotated", "rotated_back", "smaller", "darker", "fainter", "jpeg", "shaded")


def images(photos, kinds=KINDS, pages_too=True):
    """{row: [(image, true boxes, true lines)]}: the pages and their altered copies (pages_too),
    and the first `photos` composed photos of each of `kinds`; each is made when its row is read."""
    rows = {}
    if pages_too:
        pages = {name: load_page(name) for name in PAGES}
        rows["the four handout pages"] = [(skimage.img_as_float32(p[0]), p[1], p[3]) for p in pages.values()]
        rows["28 altered copies"] = [(*variant(p[0], p[1], kind), p[3]) for p in pages.values() for kind in ALTERED]
    for kind in kinds:
        rows[f"{photos} composed 12 MP photos, {kind}"] = _photos(standard_photos()[:photos], kind)
    return rows


def _photos(which, kind):
    """The composed photos (name, k) of `which` of one kind, each drawn when it is reached."""
    for name, k in which:
        photo = composed_photo(name, k, kind)
        yield photo.image, photo.boxes, photo.lines


def errors(text_lines, truth_lines):
    """(edit distance, true characters), spaces ignored, case-folded."""
    text, truth = ("".join("".join(lines).split()).lower() for lines in (text_lines, truth_lines))
    return Levenshtein.distance(text, truth), len(truth)


def in_order(labels, order):
    """The characters of labels (one per box) in reading order: a string."""
    return "".join(labels[i] for i in order)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--solution", default=str(REFERENCE_DIR))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--photos", type=int, default=8)
    parser.add_argument("--no-cnn", action="store_true")
    parser.add_argument("--kinds", nargs="+", default=list(KINDS), choices=KINDS,
                        help="kinds of composed photo, a row each (spec_tests/photos.py)")
    parser.add_argument("--photos-only", action="store_true", help="leave out the handout pages and their copies")
    args = parser.parse_args()
    sys.path.insert(0, str(Path(args.solution).resolve()))
    q4, run_q3, run_q4 = (importlib.import_module(m) for m in ("q4", "run_q3", "run_q4"))
    refine_mlp = "refine" in inspect.signature(run_q4.read_text).parameters
    # A solution whose read_text reads words in context by default: its handout recipe is context=False.
    handout_recipe = {"context": False} if "context" in inspect.signature(run_q4.read_text).parameters else {}
    data = nist36_data(seed=0)
    (x, y), (vx, vy) = data.splits["train"], data.splits["valid"]
    networks = {}
    for seed in args.seeds:
        np.random.seed(seed)
        networks[seed] = run_q3.train_nist36(x, y, vx, vy, epochs=30)[0]
    models = {}
    if not args.no_cnn:
        import q7_emnist
        import torch
        torch.set_num_threads(1)
        splits, _ = emnist.emnist_data()
        for seed in args.seeds:
            np.random.seed(seed)
            torch.manual_seed(seed)
            models[seed] = q7_emnist.build_model()
            q7_emnist.train(models[seed], *splits["train"])
        cnn_options = inspect.signature(q7_emnist.read_boxes).parameters
        # an older reference refined whenever it was given words
        refined_cnn = {"refine": True} if "refine" in cnn_options else {}
        cnn_takes_words = "words" in cnn_options
    print(f"solution {args.solution}; seeds {args.seeds}; {data.description}")
    for row, items in images(args.photos, args.kinds, pages_too=not args.photos_only).items():
        tally = {}
        matched = found = true = 0
        seconds = []
        for image, boxes, truth in items:
            started = time.perf_counter()
            found_boxes, bw = q4.findLetters(image)
            seconds.append(time.perf_counter() - started)
            _, _, pairs = match_boxes(found_boxes, boxes)
            matched, found, true = matched + len(pairs), found + len(found_boxes), true + len(boxes)
            # what read_text reads (on the straightened paper where the solution has that)
            read_boxes, read_bw = run_q4.letters_to_read(image) if hasattr(run_q4, "letters_to_read") else (found_boxes, bw)
            order = [i for line in run_q4.group_lines(read_boxes) for i in line]
            readings = {}
            for seed, params in networks.items():
                readings[f"MLP seed {seed}"] = run_q4.read_text(image, params, **handout_recipe)
                if handout_recipe:
                    readings[f"MLP in context seed {seed}"] = run_q4.read_text(image, params)
                if refine_mlp:
                    readings[f"MLP refined seed {seed}"] = run_q4.read_text(image, params, refine=True)
            for seed, model in models.items():
                readings[f"CNN seed {seed}"] = [in_order(q7_emnist.read_boxes(model, read_bw, read_boxes), order)]
                if cnn_takes_words:
                    words = run_q4.line_words(read_boxes, run_q4.group_lines(read_boxes))
                    if refined_cnn:
                        readings[f"CNN in context seed {seed}"] = [
                            in_order(q7_emnist.read_boxes(model, read_bw, read_boxes, words=words), order)]
                    readings[f"CNN refined seed {seed}"] = [
                        in_order(q7_emnist.read_boxes(model, read_bw, read_boxes, words=words, **refined_cnn), order)]
            for name, lines in readings.items():
                wrong, count = errors(lines, truth)
                tally.setdefault(name, [0, 0])
                tally[name][0] += wrong
                tally[name][1] += count
        print(f"\n{row}: boxes {matched} matched of {true} true ({found} found); findLetters "
              f"{min(seconds):.2f}-{max(seconds):.2f} s an image (median {np.median(seconds):.2f})")
        for name, (wrong, count) in tally.items():
            print(f"  {name:24s} {1 - wrong / count:.1%}  ({wrong} edits in {count} characters)")
        means = {}
        for name, (wrong, count) in tally.items():
            means.setdefault(name.rsplit(" seed", 1)[0], []).append(1 - wrong / count)
        print("  mean over seeds: " + "; ".join(f"{k} {np.mean(v):.1%}" for k, v in means.items()), flush=True)


if __name__ == "__main__":
    main()
