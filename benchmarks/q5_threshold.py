"""Measure the reference autoencoder on nist36-lite over seeds, and the bars they imply (Q5.2, Q5.3.2).

For each seed: 100 epochs with the handout's defaults, then the last epoch's training loss over the
first epoch's (how far the loss falls), the trained network's loss per training image, and the mean
validation PSNR. PCA-32's test PSNR (no
randomness) is printed beside them. The bars in spec_tests/test_q5_autoencoder.py are mean - 6 sd
(PSNR) and mean + 6 sd (the two losses): for a normal spread a correct submission misses one with
probability about 1e-9.

    python benchmarks/q5_threshold.py --seeds 20
"""
import argparse
import sys
import time

import numpy as np

from autograde import REFERENCE_DIR
from hw5data.choose import nist36_data

sys.path.insert(0, str(REFERENCE_DIR))
import run_q5  # noqa: E402
import run_q6  # noqa: E402


def _summary(name, values, bar_sign):
    mean, sd = np.mean(values), np.std(values, ddof=1)
    return (f"{name}: mean {mean:.4f}, sd {sd:.4f}, min {min(values):.4f}, max {max(values):.4f}; "
            f"bar mean {'+' if bar_sign > 0 else '-'} 6 sd = {mean + bar_sign * 6 * sd:.4f}")


def main(seeds):
    data = nist36_data()
    (x, _), (vx, _), (tx, _) = data.splits["train"], data.splits["valid"], data.splits["test"]
    ratios, psnrs, seconds, final = [], [], [], []
    for seed in range(seeds):
        np.random.seed(seed)
        start = time.perf_counter()
        params, losses = run_q5.train_autoencoder(x)
        seconds.append(time.perf_counter() - start)
        ratios.append(losses[-1] / losses[0])
        final.append(run_q5.squared_error(x, run_q5.autoencoder_forward(x, params)) / len(x))
        psnrs.append(run_q5.mean_psnr(vx, run_q5.autoencoder_forward(vx, params)))
        print(f"seed {seed}: loss {losses[0]:.2f} -> {losses[-1]:.2f} (after training {final[-1]:.2f}), valid PSNR {psnrs[-1]:.3f} dB, "
              f"{seconds[-1]:.1f} s", flush=True)
    mean, P = run_q6.pca_fit(x)
    print(data.description)
    print(_summary("final / first epoch loss", ratios, +1))
    print(_summary("training loss per image after training", final, +1))
    print(_summary("autoencoder validation PSNR (dB)", psnrs, -1))
    print(f"PCA-32 test PSNR {run_q5.mean_psnr(tx, run_q6.pca_reconstruct(tx, mean, P)):.3f} dB, "
          f"validation {run_q5.mean_psnr(vx, run_q6.pca_reconstruct(vx, mean, P)):.3f} dB")
    print(f"training time: median {np.median(seconds):.1f} s over {seeds} seeds")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    main(parser.parse_args().seeds)
