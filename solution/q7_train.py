"""Q7: what the PyTorch questions share: the device, seeds, the training loop (with a progress bar
and checkpoints), prediction, and the training curves."""
import random
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from rich.progress import track  # noqa: E402


def device():
    """CUDA where there is a GPU, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def seed_everything(seed=0):
    """Seed Python's, numpy's and torch's generators, so a run repeats."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def train_classifier(model, x, labels, *, epochs, batch_size, learning_rate, optimizer="adam", augment=None,
                     checkpoint=None, description="training"):
    """Train model in place with Adam (or plain SGD: optimizer="sgd") on the cross-entropy of its logits.

    Inputs:  model: (B, ...) float tensor -> (B, C) logits; x: (N, ...) float32 tensor as the model
             takes it; labels (N,) int64 tensor; augment: optional function on a batch of x;
             checkpoint: a .pt path the model's state_dict is written to after every epoch.
    Returns: history {"loss": [mean cross-entropy per example, one per epoch],
                      "accuracy": [training accuracy, fraction, one per epoch]}.
    Only parameters with requires_grad are optimised (a frozen feature extractor stays as it is).
    """
    where = device()
    model.to(where)
    kind = {"adam": torch.optim.Adam, "sgd": torch.optim.SGD}[optimizer]
    optimizer = kind([p for p in model.parameters() if p.requires_grad], lr=learning_rate)
    history = {"loss": [], "accuracy": []}
    for _ in track(range(epochs), description=description, disable=not sys.stdout.isatty()):
        model.train()
        total_loss, correct = 0.0, 0
        for batch in torch.randperm(len(x)).split(batch_size):
            inputs, targets = x[batch].to(where), labels[batch].to(where)
            if augment is not None:
                inputs = augment(inputs)
            logits = model(inputs)
            loss = torch.nn.functional.cross_entropy(logits, targets)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total_loss += loss.item() * len(batch)
            correct += (logits.argmax(dim=1) == targets).sum().item()
        history["loss"].append(total_loss / len(x))
        history["accuracy"].append(correct / len(x))
        if checkpoint is not None:
            Path(checkpoint).parent.mkdir(parents=True, exist_ok=True)
            torch.save(model.state_dict(), checkpoint)
    return history


@torch.no_grad()
def class_probabilities(model, x, batch_size=512):
    """The model's softmax output (N, C) for x (a float32 tensor as the model takes it), in eval mode: numpy."""
    model.eval()
    where = device()
    model.to(where)
    return torch.cat([model(part.to(where)).softmax(dim=1).cpu() for part in x.split(batch_size)]).numpy()


def predict_classes(model, x, batch_size=512):
    """The class each row of x (a float32 tensor as the model takes it) gets: (N,) int64 numpy array."""
    return class_probabilities(model, x, batch_size).argmax(axis=1)


def load_nist36(data_dir):
    """The handout's nist36_train.mat and nist36_valid.mat in data_dir. Returns (x (N, 1024), labels
    (N,), valid_x, valid_labels): rows as stored, labels as class indices."""
    import scipy.io
    found = []
    for split in ("train", "valid"):
        mat = scipy.io.loadmat(Path(data_dir) / f"nist36_{split}.mat")
        found += [mat[f"{split}_data"], mat[f"{split}_labels"].argmax(axis=1)]
    return tuple(found)


def plot_history(history, path, title=""):
    """Training loss and accuracy per epoch, side by side; writes a PNG at path and returns path."""
    epochs = np.arange(1, len(history["loss"]) + 1)
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.5))
    left.plot(epochs, history["loss"], marker=".")
    left.set(xlabel="epoch", ylabel="cross-entropy per example", title="training loss")
    right.plot(epochs, np.asarray(history["accuracy"]) * 100, marker=".", color="tab:green")
    right.set(xlabel="epoch", ylabel="accuracy (%)", title="training accuracy")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, format="png", dpi=90)
    plt.close(fig)
    return Path(path)
