"""Q3.1: train the 1024-64-36 network on NIST36 and plot its curves (the handout's run_q3.py).

The graded parts are functions; `main()` runs them on the data in --data-dir.
"""
import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import scipy.io  # noqa: E402

from nn import initialize_weights  # noqa: E402
from run_q2 import train  # noqa: E402

HIDDEN, CLASSES = 64, 36


def train_nist36(train_x, train_y, valid_x, valid_y, *, epochs=30, batch_size=32, learning_rate=1e-2):
    """Q3.1.1 train a fresh 1024-64-36 sigmoid/softmax network.

    Inputs:  train_x (N, 1024), train_y (N, 36) one-hot; valid_x (M, 1024), valid_y (M, 36)
    Returns: (params with layers 'layer1' (1024 -> 64) and 'output' (64 -> 36),
              history as run_q2.train returns it, one entry per epoch, with validation).
    """
    params = {}
    initialize_weights(train_x.shape[1], HIDDEN, params, "layer1")
    initialize_weights(HIDDEN, train_y.shape[1], params, "output")
    history = train(train_x, train_y, params, epochs=epochs, batch_size=batch_size,
                    learning_rate=learning_rate, valid=(valid_x, valid_y))
    return params, history


def plot_curves(history, out_dir):
    """Q3.1.1 the two figures: accuracy and mean cross-entropy vs epoch, train and validation.

    Returns: (accuracy PNG path, loss PNG path), written in out_dir.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for key, label in (("acc", "accuracy"), ("loss", "mean cross-entropy")):
        fig, ax = plt.subplots(figsize=(5, 3.5))
        epochs = np.arange(1, len(history[f"train_{key}"]) + 1)
        ax.plot(epochs, history[f"train_{key}"], label="train")
        ax.plot(epochs, history[f"valid_{key}"], label="validation")
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        ax.legend()
        fig.tight_layout()
        paths.append(out_dir / f"q3_1_1_{key}.png")
        fig.savefig(paths[-1], dpi=100)
        plt.close(fig)
    return tuple(paths)


def load_split(data_dir, split):
    """nist36_<split>.mat from data_dir -> (x (N, 1024), y (N, 36))."""
    mat = scipy.io.loadmat(Path(data_dir) / f"nist36_{split}.mat")
    return mat[f"{split}_data"], mat[f"{split}_labels"].astype(float)


def main(argv=None):
    parser = argparse.ArgumentParser(description="Q3.1.1: train on NIST36, plot the curves")
    parser.add_argument("--data-dir", default="../data", help="folder with nist36_{train,valid}.mat")
    parser.add_argument("--out-dir", default="results", help="where the figures go")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    np.random.seed(args.seed)
    (train_x, train_y), (valid_x, valid_y) = (load_split(args.data_dir, s) for s in ("train", "valid"))
    _, history = train_nist36(train_x, train_y, valid_x, valid_y, epochs=args.epochs)
    print(f"validation accuracy {history['valid_acc'][-1]:.3f}; figures: {plot_curves(history, args.out_dir)}")


if __name__ == "__main__":
    main()
