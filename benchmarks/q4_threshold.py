"""Measure the reference's Q4.4 character accuracy over training seeds, and the bars.

Per seed: the network is trained on the grader's data (nist36-lite here); then (a) read_text on each
page, given as the tests give it (float32 in [0, 1]), and (b) the network on the reference's crops
of the 246 ground-truth boxes. The bars in spec_tests/test_q4_text.py are derived from these runs.
"""
import argparse
import sys

import numpy as np
import skimage

from autograde import REFERENCE_DIR
from hw5data.choose import nist36_data
from spec_tests._pages import PAGES, char_accuracy, load_page, word_accuracy

sys.path.insert(0, str(REFERENCE_DIR))
import run_q3  # noqa: E402
import run_q4  # noqa: E402
from q4 import findLetters  # noqa: E402


def main(seeds):
    data = nist36_data()
    (x, y), (vx, vy) = data.splits["train"], data.splits["valid"]
    pages = {name: load_page(name) for name in PAGES}
    photos = {name: skimage.img_as_float32(page[0]) for name, page in pages.items()}
    crops = np.concatenate([run_q4.to_nist_rows(findLetters(page[0])[1], page[1]) for page in pages.values()])
    labels = "".join(page[2] for page in pages.values())
    chars, words, crop_acc = {n: [] for n in PAGES}, {n: [] for n in PAGES}, []
    for seed in range(seeds):
        np.random.seed(seed)
        params, _ = run_q3.train_nist36(x, y, vx, vy)
        crop_acc.append(np.mean([run_q3.CLASS_NAMES[k] for k in run_q3.predict(params, crops)] == np.array(list(labels))))
        for name, (_, _, _, truth) in pages.items():
            text = run_q4.read_text(photos[name], params)
            chars[name].append(char_accuracy(text, truth))
            words[name].append(word_accuracy(text, truth))
    print(data.description)
    for name in PAGES:
        c, w = np.array(chars[name]), np.array(words[name])
        print(f"{name:15s} characters mean {c.mean():.4f} sd {c.std(ddof=1):.4f} min {c.min():.4f} max {c.max():.4f}"
              f" | words mean {w.mean():.4f} min {w.min():.4f}")
    overall = np.mean([np.mean(chars[n]) for n in PAGES])
    print(f"mean over pages {overall:.4f}")
    c = np.array(crop_acc)
    print(f"crops of the {len(labels)} true boxes: mean {c.mean():.4f} sd {c.std(ddof=1):.4f} min {c.min():.4f} max {c.max():.4f}")
    print("bars (mean - 5 sd): " + ", ".join(f"{n} {np.mean(chars[n]) - 5 * np.std(chars[n], ddof=1):.3f}" for n in PAGES)
          + f", crops {c.mean() - 5 * c.std(ddof=1):.3f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    main(parser.parse_args().seeds)
