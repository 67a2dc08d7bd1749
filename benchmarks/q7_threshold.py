"""The reference's spread on Q7's data, for the accuracy bars of spec_tests/test_q7_*.py.

    python benchmarks/q7_threshold.py [SEEDS] [QUESTION ...]     # default 10 seeds, every question

Trains each question's reference model SEEDS times (seeds 1..SEEDS: np.random and torch) on the
data the grader uses and prints the mean, sd, min and max of the accuracy the grader computes.
"""
import sys
import time
from pathlib import Path

import numpy as np
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
from spec_tests.reference import reference_reading  # noqa: E402

QUESTIONS = ("7.1.1", "7.1.2", "7.1.3", "7.1.4", "7.2.1")
_cache = {}


def _once(key, make):
    if key not in _cache:
        _cache[key] = make()
    return _cache[key]


def _trained(module, train, test):
    model = module.build_model()
    history = module.train(model, *train)
    return model, history, float(np.mean(module.predict(model, test[0]) == test[1]))


def _pages():
    loaded = {name: load_page(name) for name in PAGES}
    found = reference_reading(0, pages={name: page[0] for name, page in loaded.items()}, network=False)
    return {name: (loaded[name][3], *found.boxes[name], found.bw[name].astype(np.float32)) for name in PAGES}


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
        model, _, test = _trained(q7_emnist, splits["train"], splits["test"])
        found = {"test": test}
        for name, (truth, boxes, order, bw) in _once("pages", _pages).items():
            read = q7_emnist.read_boxes(model, bw, boxes)
            found[name] = char_accuracy(["".join(read[i] for i in order).lower()], [t.lower() for t in truth])
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
