"""Q5: a 1024-32-32-32-1024 autoencoder trained with momentum, and its evaluation (the handout's
run_q5.py).

Built from the Q2 layer functions: forward/backwards with ReLU on the three hidden layers and the
sigmoid on the output. The graded parts are functions; `main()` runs them on the data in --data-dir.
"""
import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from skimage.metrics import peak_signal_noise_ratio  # noqa: E402

from nn import backwards, forward, get_random_batches, initialize_weights, sigmoid, sigmoid_deriv  # noqa: E402
from util import relu, relu_deriv  # noqa: E402

# The handout's starter run_q5.py defaults ("the provided default settings" of Q5.2).
EPOCHS, BATCH_SIZE, LEARNING_RATE, HIDDEN_SIZE = 100, 36, 3e-5, 32
DECAY_EVERY, DECAY = 20, 0.9        # learning_rate *= 0.9 after every 20th epoch
MOMENTUM = 0.9
LAYERS = ("layer1", "layer2", "layer3", "output")
SIDE = 32                            # rows are 32x32 images, stored transposed
EXAMPLE_CLASSES = "AGK05"            # Q5.3.1/Q6.2: five classes, two images each
CLASS_NAMES = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"   # as run_q3's; not imported, so Q5 runs without Q3


def initialize_autoencoder(in_size=1024, hidden_size=HIDDEN_SIZE):
    """Q5.1.1/Q5.1.2 a fresh autoencoder in_size -> hidden -> hidden -> hidden -> in_size.

    Returns: params with 'W'+name/'b'+name for LAYERS (Xavier-initialised by nn.initialize_weights)
             and a zero momentum accumulator 'm_'+key of the same shape for each of those 8 arrays.
    """
    params = {}
    sizes = (in_size, hidden_size, hidden_size, hidden_size, in_size)
    for name, fan_in, fan_out in zip(LAYERS, sizes[:-1], sizes[1:], strict=True):
        initialize_weights(fan_in, fan_out, params, name)
    for key in parameter_keys(params):
        params["m_" + key] = np.zeros_like(params[key])
    return params


def parameter_keys(params):
    """The learned arrays' keys, 'Wlayer1', 'blayer1', ..., 'boutput' (8 of them)."""
    return [kind + name for name in LAYERS for kind in ("W", "b")]


def autoencoder_forward(x, params):
    """Q5.1.1 x (N, 1024) -> reconstruction (N, 1024) in (0, 1): ReLU, ReLU, ReLU, sigmoid.
    Leaves each layer's cache in params for autoencoder_backwards."""
    hidden = x
    for name in LAYERS[:-1]:
        hidden = forward(hidden, params, name, relu)
    return forward(hidden, params, LAYERS[-1], sigmoid)


def squared_error(x, out):
    """Q5.1.1 the loss: total squared error sum((out - x)^2) over the batch and pixels (float)."""
    return float(np.sum((out - x) ** 2))


def autoencoder_backwards(x, out, params):
    """Q5.1.1 gradients of squared_error(x, out) for the out that autoencoder_forward(x, params)
    just returned: stores params['grad_W'+name] and params['grad_b'+name] for every layer."""
    delta = backwards(2.0 * (out - x), params, LAYERS[-1], sigmoid_deriv)
    for name in reversed(LAYERS[:-1]):
        delta = backwards(delta, params, name, relu_deriv)


def momentum_step(params, learning_rate):
    """Q5.1.2 for each learned array W: M_W = 0.9 M_W - learning_rate * dJ/dW, then W = W + M_W.
    Uses params['grad_'+key]; updates params['m_'+key] and params[key] in place."""
    for key in parameter_keys(params):
        velocity = params["m_" + key]
        velocity *= MOMENTUM                  # in place: the same arithmetic, two temporaries fewer per array
        velocity -= learning_rate * params["grad_" + key]
        params[key] += velocity


