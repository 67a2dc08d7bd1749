"""Q3.1: train the 1024-64-36 network on NIST36, and the figures of its writeup (the handout's run_q3.py).

The graded parts are functions; `main()` runs them all on the data in --data-dir.
"""
import argparse
import json
import string
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import scipy.io  # noqa: E402
from mpl_toolkits.axes_grid1 import ImageGrid  # noqa: E402

from nn import forward, initialize_weights, sigmoid, softmax  # noqa: E402
from run_q2 import train  # noqa: E402

HIDDEN, CLASSES = 64, 36
BEST_LEARNING_RATE = 1e-2   # of 1e-3, 3e-3, 1e-2, 3e-2, 1e-1: 3e-3 and 1e-2 tie on validation (see main)
CLASS_NAMES = string.ascii_uppercase + string.digits   # label index -> character, the files' order
SIDE = 32                                              # rows are 32x32 images, stored transposed


def train_nist36(train_x, train_y, valid_x, valid_y, *, epochs=30, batch_size=32, learning_rate=BEST_LEARNING_RATE):
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


def class_probabilities(params, x):
    """The trained network's softmax output (N, 36) for the rows of x (N, 1024)."""
    return forward(forward(x, params, "layer1", sigmoid), params, "output", softmax)


def predict(params, x):
    """Class indices (N,) the trained network gives the rows of x (N, 1024)."""
    return class_probabilities(params, x).argmax(axis=1)


def accuracy(params, x, y):
    """Fraction (0..1) of the rows of x (N, 1024) whose predicted class is the one-hot label in y (N, 36)."""
    return float(np.mean(predict(params, x) == np.argmax(y, axis=1)))


def learning_rate_sweep(train_x, train_y, valid_x, valid_y, *, best_learning_rate=BEST_LEARNING_RATE,
                        epochs=30, batch_size=32):
    """Q3.1.2 train three fresh networks: the best learning rate, 10 times it and a tenth of it.

    Returns: {learning rate: (params, history)} for best, 10*best, best/10, in that order.
    """
    runs = {}
    for rate in (best_learning_rate, best_learning_rate * 10, best_learning_rate / 10):
        runs[rate] = train_nist36(train_x, train_y, valid_x, valid_y, epochs=epochs,
                                  batch_size=batch_size, learning_rate=rate)
    return runs


