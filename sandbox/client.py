"""The trusted side of a worker: call untrusted functions as if they were local.

`WorkerClient(sandbox, directory, workdir).call("nn", "forward", args, kwargs)` sends the call to a
worker (sandbox/worker.py, started in the sandbox of sandbox/launch.py), which runs the function
and sends back its result, plus the dicts and lists the call changed in place. So the process that
judges the answers never runs a line of the untrusted code: code that patches numpy or pytest at
import patches its own process only.

What a call sends may include the trusted side's own functions: they travel by value with
cloudpickle (register their package with cloudpickle.register_pickle_by_value). What comes back is
read as plain data only (sandbox/channel.py).
"""
import builtins
import collections
import os
import signal
import subprocess
import threading
import time
import warnings
from pathlib import Path

import cloudpickle
import numpy as np

from sandbox import launch
from sandbox.channel import Channel, UnreadableAnswer, read_untrusted

OUTPUT_TAIL_CHARS = 600
MAX_ERROR_CHARS = 2000
SIGNAL_MEANING = {signal.SIGKILL: "killed (SIGKILL: its memory or process limit, the kernel's out-of-memory "
                                   "killer where the machine or container ran short of memory, or the grader's "
                                   "time limit)",
                  signal.SIGXCPU: "stopped at its CPU-time limit", signal.SIGSEGV: "crashed (segmentation fault)",
                  signal.SIGABRT: "aborted"}


class WorkerDied(RuntimeError):
    """The worker ended while running a request (os._exit, a crash, a limit)."""
    __module__ = "builtins"  # pytest then shows "WorkerDied: the submission's process ..."


class RemoteFunction:
    """An untrusted module's function: calling it runs it in the worker.

    As an argument of a call (or inside a closure sent to the worker) it travels as its module's and
    its name only, and arrives as the untrusted module's own function object, so code that dispatches
    on identity (`if activation_deriv == sigmoid_deriv`) recognises it; under `patched`, as the
    replacement that the module's own globals then hold too."""

    def __init__(self, client, module, name):
        self._client, self._module, self.__name__ = client, module, name
        self.__qualname__ = name

    def __call__(self, *args, **kwargs):
        __tracebackhide__ = True
        return self._client.call(self._module, self.__name__, args, kwargs)

    def __reduce__(self):  # inside a closure sent to the worker: the untrusted function itself there
        from sandbox import worker
        return worker.local_function, (self._module, self.__name__)

    def __repr__(self):
        return f"<submission function {self._module}.{self.__name__}>"


class BuiltInWorker:
    """An argument the worker builds itself: function(*args) runs there (a trusted function, sent
    by value), so a big derived array, e.g. a 12-megapixel page as float32 (146 MB), is neither
    built nor sent by this process. Use: client.call(..., (BuiltInWorker(skimage.img_as_float32, page),), {})."""

    def __init__(self, function, *args):
        self.function, self.args = function, args

    def __reduce__(self):
        return self.function, self.args