def train_autoencoder(train_x, *, epochs=EPOCHS, batch_size=BATCH_SIZE, learning_rate=LEARNING_RATE,
                      hidden_size=HIDDEN_SIZE):
    """Q5.2 train a fresh autoencoder with momentum on train_x (N, 1024), fresh shuffled batches each
    epoch, the learning rate times 0.9 after every 20th epoch.

    Returns: (params, losses) with losses (epochs,) = each epoch's total squared error summed over
             its batches, divided by N (the mean loss per image).
    """
    params = initialize_autoencoder(train_x.shape[1], hidden_size)
    losses = []
    for epoch in range(epochs):
        total = 0.0
        # No labels: a 0-column stand-in keeps get_random_batches from copying the images twice.
        for batch, _ in get_random_batches(train_x, np.empty((len(train_x), 0)), batch_size):
            out = autoencoder_forward(batch, params)
            total += squared_error(batch, out)
            autoencoder_backwards(batch, out, params)
            momentum_step(params, learning_rate)
        losses.append(total / len(train_x))
        if epoch % DECAY_EVERY == DECAY_EVERY - 1:
            learning_rate *= DECAY
    return params, np.array(losses)


def plot_loss(losses, path):
    """Q5.2 the training loss (mean squared error per image) against the epoch. Returns path (PNG)."""
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.plot(np.arange(1, len(losses) + 1), losses)
    ax.set_xlabel("epoch")
    ax.set_ylabel("training loss (squared error per image)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return Path(path)


def example_rows(labels, classes=EXAMPLE_CLASSES, per_class=2):
    """Q5.3.1/Q6.2 the first per_class rows of each class in classes.

    Inputs:  labels (N, 36) one-hot, classes a string of class names (A-Z then 0-9).
    Returns: row indices (len(classes) * per_class,), class by class.
    """
    truth = np.argmax(labels, axis=1)
    return np.concatenate([np.flatnonzero(truth == CLASS_NAMES.index(c))[:per_class] for c in classes])


def plot_reconstructions(originals, reconstructions, path, title="reconstructions"):
    """Q5.3.1/Q6.2 originals and reconstructions (K, 1024), K = 10, as two rows of images each
    (originals above their reconstructions), upright. Returns path (PNG)."""
    count = len(originals)
    fig, axes = plt.subplots(2, count, figsize=(1.1 * count, 2.6), squeeze=False)
    for column in range(count):
        for row, images in enumerate((originals, reconstructions)):
            ax = axes[row, column]
            ax.imshow(np.reshape(images[column], (SIDE, SIDE)).T, cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
    axes[0, 0].set_ylabel("original")
    axes[1, 0].set_ylabel("reconstructed")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return Path(path)


def mean_psnr(x, reconstructions):
    """Q5.3.2 mean over the rows of PSNR(row, its reconstruction) in dB, pixel values in [0, 1]
    (MAX_I = 1). Inputs: x and reconstructions (N, 1024). Returns a float."""
    return float(np.mean([peak_signal_noise_ratio(a, b, data_range=1.0) for a, b in zip(x, reconstructions, strict=True)]))


def load_split(data_dir, split):
    """nist36_<split>.mat from data_dir -> (x (N, 1024), y (N, 36)), as run_q3 loads it (not
    imported from there, so that Q5 runs without Q3's module)."""
    import scipy.io

    mat = scipy.io.loadmat(Path(data_dir) / f"nist36_{split}.mat")
    return mat[f"{split}_data"], mat[f"{split}_labels"].astype(float)


def main(argv=None):
    """Train the autoencoder on the NIST36 files in --data-dir; figures and numbers go to --out-dir."""
    parser = argparse.ArgumentParser(description="Q5: autoencoder with momentum on NIST36")
    parser.add_argument("--data-dir", default="../data", help="folder with nist36_{train,valid}.mat")
    parser.add_argument("--out-dir", default="results")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    np.random.seed(args.seed)
    (train_x, _), (valid_x, valid_y) = load_split(args.data_dir, "train"), load_split(args.data_dir, "valid")
    params, losses = train_autoencoder(train_x)
    plot_loss(losses, out / "q5_2_loss.png")
    rows = example_rows(valid_y)
    reconstructed = autoencoder_forward(valid_x, params)
    plot_reconstructions(valid_x[rows], reconstructed[rows], out / "q5_3_1_reconstructions.png",
                         f"autoencoder, validation images of {', '.join(EXAMPLE_CLASSES)}")
    numbers = {"final_loss": float(losses[-1]), "valid_psnr": mean_psnr(valid_x, reconstructed)}
    (out / "q5_results.json").write_text(json.dumps(numbers, indent=2))
    print(json.dumps(numbers, indent=2))


if __name__ == "__main__":
    main()
