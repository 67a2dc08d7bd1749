"""Measure the reference's Q4.4 character accuracy per page over training seeds, and the bars.

The network is trained on the grader's data (nist36-lite here) with the seed; findLetters does not
depend on it. The bar per page in spec_tests/test_q4_text.py is derived from these runs.
"""
import argparse
import sys

import numpy as np

from autograde import REFERENCE_DIR
from hw5data.choose import nist36_data
from spec_tests._pages import PAGES, char_accuracy, load_page, word_accuracy

sys.path.insert(0, str(REFERENCE_DIR))
import run_q3  # noqa: E402
import run_q4  # noqa: E402


def main(seeds):
    data = nist36_data()
    (x, y), (vx, vy) = data.splits["train"], data.splits["valid"]
    pages = {name: load_page(name) for name in PAGES}
    chars, words = {n: [] for n in PAGES}, {n: [] for n in PAGES}
    for seed in range(seeds):
        np.random.seed(seed)
        params, _ = run_q3.train_nist36(x, y, vx, vy)
        for name, (image, _, _, truth) in pages.items():
            text = run_q4.read_text(image, params)
            chars[name].append(char_accuracy(text, truth))
            words[name].append(word_accuracy(text, truth))
    print(data.description)
    for name in PAGES:
        c, w = np.array(chars[name]), np.array(words[name])
        print(f"{name:15s} characters mean {c.mean():.4f} sd {c.std(ddof=1):.4f} min {c.min():.4f} max {c.max():.4f}"
              f" | words mean {w.mean():.4f} min {w.min():.4f}")
    overall = np.mean([np.mean(chars[n]) for n in PAGES])
    print(f"mean over pages {overall:.4f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    main(parser.parse_args().seeds)
