"""The only process that runs untrusted code: ``python -m sandbox.worker READ_FD WRITE_FD DIR [options]``.

A trusted process starts it inside the sandbox (sandbox/launch.py) and sends it requests over a
pipe (sandbox/client.py); it imports the untrusted modules from DIR, runs what is asked, and
answers. Requests come from the trusted side, so they are unpickled with cloudpickle (they may
carry its own functions, by value). Answers go back with plain pickle and are read with a
restricted unpickler (sandbox/channel.py): this process runs the untrusted code, so nothing it
sends is trusted.

Options: --preload MODULE (repeatable) imports a module before DIR joins sys.path, so a file in
DIR named like it cannot shadow it; --setup MODULE:FUNCTION (repeatable) calls FUNCTION(DIR) before
any of DIR's modules load (e.g. a compatibility layer).

Requests and answers (tuples):
  ("import", module)                          -> ("ok", None)
  ("describe", module, name)                  -> ("ok", ("callable", None) | ("value", value) | ("missing", None))
  ("call", module, name, args, kwargs, state) -> ("ok", (result, {arg position or name: its new value}))
  ("run", function, args, kwargs, state)      -> the same, for a trusted function sent by value (a probe
                                                 that builds a torch model, trains it and measures it here)
  ("seed", seed)                              -> ("ok", None)     np.random.seed for the next calls
  ("patch", {name: function})                 -> ("ok", None)     replace names in DIR's loaded modules
  ("unpatch",)                                -> ("ok", {"calls": {name: count}, "log": {name: [record, ...]}})
                                                 undo, saying how often each ran and what each `record` logged
Any request may answer ("raised", (type name, builtin base names, message, "file.py:line")).
A module named in "call" or "describe" may also be a trusted one loaded by --preload or --setup.
An argument of "call" or "run" may name a function of DIR's modules (client.RemoteFunction): it
arrives as that module's attribute itself (local_function), e.g. nn.sigmoid_deriv for backwards.
"""
import importlib
import pickle
import sys
import traceback
import warnings
from pathlib import Path

import cloudpickle
import numpy as np

from sandbox.channel import Channel

MAX_MESSAGE_CHARS = 2000


class _Worker:
    def __init__(self, directory):
        self.directory = Path(directory).resolve()
        self.patched = []     # (module, name, old value) to undo
        self.calls = {}       # patched name -> how many times the untrusted code called it
        self.log = {}         # patched name -> what its `record` made of each call (a procedure check reads it)

    def join_path(self):
        """Put DIR first on sys.path (after the preloads and setups: nothing of DIR shadows them)."""
        if str(self.directory) not in sys.path:
            sys.path.insert(0, str(self.directory))

    def module(self, name):
        self.join_path()
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
        """'nn.py:58': the innermost traceback entry in DIR's files, or ''."""
        for frame in reversed(traceback.extract_tb(exc.__traceback__)):
            path = Path(frame.filename).resolve()
            if path.is_relative_to(self.directory):
                return f"{path.relative_to(self.directory)}:{frame.lineno}"
        return ""


def _invoke(function, args, kwargs, state):
    """function(*args, **kwargs) under the trusted side's numpy error state and warning filters. Returns
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
    record (plain data: what a procedure check needs, e.g. the learning rate) is logged too. It
    bears the name it replaces: untrusted code that tells functions apart by `__name__` still can."""
    record = getattr(function, "record", None)

    def counted(*args, **kwargs):
        calls[name] += 1
        if record is not None:
            log.append(record(args, kwargs))
        return function(*args, **kwargs)
    counted.__name__ = counted.__qualname__ = name
    return counted


def local_function(module, name):
    """What a trusted-side reference to an untrusted function (client.RemoteFunction) becomes here:
    the module's attribute at the time the request arrives (a patched one while a "patch" holds), so
    the very object the module's own code compares an argument with (`if deriv == sigmoid_deriv`)."""
    value = getattr(importlib.import_module(module), name, None)
    if not callable(value):
        raise AttributeError(f"{module}.py has no function '{name}' (the grader passes it as an argument)")
    return value


def local_module(module):
    return importlib.import_module(module)


def _describe(exc, worker):
    bases = [c.__name__ for c in type(exc).__mro__ if c.__module__ == "builtins"]
    try:
        message = str(exc)
    except Exception:  # noqa: BLE001 (an untrusted exception whose __str__ raises)
        message = "(its message could not be read)"
    return type(exc).__name__[:100], bases, message[:MAX_MESSAGE_CHARS], worker.where(exc)


def main(read_fd, write_fd, directory, preload=(), setup=()):
    for name in preload:
        importlib.import_module(name)
    for name in setup:   # before any of the untrusted modules load
        module, function = name.split(":")
        getattr(importlib.import_module(module), function)(Path(directory).resolve())
    channel = Channel(read_fd, write_fd)
    worker = _Worker(directory)
    # Now, not at the first import: a request's arguments may name DIR's modules (local_module), and
    # a worker started again after its predecessor was killed may get such a request first.
    worker.join_path()
    while True:
        try:
            request = channel.receive(cloudpickle.loads)
        except BaseException as exc:  # noqa: BLE001 (e.g. MemoryError building an argument): answer it
            channel.send(("raised", _describe(exc, worker)), pickle.dumps)
            continue
        if request is None:
            return  # the trusted side closed the pipe: done
        try:
            answer = ("ok", worker.handle(request))
            pickle.dumps(answer, protocol=5, buffer_callback=lambda b: None)  # fails here, not mid-send
        except BaseException as exc:  # noqa: BLE001 (SystemExit from the untrusted code is an answer too)
            answer = ("raised", _describe(exc, worker))
        channel.send(answer, pickle.dumps)
        del request, answer  # an idle worker must not hold the last big argument and its answer


def _options(argv):
    """(preload, setup) from the options after DIR."""
    preload, setup = [], []
    for flag, value in zip(argv[::2], argv[1::2], strict=True):
        {"--preload": preload, "--setup": setup}[flag].append(value)
    return preload, setup


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], *_options(sys.argv[4:]))
