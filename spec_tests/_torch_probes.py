"""Q7's probes: grader functions that run INSIDE the submission's worker (Submission.run), where
the torch models the submission builds can live. Each builds, trains or inspects a model there and
returns plain data (numbers, strings, numpy arrays) for the tests to judge.

What a probe returns comes from the submission's process, so the tests treat it as untrusted: the
scores rest on what the grader recomputes from it (accuracy from predictions on data whose labels
never reach the submission; the MLP's output from the weights it reports).
"""
import hashlib
import importlib

import numpy as np


def _torch():
    import torch
    return torch


_KEPT = {}   # models kept in the worker between probes: {key: model}


def _kept():
    """_KEPT of this module as the worker imports it: the probes arrive by value (cloudpickle), each
    request with fresh globals, so only an imported module outlives a request."""
    return importlib.import_module("spec_tests._torch_probes")._KEPT


def _model_of(build, name):
    """build() after seeding torch from np.random, which the grader seeds before every test: a
    grade is reproducible, and another --grading-seed draws other initial weights."""
    _torch().manual_seed(int(np.random.randint(2**31)))
    model = build()
    if not isinstance(model, _torch().nn.Module):
        raise TypeError(f"{name}() returned {type(model).__name__}; expected a torch.nn.Module")
    return model


def _describe(module):
    torch = _torch()
    if isinstance(module, torch.nn.Conv2d):
        return "Conv2d", {"in": module.in_channels, "out": module.out_channels}
    if isinstance(module, torch.nn.Linear):
        return "Linear", {"in": module.in_features, "out": module.out_features}
    return type(module).__name__, {}


def layers(model, order=()):
    """The model's leaf modules [(type name, {attribute: value})]: in the order the forward pass
    first called them (`order`, from _call_order), then any it did not call, in registration order."""
    leaves = [m for m in model.modules() if not list(m.children())]
    called = [m for m in order if any(m is leaf for leaf in leaves)]
    return [_describe(m) for m in called + [m for m in leaves if not any(m is c for c in called)]]


class _call_order:
    """Context manager: records the leaf modules of a model in the order they first run."""

    def __init__(self, model):
        self.model, self.order, self.hooks = model, [], []

    def __enter__(self):
        def seen(module, *_):
            if not any(module is m for m in self.order):
                self.order.append(module)
        self.hooks = [m.register_forward_hook(seen) for m in self.model.modules() if not list(m.children())]
        return self.order

    def __exit__(self, *exc):
        for hook in self.hooks:
            hook.remove()
        return False


def _plain_history(history):
    """The history as plain lists, or {"problem": why} (check_history fails on it, and only it)."""
    try:
        return {str(k): [float(v) for v in history[k]] for k in ("loss", "accuracy")}
    except (TypeError, KeyError, ValueError, IndexError) as exc:
        return {"problem": f"train returned {type(history).__name__} ({type(exc).__name__}: {str(exc)[:100]}); "
                           "expected {'loss': [...], 'accuracy': [...]}, one number per epoch"}


def _classes(predictions, count, function="predict"):
    """predict's answer as (count,) int64 class indices, or a TypeError saying what is wrong."""
    array = np.asarray(predictions)
    if array.shape != (count,) or not (np.issubdtype(array.dtype, np.integer) or array.dtype == bool):
        raise TypeError(f"{function} returned {type(predictions).__name__} of shape {array.shape} and dtype "
                        f"{array.dtype}; expected ({count},) integer class indices, one per input")
    return array.astype(np.int64)


def _predicted(model, predict, inputs, count):
    with _call_order(model) as order:
        predictions = _classes(predict(model, inputs), count)
    return predictions, layers(model, order)


def _trained(module, x, labels, test_x, checkpoint):
    model = _model_of(module.build_model, "build_model")
    history = module.train(model, x, labels, checkpoint=checkpoint)
    predictions, found = _predicted(model, module.predict, test_x, len(test_x))
    return model, {"layers": found, "history": _plain_history(history), "predictions": predictions}


def train_and_predict(module, x, labels, test_x, checkpoint=None):
    """module.build_model(), module.train(model, x, labels, checkpoint=checkpoint), then
    module.predict(model, test_x). Returns {"layers": layers(model), "history": {"loss": [...],
    "accuracy": [...]}, "predictions": (M,) int64}."""
    return _trained(module, x, labels, test_x, checkpoint)[1]


def train_predict_and_keep(module, x, labels, test_x, key, checkpoint=None):
    """train_and_predict, keeping the trained model in this process under `key` for read_with_kept."""
    _kept()[key], result = _trained(module, x, labels, test_x, checkpoint)
    return result


def read_with_kept(module, key, bw, boxes):
    """module.read_boxes(kept model, bw, boxes): one character per box, as a str."""
    if key not in _kept():
        raise RuntimeError("the trained model is gone (the submission's process restarted)")
    return module.read_boxes(_kept()[key], bw, boxes)


def mlp_on(module, x):
    """module.build_model() run on x (N, 1024), untrained. Returns {"weights": [(W (out, in), b (out,))
    of each Linear layer in the order the forward pass ran them], "output": (N, C) float64}."""
    torch = _torch()
    model = _model_of(module.build_model, "build_model")
    model.eval()
    with torch.no_grad(), _call_order(model) as order:
        output = model(torch.as_tensor(x, dtype=torch.float32))
    linear = [m for m in order if isinstance(m, torch.nn.Linear)]
    return {"output": output.double().numpy(),
            "weights": [(m.weight.detach().double().numpy(), None if m.bias is None else m.bias.detach().double().numpy())
                        for m in linear]}


def _digest(parameters):
    digest = hashlib.sha256()
    for p in parameters:
        digest.update(p.detach().cpu().float().numpy().tobytes())
    return digest.hexdigest()


def finetune_and_predict(module, folder, test_paths, classes, weights):
    """module.build_finetune(classes, weights), trained by module.train(model, folder) and run by
    module.predict(model, test_paths). Returns {"is_squeezenet", "layers", "frozen": whether every
    features parameter has requires_grad False, "features_changed", "classifier_changed",
    "trainable": count, "history", "predictions"}."""
    import torchvision
    model = _model_of(lambda: module.build_finetune(classes, weights), "build_finetune")
    is_squeezenet = isinstance(model, torchvision.models.SqueezeNet)
    features = list(model.features.parameters()) if is_squeezenet else []
    head = list(model.classifier.parameters()) if is_squeezenet else []
    before = _digest(features), _digest(head)
    history = module.train(model, folder)
    predictions, found = _predicted(model, module.predict, list(test_paths), len(test_paths))
    return {"is_squeezenet": is_squeezenet, "layers": found,
            "frozen": bool(features) and not any(p.requires_grad for p in features),
            "features_changed": _digest(features) != before[0], "classifier_changed": _digest(head) != before[1],
            "trainable": int(sum(p.numel() for p in model.parameters() if p.requires_grad)),
            "history": _plain_history(history), "predictions": predictions}


def scratch_and_predict(module, folder, test_paths, classes):
    """module.build_scratch(classes), trained and run as finetune_and_predict does."""
    model = _model_of(lambda: module.build_scratch(classes), "build_scratch")
    history = module.train(model, folder)
    predictions, found = _predicted(model, module.predict, list(test_paths), len(test_paths))
    return {"layers": found, "trainable": int(sum(p.numel() for p in model.parameters() if p.requires_grad)),
            "history": _plain_history(history), "predictions": predictions}