class WorkerClient:
    """A worker on an untrusted folder, started on first use (and again if the untrusted code ends it).

    sandbox: launch.Sandbox; directory: the untrusted modules' folder; workdir: the folder the
    worker may write, also its cwd; label: how messages name the worker's process.
    """

    def __init__(self, sandbox, directory, workdir, label="the submission's process"):
        self.sandbox = sandbox
        self.directory = Path(directory).resolve()
        self.workdir = Path(workdir)
        self.label = label
        self._process = None
        self._channel = None
        self._cleanup = None
        self._imported = set()
        self._described = {}
        self._output = _OutputTail()
        self._seed = None          # np.random seed the next call must start from (None: already applied)
        self._last_seed = 0        # the seed a restarted worker starts from
        self._stopped = None       # why stop() ended the worker: every request fails with it until resume()
        self._launched = None      # time.monotonic() when the running worker was started, until it first answers
        self.startups = []         # seconds each worker took from its launch to its first answer (its start-up)
        self._lock = threading.Lock()   # stop() comes from a timer thread while a request waits on the worker

    # --- modules and calls ---------------------------------------------------------------------
    def import_module(self, name):
        """Import module `name` in the worker (once per worker). Raises what the import raised."""
        __tracebackhide__ = True
        if name in self._imported and self.alive():
            return
        self._request(("import", name), f"importing {name}.py")
        self._imported.add(name)

    def describe(self, module, name):
        """('callable' | 'value' | 'missing', value) for module.name in the worker."""
        __tracebackhide__ = True
        self.import_module(module)
        key = (module, name)
        if key not in self._described:
            answer = self._request(("describe", module, name), f"reading {module}.{name}")
            if answer[0] != "callable":
                return answer
            self._described[key] = answer
        return self._described[key]

    def function(self, module, name):
        """module.name of the worker as a local callable (RemoteFunction)."""
        return RemoteFunction(self, module, name)

    def call(self, module, name, args, kwargs):
        """Run module.name(*args, **kwargs) in the worker; dicts and lists it changed in place
        change here too. Returns its result; raises what it raised (as the nearest builtin type)."""
        __tracebackhide__ = True
        self.import_module(module)
        return self._invoke(("call", module, name), args, kwargs, f"{module}.{name}")

    def run(self, function, *args, what=None, **kwargs):
        """Run a trusted function (sent by value) in the worker: function(*args, **kwargs), where
        args may hold untrusted modules and functions (they are the untrusted code's own there).
        For what cannot cross the process boundary, e.g. a torch model the untrusted code builds and
        trains: a probe builds, trains and measures it there and returns plain data. The result
        comes from the untrusted process, so it is as untrusted as any answer."""
        __tracebackhide__ = True
        return self._invoke(("run", function), args, kwargs, what or function.__name__)

    def _invoke(self, head, args, kwargs, what):
        __tracebackhide__ = True
        state = {"errstate": np.geterr(), "warnings": list(warnings.filters)}
        result, changed = self._request((*head, args, kwargs, state), what)
        for key, new in changed.items():
            old = args[key] if isinstance(key, int) and key < len(args) else kwargs.get(key)
            if isinstance(old, dict) and isinstance(new, dict):
                old.clear()
                old.update(new)
            elif isinstance(old, list) and isinstance(new, list):
                old[:] = new
        return result

    def seed(self, seed):
        """Seed np.random here and, from its next call, in the worker (untrusted code draws from it)."""
        np.random.seed(seed)
        self._seed = self._last_seed = seed

    def patched(self, replacements):
        """Context manager: replace functions by name in every loaded module of the untrusted folder
        (covers `from nn import forward` and `nn.forward` alike). Yields a PatchedCalls dict that, on
        leaving, holds how many times the untrusted code called each replacement, and in its `log`
        what the replacements that have a `record(args, kwargs)` attribute made of each call."""
        return _Patch(self, replacements)

    # --- the worker ----------------------------------------------------------------------------
    @property
    def pid(self):
        """The worker's process id (bwrap's, inside which the worker runs), or None when none runs."""
        return self._process.pid if self.alive() else None

    def alive(self):
        """True while a worker is running (this never starts one)."""
        return self._process is not None and self._process.poll() is None

    def stop(self, reason):
        """From any thread: end the worker now (the request in flight raises WorkerDied with `reason`)
        and refuse every request with it until resume(). A time limit enforced by the trusted side."""
        with self._lock:
            self._stopped = reason
            process = self._process
            if process is not None and process.poll() is None:
                process.kill()
        if process is not None:   # gone before resume(): the next request then starts a new worker
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass

    def resume(self):
        """Accept requests again after stop() (a new worker starts on the next one)."""
        with self._lock:
            self._stopped = None

    def _start(self):
        self.close()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._process, fds, self._cleanup = launch.start_worker(self.sandbox, self.directory, self.workdir, subprocess.PIPE)
        self._output.follow(self._process.stdout)
        self._channel = Channel(*fds)
        self._launched = time.monotonic()
        self._imported, self._described = set(), {}
        if self._seed is None:
            self._seed = self._last_seed  # a fresh worker draws from this seed too

    def _request(self, request, what):
        __tracebackhide__ = True
        with self._lock:
            if self._stopped is not None:
                raise WorkerDied(f"{self.label} was stopped {self._stopped}")
            if not self.alive():
                self._start()
        if self._seed is not None:
            seed, self._seed = self._seed, None
            self._exchange(("seed", int(seed)), "seeding np.random")
        return self._exchange(request, what)

    def _exchange(self, request, what):
        __tracebackhide__ = True
        try:
            self._channel.send(request, cloudpickle.dumps)
            parts = self._channel.receive_parts()
        except BrokenPipeError:
            parts = None
        except UnreadableAnswer as exc:
            self.close()
            raise TypeError(f"{what} sent back {exc}") from None
        if parts is None:
            raise WorkerDied(self._death(what))
        if self._launched is not None:
            self.startups.append(time.monotonic() - self._launched)
            self._launched = None
        try:
            status, answer = read_untrusted(*parts)
        except (UnreadableAnswer, TypeError, ValueError) as exc:
            self.close()  # it may be out of step with us now
            raise TypeError(f"{what} sent back {exc}; the grader accepts plain data only "
                            "(numbers, strings, lists, tuples, dicts, numpy arrays)") from None
        if status == "raised":
            raise _as_exception(answer)
        return answer

    def _death(self, what):
        if self._stopped is not None:
            self.close()
            return f"{self.label} was stopped {self._stopped} while running {what}"
        try:
            code = self._process.wait(timeout=10)
        except Exception:  # noqa: BLE001
            code = None
        if code is not None and code > 128 and code - 128 in SIGNAL_MEANING:
            code = 128 - code  # bwrap, whose child is the worker, exits 128 + the signal that killed it
        if code is not None and code < 0:
            how = f"was {SIGNAL_MEANING.get(-code, f'killed by signal {-code}')}"
        else:
            how = f"ended (exit code {code})"
        self.close()
        tail = self._output.text().strip()
        return f"{self.label} {how} while running {what}" + (f"; its last output: {tail[-OUTPUT_TAIL_CHARS:]}" if tail else "")

    def close(self):
        """Stop the worker (a new one starts on the next call)."""
        if self._channel is not None:
            for fd in (self._channel.read_fd, self._channel.write_fd):
                try:
                    os.close(fd)
                except OSError:
                    pass
            self._channel = None
        if self._process is not None:
            if self._process.poll() is None:
                self._process.kill()
            self._process.wait()
            self._output.join()
            self._process = None
        if self._cleanup is not None:
            self._cleanup()
            self._cleanup = None


