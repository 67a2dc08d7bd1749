"""What Q7's spec tests share: whether torch is here, the grader's data for each question (real
where the user has it, else the -lite sets built from the shared real data), staging of flowers17
for the sandbox, and the checks every PyTorch question makes of a history, a model and predictions.
"""
import importlib.util
import os
import shutil
import uuid
from pathlib import Path

import numpy as np
import pytest

from hw5data.paths import shared_data_dir
from spec_tests import _torch_probes

WEIGHTS_ENV = "HW5_SQUEEZENET_WEIGHTS"  # a squeezenet1_1 ImageNet state_dict file
SHARED_WEIGHTS = "squeezenet/squeezenet1_1_imagenet_fp16.pth"
TORCH_HUB_WEIGHTS = "hub/checkpoints/squeezenet1_1-b8a52dc0.pth"   # where torchvision's download lands
FLOWER_SIDE = 176        # px: the flowers the grader hands over have this shorter side (decoding 1020 full
                         # JPEGs would cost more than the networks; 160 px crops are what the reference takes)


def skip_without_torch():
    """Skip (saying why) where torch or torchvision is not installed: the worker runs this Python."""
    missing = [m for m in ("torch", "torchvision") if importlib.util.find_spec(m) is None]
    if missing:
        pytest.skip(f"{' and '.join(missing)} not installed where the grader runs, so Q7 (extra credit) is not "
                    "graded: pip install -e '.[torch]' (or the course's Gradescope package with torch)")


def squeezenet_weights():
    """The squeezenet1_1 ImageNet weights file the grader has: $HW5_SQUEEZENET_WEIGHTS, the shared
    data's fp16 copy, or torchvision's own download in the torch hub cache; None without one."""
    hub = Path(os.environ.get("TORCH_HOME") or Path.home() / ".cache" / "torch")
    for candidate in (os.environ.get(WEIGHTS_ENV), shared_data_dir() / SHARED_WEIGHTS, hub / TORCH_HUB_WEIGHTS):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


def flowers_folder():
    """flowers17 (official split 1) arranged for ImageFolder, FLOWER_SIDE px, cached; skips without it."""
    from hw5data import flowers17
    try:
        return flowers17.cached(FLOWER_SIDE)
    except (flowers17.MissingFlowers, OSError) as exc:
        pytest.skip(f"the grader has no flowers17 images: {exc}")


def stage_flowers(folder, workdir):
    """Copy the training split where the submission can read it, and the test images under random
    names in a random order (a file name says its class). The order comes from the OS's entropy, not
    the grading seed, which the submission's process can learn. Returns (train folder, test paths
    as a tuple of str, labels)."""
    from hw5data import flowers17
    rng = np.random.default_rng()
    stage = Path(workdir) / f"flowers-{uuid.uuid4().hex[:12]}"
    shutil.copytree(folder / "train", stage / "train")
    paths, labels = flowers17.labelled_files(folder / "test")
    order = rng.permutation(len(paths))
    (stage / "test").mkdir()
    staged = []
    for i in order:
        staged.append(stage / "test" / f"{uuid.UUID(bytes=rng.bytes(16)).hex}.jpg")
        shutil.copyfile(paths[i], staged[-1])
    return stage / "train", tuple(map(str, staged)), labels[order]


def train_module(submission, module, train, test, seed, keep=None):
    """Run module's build_model, train and predict in the worker. train, test: (x, labels); the test
    inputs go in a secret order (OS entropy), so predictions cannot be replayed by position.
    Returns {"layers", "history", "predictions" (in test's own order)}; keep: a key to keep the
    trained model under in the worker (for _torch_probes.read_with_kept)."""
    submission.seed(seed)
    (x, labels), (test_x, _) = train, test
    order = np.random.default_rng().permutation(len(test_x))
    what = f"{module._name}.build_model/train/predict"
    if keep is None:
        result = submission.run(_torch_probes.train_and_predict, module, x, labels, test_x[order], what=what)
    else:
        result = submission.run(_torch_probes.train_predict_and_keep, module, x, labels, test_x[order], keep, what=what)
    predictions = np.empty_like(result["predictions"])
    predictions[order] = result["predictions"]
    return {**result, "predictions": predictions}


def show_curves(module, result, out_dir, show_figure, caption):
    """module.plot_history(history, path) must write a PNG at path; the report shows it."""
    path = out_dir / "curves.png"
    module.plot_history(result["history"], path)
    show_figure(path, caption)


def check_history(history, name="train"):
    """history must hold 'loss' and 'accuracy' lists, one finite value per epoch, accuracy in [0, 1]."""
    __tracebackhide__ = True
    assert "problem" not in history, history.get("problem")
    loss, accuracy = history.get("loss", []), history.get("accuracy", [])
    assert loss and len(loss) == len(accuracy), \
        f"{name} must return {{'loss': [...], 'accuracy': [...]}}, one value per epoch; got lengths {len(loss)} and {len(accuracy)}"
    assert np.all(np.isfinite(loss)), f"{name}'s loss history holds NaN or inf: {loss}"
    assert all(0 <= a <= 1 for a in accuracy), f"{name}'s training accuracy must be a fraction in [0, 1]: {accuracy[:5]}"


def check_learns(history, fall):
    """The loss history's last epoch is at most `fall` times its first (the training steps work)."""
    __tracebackhide__ = True
    loss = history["loss"]
    assert len(loss) >= 2 and loss[-1] <= fall * loss[0], \
        f"the training loss goes from {loss[0]:.4g} to {loss[-1]:.4g} over {len(loss)} epochs; it must fall to at " \
        f"most {fall:g} of its first epoch (does each batch take an optimizer step after backward()?)"


def count_layers(layers, kind):
    return sum(1 for name, _ in layers if name == kind)


def check_is_cnn(layers, classes):
    """At least one Conv2d, and a last Linear or Conv2d layer with `classes` outputs."""
    __tracebackhide__ = True
    assert count_layers(layers, "Conv2d") >= 1, \
        f"the model has no torch.nn.Conv2d layer, so it is not a convolutional network: {_summary(layers)}"
    outputs = [attrs["out"] for name, attrs in layers if name in ("Linear", "Conv2d")]
    assert outputs and outputs[-1] == classes, \
        f"the model's last layer gives {outputs[-1] if outputs else 'no'} outputs; expected {classes} classes: {_summary(layers)}"


def _summary(layers):
    return ", ".join(f"{name}({attrs['in']}->{attrs['out']})" if attrs else name for name, attrs in layers)[:400]


def accuracy(predictions, labels):
    """The fraction of predictions equal to labels, after checking their shape."""
    __tracebackhide__ = True
    predictions = np.asarray(predictions)
    assert predictions.shape == labels.shape, \
        f"predict returned {predictions.shape} predictions for {labels.shape[0]} inputs; expected one class index each"
    return float(np.mean(predictions == labels))


def check_bar(value, bar, what, data, hint):
    """value >= bar, else fail with what, the data set, and a hint."""
    __tracebackhide__ = True
    assert value >= bar, f"{what} is {value:.1%} on {data}; the bar is {bar:.1%}. {hint}"
