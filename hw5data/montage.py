"""Montage PNGs of NIST36-format rows: one row of the figure per class, to check a data set by eye."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from hw5data import nist36  # noqa: E402


def save_montage(x, y, path, per_class=10, title=None, classes=nist36.CLASSES):
    """Save a PNG with `per_class` upright images of each class present in (x (N, 1024), y one-hot)."""
    labels = np.asarray(y).argmax(axis=1)
    present = [c for c in range(len(classes)) if np.any(labels == c)]
    grid = np.ones((len(present) * 34, per_class * 34))
    for row, cls in enumerate(present):
        for col, index in enumerate(np.flatnonzero(labels == cls)[:per_class]):
            grid[row * 34 + 1: row * 34 + 33, col * 34 + 1: col * 34 + 33] = nist36.to_image(x[index])
    fig, ax = plt.subplots(figsize=(per_class * 0.45 + 0.6, len(present) * 0.45 + 0.5))
    ax.imshow(grid, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax.set_yticks(np.arange(len(present)) * 34 + 16, [classes[c] for c in present])
    ax.set_xticks([])
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path
