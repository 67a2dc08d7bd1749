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


def _model_of(build):
    """build() after seeding torch from np.random, which the grader seeds before every test: a
    grade is reproducible, and another --grading-seed draws other initial weights."""
    _torch().manual_seed(int(np.random.randint(2**31)))
    model = build()
    if not isinstance(model, _torch().nn.Module):
        raise TypeError(f"{getattr(build, '__name__', 'build_model')}() returned {type(model).__name__}; "
                        "expected a torch.nn.Module")
    return model


def layers(model):
    """The model's leaf modules in registration order: [(type name, {attribute: value})]."""
    torch = _torch()
    found = []
    for module in model.modules():
        if list(module.children()):
            continue
        if isinstance(module, torch.nn.Conv2d):
            found.append(("Conv2d", {"in": module.in_channels, "out": module.out_channels}))
        elif isinstance(module, torch.nn.Linear):
            found.append(("Linear", {"in": module.in_features, "out": module.out_features}))
        else:
            found.append((type(module).__name__, {}))
    return found


def _plain_history(history):
    if not isinstance(history, dict):
        raise TypeError(f"train returned {type(history).__name__}; expected a dict with 'loss' and 'accuracy' lists")
    return {str(k): [float(v) for v in values] for k, values in history.items() if k in ("loss", "accuracy")}


def _trained(module, x, labels, test_x, checkpoint):
    model = _model_of(module.build_model)
    history = module.train(model, x, labels, checkpoint=checkpoint)
    predictions = np.asarray(module.predict(model, test_x)).reshape(-1).astype(np.int64)
    return model, {"layers": layers(model), "history": _plain_history(history), "predictions": predictions}


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
    """module.build_model() run on x (N, 1024), untrained. Returns {"layers", "weights": [(W (out, in),
    b (out,)) of each Linear layer in order], "output": (N, C) float64}."""
    torch = _torch()
    model = _model_of(module.build_model)
    model.eval()
    with torch.no_grad():
        output = model(torch.as_tensor(x, dtype=torch.float32))
    linear = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    return {"layers": layers(model), "output": output.double().numpy(),
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
    model = _model_of(lambda: module.build_finetune(classes, weights))
    is_squeezenet = isinstance(model, torchvision.models.SqueezeNet)
    features = list(model.features.parameters()) if is_squeezenet else []
    head = list(model.classifier.parameters()) if is_squeezenet else []
    before = _digest(features), _digest(head)
    history = module.train(model, folder)
    predictions = np.asarray(module.predict(model, test_paths)).reshape(-1).astype(np.int64)
    return {"is_squeezenet": is_squeezenet, "layers": layers(model),
            "frozen": bool(features) and not any(p.requires_grad for p in features),
            "features_changed": _digest(features) != before[0], "classifier_changed": _digest(head) != before[1],
            "trainable": int(sum(p.numel() for p in model.parameters() if p.requires_grad)),
            "history": _plain_history(history), "predictions": predictions}


def scratch_and_predict(module, folder, test_paths, classes):
    """module.build_scratch(classes), trained and run as finetune_and_predict does."""
    model = _model_of(lambda: module.build_scratch(classes))
    history = module.train(model, folder)
    predictions = np.asarray(module.predict(model, test_paths)).reshape(-1).astype(np.int64)
    return {"layers": layers(model), "trainable": int(sum(p.numel() for p in model.parameters() if p.requires_grad)),
            "history": _plain_history(history), "predictions": predictions}