def plot_learning_rates(runs, out_dir):
    """Q3.1.2 the sweep's figures: accuracy and mean cross-entropy vs epoch, one colour per learning
    rate, train solid and validation dashed. runs as learning_rate_sweep returns it.

    Returns: (accuracy PNG path, loss PNG path), written in out_dir.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for key, label in (("acc", "accuracy"), ("loss", "mean cross-entropy")):
        fig, ax = plt.subplots(figsize=(5.5, 3.8))
        for number, (rate, (_, history)) in enumerate(runs.items()):
            colour = f"C{number}"
            epochs = np.arange(1, len(history[f"train_{key}"]) + 1)
            ax.plot(epochs, history[f"train_{key}"], color=colour, label=f"lr {rate:g} train")
            ax.plot(epochs, history[f"valid_{key}"], color=colour, linestyle="--", label=f"lr {rate:g} validation")
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        ax.legend(fontsize=7)
        fig.tight_layout()
        paths.append(out_dir / f"q3_1_2_{key}.png")
        fig.savefig(paths[-1], dpi=100)
        plt.close(fig)
    return tuple(paths)


def weight_images(W):
    """Q3.1.3 the first layer's weights as pictures: W (1024, H) -> (H, 32, 32); picture i is hidden
    unit i's incoming weights (column i) laid out like the data's images, upright."""
    # Data rows are transposed images flattened, so un-transpose to show letters upright.
    return np.asarray(W).T.reshape(-1, SIDE, SIDE).transpose(0, 2, 1)


def plot_first_layer_weights(W, path, title):
    """Q3.1.3 an ImageGrid of weight_images(W) (8x8 for 64 hidden units), each in its own grey scale.

    Returns: path (the PNG written).
    """
    images = weight_images(W)
    columns = int(np.ceil(np.sqrt(len(images))))
    fig = plt.figure(figsize=(6, 6.3))
    grid = ImageGrid(fig, 111, nrows_ncols=(int(np.ceil(len(images) / columns)), columns), axes_pad=0.04)
    for ax in grid:
        ax.axis("off")
    for ax, image in zip(grid, images, strict=False):  # the grid may have spare cells
        ax.imshow(image, cmap="gray")
    fig.suptitle(title)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return Path(path)


def confusion_matrix(params, x, y):
    """Q3.1.4 C (36, 36) int: C[i, j] = number of rows of x (N, 1024) of true class i (one-hot y
    (N, 36)) that the network predicts as class j. Sums to N; its trace / N is the accuracy."""
    matrix = np.zeros((y.shape[1], y.shape[1]), dtype=np.int64)
    np.add.at(matrix, (np.argmax(y, axis=1), predict(params, x)), 1)
    return matrix


def most_confused_pairs(matrix, k=5):
    """Q3.1.4 the k pairs of distinct classes mixed up most often, in either direction.

    Returns: list of (class a, class b, count) with a before b in CLASS_NAMES' order,
             count = C[a, b] + C[b, a], largest first (ties in class order).
    """
    both_ways = np.triu(matrix + matrix.T, k=1)
    rows, cols = np.triu_indices(len(matrix), k=1)
    order = np.argsort(-both_ways[rows, cols], kind="stable")[:k]
    return [(CLASS_NAMES[rows[i]], CLASS_NAMES[cols[i]], int(both_ways[rows[i], cols[i]])) for i in order]


def plot_confusion_matrix(matrix, path):
    """Q3.1.4 the confusion matrix as a labelled heat map (true class down, predicted across).

    Returns: path (the PNG written).
    """
    fig, ax = plt.subplots(figsize=(7.5, 6.5))
    shown = ax.imshow(matrix, cmap="viridis", norm=matplotlib.colors.PowerNorm(0.5))
    ticks = np.arange(len(matrix))
    ax.set_xticks(ticks, list(CLASS_NAMES[:len(matrix)]), fontsize=7)
    ax.set_yticks(ticks, list(CLASS_NAMES[:len(matrix)]), fontsize=7)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(f"confusion matrix: {matrix.sum()} samples, accuracy {np.trace(matrix) / matrix.sum():.1%}")
    fig.colorbar(shown, ax=ax, label="samples (square-root scale)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return Path(path)


def load_split(data_dir, split):
    """nist36_<split>.mat from data_dir -> (x (N, 1024), y (N, 36))."""
    mat = scipy.io.loadmat(Path(data_dir) / f"nist36_{split}.mat")
    return mat[f"{split}_data"], mat[f"{split}_labels"].astype(float)


def main(argv=None):
    """Run every Q3.1 driver on the NIST36 files in --data-dir; figures and numbers go to --out-dir."""
    from rich.progress import Progress

    parser = argparse.ArgumentParser(description="Q3.1: train on NIST36; curves, learning rates, weights, confusion")
    parser.add_argument("--data-dir", default="../data", help="folder with nist36_{train,valid,test}.mat")
    parser.add_argument("--out-dir", default="results", help="where the figures and q3_results.json go")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    np.random.seed(args.seed)
    (train_x, train_y), (valid_x, valid_y), (test_x, test_y) = (
        load_split(args.data_dir, s) for s in ("train", "valid", "test"))
    numbers = {}
    with Progress() as progress:
        steps = progress.add_task("Q3.1", total=4)
        progress.update(steps, description="Q3.1.2 three learning rates")
        runs = learning_rate_sweep(train_x, train_y, valid_x, valid_y, epochs=args.epochs)
        (params, history), *_ = runs.values()
        numbers["valid_accuracy"] = {f"{rate:g}": h["valid_acc"][-1] for rate, (_, h) in runs.items()}
        numbers["train_accuracy"] = {f"{rate:g}": h["train_acc"][-1] for rate, (_, h) in runs.items()}
        numbers["test_accuracy_best"] = accuracy(params, test_x, test_y)
        plot_learning_rates(runs, out)
        progress.advance(steps)
        progress.update(steps, description="Q3.1.1 curves of the best network")
        plot_curves(history, out)
        progress.advance(steps)
        progress.update(steps, description="Q3.1.3 first-layer weights")
        initial = {}
        initialize_weights(train_x.shape[1], HIDDEN, initial, "layer1")
        plot_first_layer_weights(initial["Wlayer1"], out / "q3_1_3_weights_initial.png", "after initialisation")
        plot_first_layer_weights(params["Wlayer1"], out / "q3_1_3_weights_trained.png", "after training")
        progress.advance(steps)
        progress.update(steps, description="Q3.1.4 confusion matrix")
        matrix = confusion_matrix(params, valid_x, valid_y)
        plot_confusion_matrix(matrix, out / "q3_1_4_confusion.png")
        numbers["most_confused"] = most_confused_pairs(matrix)
        progress.advance(steps)
    (out / "q3_results.json").write_text(json.dumps(numbers, indent=2))
    print(json.dumps(numbers, indent=2))
    print(f"figures in {out}/")


if __name__ == "__main__":
    main()
