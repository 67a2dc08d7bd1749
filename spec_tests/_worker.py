"""The only process that runs a submission's code: ``python -m spec_tests._worker READ_FD WRITE_FD DIR``.

The spec tests (a trusted pytest process) start it inside the sandbox (spec_tests/_sandbox.py) and
send it requests over a pipe; it imports the submission's modules from DIR, runs what is asked, and
answers. Requests come from the grader, so they are unpickled with cloudpickle (they may carry the
grader's own functions, by value). Answers go back with plain pickle and the grader reads them with
a restricted unpickler (spec_tests/_channel.py): this process is the submission's, so nothing it
sends is trusted.

Requests and answers (tuples):
  ("import", module)                          -> ("ok", None)
  ("describe", module, name)                  -> ("ok", ("callable", None) | ("value", value) | ("missing", None))
  ("call", module, name, args, kwargs, state) -> ("ok", (result, {arg position or name: its new value}))
  ("run", function, args, kwargs, state)      -> the same, for a grader function sent by value (a probe
                                                 that builds a torch model, trains it and measures it here)
  ("seed", seed)                              -> ("ok", None)     np.random.seed for the next calls
  ("patch", {name: function})                 -> ("ok", None)     replace contract names in the modules
  ("unpatch",)                                -> ("ok", {"calls": {name: count}, "log": {name: [record, ...]}})
                                                 undo, saying how often each ran and what each `record` logged
  ("notices",)                                -> ("ok", [str, ...])  removed APIs the submission used since the
                                                 last ask, each run as its replacement (spec_tests/_compat.py)
Any request may answer ("raised", (type name, builtin base names, message, "file.py:line")).
"""
import importlib
import os
import pickle
import sys
import traceback
import warnings
from pathlib import Path

import cloudpickle
import numpy as np

from spec_tests import _compat
from spec_tests._channel import Channel

MAX_MESSAGE_CHARS = 2000


class _Worker:
    def __init__(self, directory):
        self.directory = Path(directory).resolve()
        self.patched = []     # (module, name, old value) to undo
        self.calls = {}       # patched name -> how many times the submission's code called it
        self.log = {}         # patched name -> what its `record` made of each call (a procedure check reads it)

    def module(self, name):
        if str(self.directory) not in sys.path:
            sys.path.insert(0, str(self.directory))
        return importlib.import_module(name)

    def handle(self, request):
        kind = request[0]
        if kind == "import":
            self.module(request[1])
            return None
        if kind == "describe":
            _, module, name = request
            if not hasattr(self.module(module), name):
                return ("missing", None)
            value = getattr(self.module(module), name)
            return ("callable", None) if callable(value) else ("value", value)
        if kind == "call":
            _, module, name, args, kwargs, state = request
            return _invoke(getattr(self.module(module), name), args, kwargs, state)
        if kind == "run":
            _, function, args, kwargs, state = request
            return _invoke(function, args, kwargs, state)
        if kind == "seed":
            np.random.seed(request[1])
            return None
        if kind == "patch":
            for name, function in request[1].items():
                self.calls[name] = 0
                self.log[name] = []
                counted = _counted(function, name, self.calls, self.log[name])
                for module in self.loaded():
                    if hasattr(module, name):
                        self.patched.append((module, name, getattr(module, name)))
                        setattr(module, name, counted)
            return None
        if kind == "notices":
            return _compat.take_notes()
        if kind == "unpatch":
            for module, name, old in reversed(self.patched):
                setattr(module, name, old)
            answer = {"calls": dict(self.calls), "log": dict(self.log)}
            self.patched, self.calls, self.log = [], {}, {}
            return answer
        raise ValueError(f"unknown request {kind!r}")

    def loaded(self):
        return [m for m in list(sys.modules.values())
                if Path(getattr(m, "__file__", "") or "/").parent == self.directory]

    def where(self, exc):
        """'nn.py:58': the innermost traceback entry in the submission's files, or ''."""
        for frame in reversed(traceback.extract_tb(exc.__traceback__)):
            path = Path(frame.filename).resolve()
            if path.is_relative_to(self.directory):
                return f"{path.relative_to(self.directory)}:{frame.lineno}"
        return ""


def _invoke(function, args, kwargs, state):
    """function(*args, **kwargs) under the grader's numpy error state and warning filters. Returns
    (result, {argument position or name: its new value}) for the dicts and lists it may have changed
    in place (params)."""
    with warnings.catch_warnings(), np.errstate(**state["errstate"]):
        warnings.filters[:] = state["warnings"]
        result = function(*args, **kwargs)
    changed = {i: a for i, a in enumerate(args) if isinstance(a, (dict, list))}
    changed.update({k: a for k, a in kwargs.items() if isinstance(a, (dict, list))})
    return result, changed


def _counted(function, name, calls, log):
    """function, counting its calls; where it has a `record(args, kwargs)` attribute, each call's
    record (plain data: what a procedure check needs, e.g. the learning rate) is logged too."""
    record = getattr(function, "record", None)

    def counted(*args, **kwargs):
        calls[name] += 1
        if record is not None:
            log.append(record(args, kwargs))
        return function(*args, **kwargs)
    return counted


def local_function(module, name):
    """What a grader-side reference to a submission function becomes here: the function itself."""
    return getattr(importlib.import_module(module), name)


def local_module(module):
    return importlib.import_module(module)


def _describe(exc, worker):
    bases = [c.__name__ for c in type(exc).__mro__ if c.__module__ == "builtins"]
    try:
        message = str(exc)
    except Exception:  # noqa: BLE001 (a submission's exception whose __str__ raises)
        message = "(its message could not be read)"
    return type(exc).__name__[:100], bases, message[:MAX_MESSAGE_CHARS], worker.where(exc)


# What the grader's own code needs here, loaded before the submission's folder joins sys.path: a
# submission that ships pytest.py, scipy.py or spec_tests.py then shadows only its own imports.
PRELOADED = ("pytest", "scipy.special", "spec_tests._gradcheck", "spec_tests._torch_probes", "spec_tests._submission")


def main(read_fd, write_fd, directory):
    for name in PRELOADED:
        importlib.import_module(name)
    if os.environ.get(_compat.ENABLED_VARIABLE, "1") != "0":
        _compat.install(Path(directory).resolve())   # before any of the submission's modules load
    channel = Channel(read_fd, write_fd)
    worker = _Worker(directory)
    while True:
        try:
            request = channel.receive(cloudpickle.loads)
        except BaseException as exc:  # noqa: BLE001 (e.g. MemoryError building an argument): answer it
            channel.send(("raised", _describe(exc, worker)), pickle.dumps)
            continue
        if request is None:
            return  # the grader closed the pipe: done
        try:
            answer = ("ok", worker.handle(request))
            pickle.dumps(answer, protocol=5, buffer_callback=lambda b: None)  # fails here, not mid-send
        except BaseException as exc:  # noqa: BLE001 (SystemExit from the submission is an answer too)
            answer = ("raised", _describe(exc, worker))
        channel.send(answer, pickle.dumps)
        del request, answer  # an idle worker must not hold the last page and its answer (Q4.4's memory)


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3])
