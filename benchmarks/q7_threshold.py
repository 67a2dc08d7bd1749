"""The reference's spread on Q7's data, for the accuracy bars of spec_tests/test_q7_*.py.

    python benchmarks/q7_threshold.py [SEEDS] [QUESTION ...]     # default 10 seeds, every question

Trains each question's reference model SEEDS times (seeds 1..SEEDS: np.random and torch) on the
data the grader uses and prints the mean, sd, min and max of the accuracy the grader computes.
Q7.1.4's network is trained by the handout's plain recipe (`train(augment=False)`: the reference's
training until #27, frozen here) and its pages are read three ways: `plain` (the reference's crops
until issue #19, frozen here: the page bars are this pipeline's), `reference` (read_boxes) and
`refined` (read_boxes(words=..., refine=True)).
"""
import sys
import time
from pathlib import Path

import numpy as np
import skimage.filters
import skimage.transform
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "solution"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import q7_emnist  # noqa: E402
import q7_flowers  # noqa: E402
import q7_mlp  # noqa: E402
import q7_mnist  # noqa: E402
import q7_nist36_cnn  # noqa: E402

from hw5data import emnist, flowers17, mnist  # noqa: E402
from hw5data.choose import nist36_data  # noqa: E402
from spec_tests import q7  # noqa: E402
from spec_tests.pages import PAGES, char_accuracy, load_page  # noqa: E402
from spec_tests.reference import q7_boxes  # noqa: E402

QUESTIONS = ("7.1.1", "7.1.2", "7.1.3", "7.1.4", "7.2.1")
_cache = {}


def _once(key, make):
    if key not in _cache:
        _cache[key] = make()
    return _cache[key]


def _trained(module, train, test, **options):
    model = module.build_model()
    history = module.train(model, *train, **options)
    return model, history, float(np.mean(module.predict(model, test[0]) == test[1]))


def _pages():
    loaded = {name: load_page(name) for name in PAGES}
    found = q7_boxes({name: page[0] for name, page in loaded.items()})
    return {name: (loaded[name][3], *found.boxes[name], found.bw[name].astype(np.float32)) for name in PAGES}


def plain_crop_to_emnist(ink, side=28, margin=2):
    """The reference's crop until issue #19, on which the page bars of spec_tests/test_q7_emnist.py
    are calibrated: blurred, the glyph's box centred in a square with a 2-pixel margin, resized to
    28 x 28, white on black, transposed. ink (H, W) in [0, 1], ink = 1 -> (28, 28) uint8."""
    ink = skimage.filters.gaussian(ink, sigma=max(1.0, max(ink.shape) / 64))
    rows, cols = np.nonzero(ink > 0.1)
    if len(rows) == 0:
        return np.zeros((side, side), dtype=np.uint8)
    glyph = ink[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
    square = np.zeros((max(glyph.shape),) * 2)
    top, left = (square.shape[0] - glyph.shape[0]) // 2, (square.shape[1] - glyph.shape[1]) // 2
    square[top:top + glyph.shape[0], left:left + glyph.shape[1]] = glyph
    canvas = np.zeros((side, side))
    canvas[margin:-margin, margin:-margin] = skimage.transform.resize(square, (side - 2 * margin,) * 2, order=3, anti_aliasing=True)
    canvas = np.clip(canvas / max(canvas.max(), 1e-6), 0, 1)
    return np.round(canvas * 255).astype(np.uint8).T


def words_of(boxes):
    """The boxes' words as the reference's run_q4 spaces them (read_boxes' words=)."""
    import run_q4
    return run_q4.line_words(boxes, run_q4.group_lines(boxes))


def measure(question, seed):
    """{measure name: value} of the reference on the grader's data for one question and seed."""
    np.random.seed(seed)
    torch.manual_seed(seed)
    nist = _once("nist36", lambda: nist36_data().splits)
    nist_train, nist_valid = ((x, y.argmax(axis=1)) for x, y in (nist["train"], nist["valid"]))
    if question == "7.1.1":
        model, history, valid = _trained(q7_mlp, nist_train, nist_valid)
        return {"valid": valid, "loss fall": history["loss"][-1] / history["loss"][0]}
    if question == "7.1.2":
        splits = _once("mnist", lambda: mnist.mnist_data()[0])
        return {"test": _trained(q7_mnist, splits["train"], splits["test"])[2]}
    if question == "7.1.3":
        return {"valid": _trained(q7_nist36_cnn, nist_train, nist_valid)[2]}
    if question == "7.1.4":
        splits = _once("emnist", lambda: emnist.emnist_data()[0])
        # the handout's plain training (no augmentation), frozen as the crops are: the bars' pipeline
        model, _, test = _trained(q7_emnist, splits["train"], splits["test"], augment=False)
        found = {"test": test}
        for name, (truth, boxes, order, bw) in _once("pages", _pages).items():
            plain = "".join(q7_emnist.CLASSES[k] for k in q7_emnist.predict(model, np.array([
                plain_crop_to_emnist(1.0 - bw[y1:y2, x1:x2]) for y1, x1, y2, x2 in boxes])))
            for reader, read in (("plain", plain), ("reference", q7_emnist.read_boxes(model, bw, boxes)),
                                 ("refined", q7_emnist.read_boxes(model, bw, boxes, words=words_of(boxes), refine=True))):
                found[f"{name} {reader}"] = char_accuracy(["".join(read[i] for i in order).lower()], [t.lower() for t in truth])
        return found
    folder = q7.flowers_folder()
    paths, labels = flowers17.labelled_files(folder / "test")
    found = {}
    for name, model in (("finetune", q7_flowers.build_finetune(weights=q7.squeezenet_weights())),
                        ("scratch", q7_flowers.build_scratch())):
        q7_flowers.train(model, folder / "train")
        found[name] = float(np.mean(q7_flowers.predict(model, paths) == labels))
    return found


def main():
    seeds = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    questions = sys.argv[2:] or list(QUESTIONS)
    torch.set_num_threads(1)
    for question in questions:
        runs, started = [], time.perf_counter()
        for seed in range(1, seeds + 1):
            runs.append(measure(question, seed))
        seconds = (time.perf_counter() - started) / seeds
        for name in runs[0]:
            values = np.array([r[name] for r in runs])
            print(f"{question} {name}: mean {values.mean():.4f} sd {values.std(ddof=1):.4f} "
                  f"min {values.min():.4f} max {values.max():.4f} ({seeds} seeds, {seconds:.1f} s a seed)", flush=True)


if __name__ == "__main__":
    main()
