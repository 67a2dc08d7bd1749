"""Q7's probes: grader functions that run INSIDE the submission's worker (Submission.run), where
the torch models the submission builds can live. Each builds, trains or inspects a model there and
returns plain data (numbers, strings, numpy arrays) for the tests to judge.

What a probe returns comes from the submission's process, so the tests treat it as untrusted: the
scores rest on what the grader recomputes from it (accuracy from predictions on data whose labels
never reach the submission; the MLP's output from the weights it reports).

How predict is run (the probes that train a model): after train() returns, predict runs twice on a
few test inputs under two torch seeds, as the submission wrote it, to record which mode-dependent
layers (dropout, batch norm with running statistics, ...) it leaves in training mode and whether its
answers repeat (the model's weights, buffers and modes are restored afterwards); the grader's check
of that procedure is the only place a missing model.eval() costs points. The predictions the
accuracy is computed from then come from predict with the model put in eval mode by the grader (and
model.train() a no-op meanwhile). Throughout, the inputs reaching the model's first layer are
summarised (mean, sd, values per example) for train and for predict, so the grader can tell whether
predict prepares its inputs as train does.
"""
import hashlib
import importlib
import math
from collections import Counter

import numpy as np


def _torch():
    import torch
    return torch


_KEPT = {}   # models kept in the worker between probes: {key: model}


def _kept():
    """_KEPT of this module as the worker imports it: the probes arrive by value (cloudpickle), each
    request with fresh globals, so only an imported module outlives a request."""
    return importlib.import_module("spec_tests.torch_probes")._KEPT


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


CHECK_SEEDS = (1234, 4321)   # the torch (and numpy) seeds of predict's two procedure runs
FLOWERS_CHECKED = 24         # test images predict's procedure runs on (64 inputs elsewhere)


def _mode_dependent(module):
    """The type name of a module whose forward differs between training and eval mode, else None:
    dropout of any kind with p > 0, batch and instance norm that keep running statistics (without
    them both modes use the batch's), recurrent layers and attention with dropout."""
    nn = _torch().nn
    if isinstance(module, nn.modules.dropout._DropoutNd):
        return type(module).__name__ if module.p > 0 else None
    if isinstance(module, nn.modules.batchnorm._NormBase):
        return type(module).__name__ if module.track_running_stats else None
    if isinstance(module, nn.RNNBase):
        return type(module).__name__ if module.dropout > 0 and module.num_layers > 1 else None
    if isinstance(module, nn.MultiheadAttention):
        return type(module).__name__ if module.dropout > 0 else None
    return None