class _OutputTail:
    """Drains the worker's stdout and stderr on a thread, keeping only the last few hundred
    characters: untrusted code may print 100 MB, and that must cost neither points nor memory."""

    def __init__(self):
        self._tail = collections.deque(maxlen=OUTPUT_TAIL_CHARS)
        self._thread = None

    def follow(self, stream):
        self._tail.clear()
        self._thread = threading.Thread(target=self._drain, args=(stream,), daemon=True)
        self._thread.start()

    def _drain(self, stream):
        with stream:
            for chunk in iter(lambda: stream.read1(65536), b""):
                self._tail.extend(chunk[-OUTPUT_TAIL_CHARS:].decode("utf-8", "replace"))

    def join(self):
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def text(self):
        return "".join(self._tail)


class PatchedCalls(dict):
    """{name: how many times the untrusted code called the replacement}; .log: {name: [record of
    each call]} for replacements that record (see WorkerClient.patched). Untrusted, like any answer."""

    def __init__(self):
        super().__init__()
        self.log = {}


class _Patch:
    def __init__(self, client, replacements):
        self.client, self.replacements, self.calls = client, replacements, PatchedCalls()

    def __enter__(self):
        self.client._request(("patch", self.replacements), "replacing functions with the grader's")
        return self.calls

    def __exit__(self, *exc):
        if self.client.alive():
            try:
                answer = self.client._request(("unpatch",), "restoring its functions")
                self.calls.update(answer["calls"])
                self.calls.log.update(answer["log"])
            except Exception:  # noqa: BLE001 (the worker is restarted on its next use instead)
                self.client.close()
        return False


def _as_exception(answer):
    """The exception to raise here for one the untrusted code raised there: the nearest builtin type,
    named as the original; a message that says where (file:line) in the untrusted folder."""
    try:
        name, bases, message, where = (str(answer[0])[:100], [str(b)[:100] for b in answer[1][:20]],
                                       str(answer[2])[:MAX_ERROR_CHARS], str(answer[3])[:200])
    except (TypeError, IndexError, KeyError):
        return RuntimeError("the submission's process sent a malformed error report")
    text = f"{message} (raised at {where})" if where else message
    base = next((getattr(builtins, b) for b in bases if isinstance(getattr(builtins, b, None), type)
                 and issubclass(getattr(builtins, b), Exception) and b not in ("UnicodeDecodeError", "UnicodeEncodeError", "UnicodeTranslateError")), RuntimeError)
    if name == base.__name__:
        cls = base
    else:
        cls = type(name if name.isidentifier() else "SubmissionError", (base,), {"__module__": "builtins"})
    try:
        return cls(text)
    except Exception:  # noqa: BLE001
        return RuntimeError(f"{name}: {text}")
