"""What Q7's spec tests share: whether torch is here, the grader's data for each question (real
where the user has it, else the -lite sets built from the shared real data), staging of flowers17
for the sandbox, and the checks every PyTorch question makes of a history, a model and predictions,
and of how predict runs the trained model (check_predict_procedure: eval mode, repeatable, inputs
prepared as train's; the accuracy itself is scored from predictions made in eval mode, so a missing
model.eval() costs that check only).
"""
import importlib.util
import os
import shutil
import uuid
from pathlib import Path

import numpy as np
import pytest

from hw5data.paths import shared_data_dir
from spec_tests import torch_probes

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
    Returns {"layers", "history", "predictions" (in test's own order; made with the model in eval
    mode), "predict_modes", "predict_repeatable", "inputs"} (predict's procedure: see
    torch_probes.train_and_predict and check_predict_procedure); keep: a key to keep the trained
    model under in the worker (for torch_probes.read_with_kept)."""
    submission.seed(seed)
    (x, labels), (test_x, _) = train, test
    order = np.random.default_rng().permutation(len(test_x))
    what = f"{module._name}.build_model/train/predict"
    if keep is None:
        result = submission.run(torch_probes.train_and_predict, module, x, labels, test_x[order], what=what)
    else:
        result = submission.run(torch_probes.train_predict_and_keep, module, x, labels, test_x[order], keep, what=what)
    predictions = np.empty_like(result["predictions"])
    predictions[order] = result["predictions"]
    return {**result, "predictions": predictions}


def show_curves(module, result, out_dir, show_figure, caption):
    """train's history must hold one loss and accuracy per epoch, and module.plot_history(history,
    path) must write a PNG at path; the report shows it."""
    __tracebackhide__ = True
    check_history(result["history"])
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
        f"most {fall:g} of its first epoch (does each batch take an optimizer step after backward()? is there a " \
        "softmax before a cross_entropy loss, which applies log-softmax itself?)"


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


def check_bar(value, bar, what, data, hint, result=None):
    """value >= bar, else fail with what, the data set, and a hint; where the probe's `result` found
    predict preparing its inputs unlike train, the message says so first."""
    __tracebackhide__ = True
    if value < bar and result is not None and input_problems(result):
        hint = f"predict prepares inputs unlike train: see {PROCEDURE_TEST}. {hint}"
    assert value >= bar, f"{what} is {value:.1%} on {data}; the bar is {bar:.1%}. {hint}"


# predict's procedure (the probes' "predict_modes", "predict_repeatable" and "inputs"): predict must
# run the model in eval mode, repeatably, on inputs prepared as train's. The inputs are compared where
# they enter the model's first layer: predict's mean within MEAN_MARGIN sd (train's) of train's, its
# sd within STD_RATIO times train's, the same number of values per example.
PROCEDURE_TEST = "test_predict_runs_the_trained_model_in_eval_mode"
MEAN_MARGIN = 0.25
STD_RATIO = (0.5, 2.0)
EVAL_HINT = "call model.eval() (and use torch.no_grad()) in predict: with dropout active the predictions change from run to run"


def _number(value):
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else float("nan")


def _stats(found):
    """A summary of inputs from the probe (untrusted): (mean, std, size, sizes) or None."""
    if not isinstance(found, dict):
        return None
    sizes = found.get("sizes")
    sizes = {int(s) for s in sizes if isinstance(s, int)} if isinstance(sizes, list) else set()
    size = found.get("size") if isinstance(found.get("size"), int) else -1
    return _number(found.get("mean")), _number(found.get("std")), size, sizes or {size}


def input_problems(result):
    """How the inputs predict feeds the model's first layer differ from train's (a list of
    sentences; empty when they match, or where either side was not seen)."""
    inputs = result.get("inputs") if isinstance(result, dict) else None
    if not isinstance(inputs, dict):
        return []
    train, predict = _stats(inputs.get("train")), _stats(inputs.get("predict"))
    if train is None or predict is None:
        return []
    (mean_t, std_t, size_t, sizes_t), (mean_p, std_p, size_p, sizes_p) = train, predict
    layer = f"the model's first layer, {inputs['layer']}" if isinstance(inputs.get("layer"), str) else "the model's first layer"
    if not sizes_p <= sizes_t:
        return [f"predict feeds {layer}, {size_p} values per example where train feeds it {size_t}: prepare them "
                "alike (the same size, crop, channels)"]
    if not all(np.isfinite([mean_t, std_t])):
        return []
    said = f"(sd {std_p:.3g}) where train's average {mean_t:.3g} (sd {std_t:.3g}), entering {layer}"
    if not np.isfinite(mean_p) or not np.isfinite(std_p):
        return [f"predict feeds the model inputs averaging {mean_p:.3g} {said}: they hold NaN or inf"]
    problems = []
    if abs(mean_p - mean_t) > MEAN_MARGIN * std_t + 1e-6:
        problems.append(f"predict feeds the model inputs averaging {mean_p:.3g} {said}: prepare them alike "
                        "(the same scaling, inversion, normalisation)")
    elif not STD_RATIO[0] * std_t <= std_p <= STD_RATIO[1] * std_t:
        problems.append(f"predict feeds the model inputs spread with sd {std_p:.3g} (mean {mean_p:.3g}) where train's "
                        f"have sd {std_t:.3g} (mean {mean_t:.3g}), entering {layer}: prepare them alike (the same scaling, "
                        "normalisation)")
    return problems


def procedure_problems(result):
    """What is wrong with how predict runs the trained model (a list of sentences; empty if nothing)."""
    if not isinstance(result, dict) or "predict_repeatable" not in result:
        return ["the probe reported nothing on how predict ran (the submission's process tampered with it?)"]
    problems = []
    if isinstance(result.get("predict_problem"), str):
        problems.append(f"predict failed on the first test inputs: {result['predict_problem']}")
    modes = result.get("predict_modes")
    modes = [m for m in modes if isinstance(m, str)] if isinstance(modes, list) else []
    if modes:
        norm = " (and batch norm normalises with each batch's own statistics)" if any("Norm" in m for m in modes) else ""
        problems.append(f"{', '.join(modes)} ran in training mode during predict; {EVAL_HINT}{norm}")
    elif result.get("predict_repeatable") is not True and "predict_problem" not in result:
        problems.append("predict gave other classes for the same test inputs in a second run (under another torch "
                        "seed), though no dropout or batch-norm layer ran in training mode: a functional dropout "
                        f"(F.dropout(..., training=True)) or random test-time transforms? {EVAL_HINT}")
    return problems + input_problems(result)


def _finding(result):
    """One line on predict's procedure and the inputs train and predict fed the model, for the report."""
    modes = result.get("predict_modes") if isinstance(result.get("predict_modes"), list) else []
    line = (f"in training mode: {', '.join(map(str, modes))}" if modes else "no mode-dependent layer in training mode") + \
        ("; repeatable" if result.get("predict_repeatable") is True else "; not repeatable")
    inputs = result.get("inputs") if isinstance(result.get("inputs"), dict) else {}
    train, predict = _stats(inputs.get("train")), _stats(inputs.get("predict"))
    if train is None or predict is None:
        return line + "; inputs not compared (train or predict fed the model's first layer nothing seen)"
    (mean_t, std_t, size_t, _), (mean_p, std_p, size_p, _) = train, predict
    return (f"{line}; inputs to {inputs.get('layer')}: train mean {mean_t:.4g} sd {std_t:.4g} ({size_t} values each), "
            f"predict mean {mean_p:.4g} sd {std_p:.4g} ({size_p}); |mean difference| / sd {abs(mean_p - mean_t) / max(std_t, 1e-12):.4g} "
            f"(bar {MEAN_MARGIN:g}), sd ratio {std_p / max(std_t, 1e-12):.4g} (bar {STD_RATIO[0]:g}-{STD_RATIO[1]:g})")


def check_predict_procedure(results, show_finding=None):
    """results: {what (e.g. "" or "the fine-tuned SqueezeNet"): a training probe's result}. predict
    runs each trained model in eval mode (no dropout or batch norm in training mode, the same answer
    twice) on inputs prepared as train's; else fail, saying what is wrong with which."""
    __tracebackhide__ = True
    problems = []
    for what, result in results.items():
        if show_finding is not None and isinstance(result, dict):
            show_finding(f"predict{f' ({what})' if what else ''}: {_finding(result)}")
        problems += [f"{what}: {p}" if what else p for p in procedure_problems(result)]
    assert not problems, "; ".join(problems)