class _Watch:
    """Context manager: global forward hooks (nothing is stored on the model, so a submission that
    pickles, deep-copies or scripts its model is unaffected) that watch the model's modules.

    - Inputs: each call of one of the model's modules from outside it (the model itself, or a part
      of it such as model.features) is an entry; the first leaf module each entry runs is the layer
      the data enters by, and the first positional tensor it gets is summarised per `phase`
      ("train", "check", "predict"): count, sum, sum of squares, values per example.
    - Modes: while `record_modes`, the mode-dependent modules that run in training mode.
    """

    def __init__(self, model):
        self.model, self.record_modes, self.handles = model, False, []
        self.stats, self.modes, self.names, self.leaves = {}, set(), {}, set()
        self.begin("train")

    def begin(self, phase):
        """Record under `phase` from now on, watching the model's modules as they are now too (a
        layer train() replaced is watched from here)."""
        self.phase, self.depth, self.pending = phase, 0, False
        for name, m in self.model.named_modules():
            self.names[id(m)] = (m, f"{name or 'the model'} ({type(m).__name__})")   # kept alive: ids stay theirs
            if not any(True for _ in m.children()):
                self.leaves.add(id(m))

    def __enter__(self):
        hooks = _torch().nn.modules.module
        self.handles = [hooks.register_module_forward_pre_hook(self._enter),
                        hooks.register_module_forward_hook(self._leave, always_call=True)]
        return self

    def __exit__(self, *exc):
        for handle in self.handles:
            handle.remove()
        return False

    def _enter(self, module, args):
        try:
            if id(module) not in self.names:
                return
            if self.depth == 0:
                self.pending = True
            self.depth += 1
            if self.pending and id(module) in self.leaves:
                self.pending = False
                self._record(module, args)
            if self.record_modes and module.training:
                name = _mode_dependent(module)
                if name:
                    self.modes.add(name)
        except Exception:  # noqa: BLE001 (watching must never break the submission's forward pass)
            pass

    def _leave(self, module, args, output):
        if id(module) in self.names:
            self.depth = max(0, self.depth - 1)

    def _record(self, module, args):
        torch = _torch()
        tensor = next((a for a in args if isinstance(a, torch.Tensor)), None)
        if tensor is None or tensor.dim() == 0 or tensor.shape[0] == 0 or tensor.is_complex():
            return
        with torch.no_grad():
            values = tensor.detach()
            if values.dtype not in (torch.float32, torch.float64):
                values = values.float()
            total, squares = torch.stack([values.sum(dtype=torch.float64),
                                          torch.linalg.vector_norm(values, dtype=torch.float64).square()]).tolist()
        entry = self.stats.setdefault(self.phase, {}).setdefault(id(module), [0, 0.0, 0.0, Counter(), set()])
        entry[0] += values.numel()
        entry[1] += total
        entry[2] += squares
        entry[4].add(tuple(values.shape[1:]))
        # values per example: one unbatched example (its whole shape is an example's shape in train, e.g.
        # predict feeding one (1024,) row at a time) counts as such
        unbatched = self.phase != "train" and tuple(values.shape) in self.stats.get("train", {}).get(id(module), [set()] * 5)[4]
        entry[3][values.numel() if unbatched else values.numel() // values.shape[0]] += 1

    def _summary(self, phase, key):
        if key not in self.stats.get(phase, {}):
            return None
        count, total, squares, sizes, _ = self.stats[phase][key]
        mean = total / count
        variance = squares / count - mean * mean
        return {"mean": float(mean), "std": float(math.sqrt(max(variance, 0.0))) if math.isfinite(variance) else float("nan"),
                "size": int(sizes.most_common(1)[0][0]), "sizes": sorted(int(s) for s in sizes)[:10],
                "calls": int(sum(sizes.values()))}

    def inputs(self):
        """What entered the model by its first layer: {"layer": its name, "train": {"mean", "std",
        "size" (values per example, the most frequent), "sizes", "calls"}, "predict": {...}}, for the
        first layer the scored predict fed that train fed too (else predict's first; None where a
        phase fed it nothing)."""
        train, predict = self.stats.get("train", {}), self.stats.get("predict", {})
        key = next((k for k in predict if k in train), next(iter(predict), None))
        return {"layer": self.names[key][1] if key in self.names else None, "train": self._summary("train", key), "predict": self._summary("predict", key)}


def _check_predict(model, predict, inputs, watch):
    """Run predict(model, inputs) twice, as the submission wrote it, under two torch seeds; record
    the mode-dependent modules that run in training mode and whether the two answers agree. The
    model's state_dict (batch norm in training mode moves its running statistics), its modules'
    modes and the random generators are restored afterwards. Returns {"predict_modes": [type
    names], "predict_repeatable": bool} (and "predict_problem": why, where predict raised)."""
    torch = _torch()
    snapshot = {k: v.detach().clone() for k, v in model.state_dict().items()}
    modes = [(m, m.training) for m in model.modules()]
    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_initialized() else []
    runs, problem = [], None
    watch.begin("check")
    watch.record_modes = True
    state = np.random.get_state()
    try:
        with torch.random.fork_rng(devices=devices):
            for seed in CHECK_SEEDS:
                torch.manual_seed(seed)
                np.random.seed(seed)
                runs.append(_classes(predict(model, inputs), len(inputs)))
    except Exception as exc:  # noqa: BLE001 (the scored predict below meets the same code; this is reported)
        problem = f"{type(exc).__name__}: {str(exc)[:300]}"
    finally:
        watch.record_modes = False
        np.random.set_state(state)
        model.load_state_dict(snapshot)
        for m, training in modes:
            m.training = training
    found = {"predict_modes": sorted(watch.modes), "predict_repeatable": len(runs) == 2 and bool(np.array_equal(*runs))}
    return {**found, "predict_problem": problem} if problem else found


class _eval_only:
    """Context manager: the model in eval mode, and torch.nn.Module.train (so model.train(), and
    model.eval(), which calls it) a no-op for the model's modules meanwhile."""

    def __init__(self, model):
        self.model = model

    def __enter__(self):
        nn = _torch().nn
        self.model.eval()
        ours, self.original = {id(m) for m in self.model.modules()}, nn.Module.train
        original = self.original

        def train(module, mode=True):
            return module if id(module) in ours else original(module, mode)
        nn.Module.train = train
        return self.model

    def __exit__(self, *exc):
        _torch().nn.Module.train = self.original
        return False


def _predicted(model, predict, inputs, count):
    with _eval_only(model), _call_order(model) as order:
        predictions = _classes(predict(model, inputs), count)
    return predictions, layers(model, order)


def _train_and_predict(model, train, predict, test_inputs, check_count):
    """train(), then predict's procedure check on test_inputs[:check_count], then the scored
    predictions on all test_inputs in eval mode. Returns (history, predictions, layers, the
    procedure's findings {"predict_modes", "predict_repeatable", "inputs"})."""
    with _Watch(model) as watch:
        history = train()
        procedure = _check_predict(model, predict, test_inputs[:check_count], watch)
        watch.begin("predict")
        predictions, found = _predicted(model, predict, test_inputs, len(test_inputs))
    return history, predictions, found, {**procedure, "inputs": watch.inputs()}


def _trained(module, x, labels, test_x, checkpoint):
    model = _model_of(module.build_model, "build_model")
    history, predictions, found, procedure = _train_and_predict(
        model, lambda: module.train(model, x, labels, checkpoint=checkpoint), module.predict, test_x, 64)
    return model, {"layers": found, "history": _plain_history(history), "predictions": predictions, **procedure}


def train_and_predict(module, x, labels, test_x, checkpoint=None):
    """module.build_model(), module.train(model, x, labels, checkpoint=checkpoint), then
    module.predict(model, test_x). Returns {"layers": layers(model), "history": {"loss": [...],
    "accuracy": [...]}, "predictions": (M,) int64, "predict_modes": [mode-dependent module types
    predict ran in training mode], "predict_repeatable": bool, "inputs": {"layer", "train",
    "predict"}} (see _check_predict and _Watch.inputs); the predictions come from predict with the
    model in eval mode."""
    return _trained(module, x, labels, test_x, checkpoint)[1]


def train_predict_and_keep(module, x, labels, test_x, key, checkpoint=None):
    """train_and_predict, keeping the trained model in this process under `key` for read_with_kept."""
    _kept()[key], result = _trained(module, x, labels, test_x, checkpoint)
    return result


def read_with_kept(module, key, bw, boxes):
    """module.read_boxes(kept model, bw, boxes): one character per box, as a str."""
    if key not in _kept():
        raise RuntimeError("the trained model is gone (the submission's process restarted)")
    with _eval_only(_kept()[key]) as model:   # a missing model.eval() is charged by the procedure check only
        return module.read_boxes(model, bw, boxes)


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
    "trainable": count, "history", "predictions", and predict's procedure as train_and_predict
    reports it: "predict_modes", "predict_repeatable", "inputs"}."""
    import torchvision
    model = _model_of(lambda: module.build_finetune(classes, weights), "build_finetune")
    is_squeezenet = isinstance(model, torchvision.models.SqueezeNet)
    features = list(model.features.parameters()) if is_squeezenet else []
    head = list(model.classifier.parameters()) if is_squeezenet else []
    before = _digest(features), _digest(head)
    history, predictions, found, procedure = _train_and_predict(
        model, lambda: module.train(model, folder), module.predict, list(test_paths), FLOWERS_CHECKED)
    return {"is_squeezenet": is_squeezenet, "layers": found,
            "frozen": bool(features) and not any(p.requires_grad for p in features),
            "features_changed": _digest(features) != before[0], "classifier_changed": _digest(head) != before[1],
            "trainable": int(sum(p.numel() for p in model.parameters() if p.requires_grad)),
            "history": _plain_history(history), "predictions": predictions, **procedure}


def scratch_and_predict(module, folder, test_paths, classes):
    """module.build_scratch(classes), trained and run as finetune_and_predict does."""
    model = _model_of(lambda: module.build_scratch(classes), "build_scratch")
    history, predictions, found, procedure = _train_and_predict(
        model, lambda: module.train(model, folder), module.predict, list(test_paths), FLOWERS_CHECKED)
    return {"layers": found, "trainable": int(sum(p.numel() for p in model.parameters() if p.requires_grad)),
            "history": _plain_history(history), "predictions": predictions, **procedure}
