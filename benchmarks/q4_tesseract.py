"""Q4.4 in one run: the reference pipeline (its Q3 network trained on the grader's data) beside
Tesseract 5 (Debian's tesseract-ocr, its stock English LSTM model) on the four handout pages, by the
same metrics: character accuracy (spaces ignored) and word accuracy (spaces count).

Tesseract reads any character; its output is put in the network's alphabet first: upper case, only
A-Z, 0-9 and spaces kept (the truth holds nothing else). Page segmentation modes: 6 (one block of
text) and 11 (sparse text).

    python benchmarks/q4_tesseract.py [--seeds 5]
"""
import argparse
import re
import shutil
import subprocess
import sys
import time

import numpy as np
import skimage

from autograde import REFERENCE_DIR
from hw5data.choose import nist36_data
from spec_tests.pages import PAGES, char_accuracy, images_dir, load_page, word_accuracy

PSMS = (6, 11)


def tesseract_lines(path, psm):
    """Tesseract's text of the image at path, in the 36-class alphabet: a list of non-empty lines."""
    done = subprocess.run(["tesseract", str(path), "stdout", "--psm", str(psm)], capture_output=True, text=True,
                          check=True, timeout=300)
    lines = (re.sub(r"[^A-Z0-9 ]", "", line.upper()).strip() for line in done.stdout.splitlines())
    return [re.sub(" +", " ", line) for line in lines if line]


def tesseract_scores(psm):
    """{page: (character accuracy, word accuracy, seconds)} of Tesseract with this segmentation mode."""
    scores = {}
    for name in PAGES:
        start = time.perf_counter()
        lines = tesseract_lines(images_dir() / name, psm)
        scores[name] = (char_accuracy(lines, load_page(name)[3]), word_accuracy(lines, load_page(name)[3]),
                        time.perf_counter() - start)
    return scores


def reference_scores(seeds):
    """{page: (mean character accuracy, mean word accuracy, mean seconds of read_text)} over seeds."""
    sys.path.insert(0, str(REFERENCE_DIR))
    import run_q3
    import run_q4
    data = nist36_data()
    (x, y), (vx, vy) = data.splits["train"], data.splits["valid"]
    runs = {name: [] for name in PAGES}
    for seed in range(seeds):
        np.random.seed(seed)
        params, _ = run_q3.train_nist36(x, y, vx, vy)
        for name in PAGES:
            image, _, _, truth = load_page(name)
            start = time.perf_counter()
            lines = run_q4.read_text(skimage.img_as_float32(image), params)
            runs[name].append((char_accuracy(lines, truth), word_accuracy(lines, truth), time.perf_counter() - start))
    return {name: tuple(np.mean(runs[name], axis=0)) for name in PAGES}, data.name


def main(seeds):
    if shutil.which("tesseract") is None:
        sys.exit("tesseract is not installed (Debian: apt-get install tesseract-ocr)")
    version = subprocess.run(["tesseract", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    reference, data_name = reference_scores(seeds)
    columns = {f"reference ({data_name}, {seeds} seeds)": reference}
    columns.update({f"{version}, psm {psm}": tesseract_scores(psm) for psm in PSMS})
    print(f"{'page':15s} " + " | ".join(f"{c:>34s}" for c in columns))
    for name in (*PAGES, "mean"):
        cells = []
        for scores in columns.values():
            c, w, s = np.mean(list(scores.values()), axis=0) if name == "mean" else scores[name]
            cells.append(f"chars {c:6.1%} words {w:6.1%} {s:5.1f} s")
        print(f"{name:15s} " + " | ".join(f"{cell:>34s}" for cell in cells))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    main(parser.parse_args().seeds)
