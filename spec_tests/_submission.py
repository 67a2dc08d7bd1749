"""The submission as the spec tests see it: modules whose functions run in another, sandboxed process.

The tests call `nn.forward(x, params, "layer1")` as if the module were imported here. In fact each
call travels to the worker (spec_tests/_worker.py, started in the sandbox of spec_tests/_sandbox.py),
which runs the submission's function and sends back its result, plus the dicts and lists the call
changed in place (params). So the pytest process that judges the answers, and writes the report
the score comes from, never runs a line of the submission's code: a submission that patches numpy
or pytest at import patches its own process only.

What a call sends may include the grader's own functions (a loss for numerical_gradients, the
trusted layers a training loop runs on): they travel by value with cloudpickle. What comes back is
read as plain data only (spec_tests/_channel.py).
"""
import builtins
import collections
import os
import signal
import stat
import subprocess
import threading
import warnings
from pathlib import Path

import cloudpickle
import numpy as np
import pytest

import spec_tests
from spec_tests import _sandbox
from spec_tests._channel import Channel, UnreadableAnswer, read_untrusted

# What the contract (docs/contract.md) asks each module to define. A submission's modules import
# each other by these plain names, as in the handout's python/ folder.
CONTRACT = {
    "util": ("relu", "relu_deriv", "linear", "linear_deriv"),
    "nn": ("initialize_weights", "sigmoid", "sigmoid_deriv", "forward", "backwards", "softmax",
           "compute_loss_and_acc", "get_random_batches"),
    "run_q2": ("apply_gradients", "train", "numerical_gradients", "relative_error"),
    "run_q3": ("train_nist36", "plot_curves", "accuracy", "learning_rate_sweep", "plot_learning_rates",
               "weight_images", "plot_first_layer_weights", "confusion_matrix", "most_confused_pairs",
               "plot_confusion_matrix"),
    "q4": ("findLetters",),
    "run_q5": ("initialize_autoencoder", "autoencoder_forward", "squared_error", "autoencoder_backwards",
               "momentum_step", "train_autoencoder", "plot_loss", "example_rows", "plot_reconstructions",
               "mean_psnr"),
    "run_q6": ("pca_fit", "pca_reconstruct", "parameter_counts"),
    "run_q4": ("group_lines", "lines_text", "to_nist_rows", "read_text", "plot_boxes", "plot_crops"),
    "q7_mlp": ("build_model", "train", "predict", "plot_history"),
    "q7_mnist": ("build_model", "train", "predict", "plot_history"),
    "q7_nist36_cnn": ("build_model", "train", "predict", "plot_history"),
    "q7_emnist": ("build_model", "train", "predict", "read_boxes", "plot_history"),
    "q7_flowers": ("build_finetune", "build_scratch", "train", "predict"),
}
OUTPUT_TAIL_CHARS = 600
MAX_FILE_READ = 20 << 20        # the largest figure the tests read back
MAX_ERROR_CHARS = 2000
SIGNAL_MEANING = {signal.SIGKILL: "killed (SIGKILL: its memory or process limit, the kernel's out-of-memory "
                                   "killer where the machine or container ran short of memory, or the grader's "
                                   "time limit)",
                  signal.SIGXCPU: "stopped at its CPU-time limit", signal.SIGSEGV: "crashed (segmentation fault)",
                  signal.SIGABRT: "aborted"}

cloudpickle.register_pickle_by_value(spec_tests)  # the grader's helpers reach the worker by value


class SubmissionProcessDied(RuntimeError):
    """The worker ended while running a request (os._exit, a crash, a limit)."""
    __module__ = "builtins"  # pytest then shows "SubmissionProcessDied: the submission's process ..."


class RemoteFunction:
    """A contract function of the submission: calling it runs it in the worker."""

    def __init__(self, submission, module, name):
        self._submission, self._module, self.__name__ = submission, module, name
        self.__qualname__ = name

    def __call__(self, *args, **kwargs):
        __tracebackhide__ = True
        return self._submission.call(self._module, self.__name__, args, kwargs)

    def __reduce__(self):  # inside a closure sent to the worker: the submission's own function there
        from spec_tests import _worker
        return _worker.local_function, (self._module, self.__name__)

    def __repr__(self):
        return f"<submission function {self._module}.{self.__name__}>"


class BuiltInWorker:
    """An argument the worker builds itself: function(*args) runs there (a grader function, sent
    by value), so a big derived array, e.g. a 12-megapixel page as float32 (146 MB), is neither
    built nor sent by the tests' process. Use: nn.f(BuiltInWorker(skimage.img_as_float32, page))."""

    def __init__(self, function, *args):
        self.function, self.args = function, args

    def __reduce__(self):
        return self.function, self.args


class SubmissionModule:
    """A submission module whose missing attributes fail the test with a message naming them."""

    def __init__(self, submission, name):
        self._submission = submission
        self._name = name

    def __getattr__(self, name):
        __tracebackhide__ = True
        if name.startswith("__"):
            raise AttributeError(name)
        kind, value = self._submission.describe(self._name, name)
        if kind == "callable":
            return RemoteFunction(self._submission, self._name, name)
        if kind == "value":
            return value
        if name not in CONTRACT.get(self._name, ()):
            raise AttributeError(f"{self._name}.py has no attribute '{name}'")
        pytest.fail(f"{self._name}.py has no function '{name}' "
                    "(see docs/contract.md for what it must define)", pytrace=False)

    def __reduce__(self):
        from spec_tests import _worker
        return _worker.local_module, (self._name,)


class Submission:
    """A directory laid out as the handout's python/ folder; its modules load, on first use, in a
    worker process that this object starts (and starts again if the submission's code ends it).

    workdir: the folder the worker may write (figures the tests ask for go there); also its cwd.
    """

    def __init__(self, directory, workdir):
        self.directory = Path(directory).resolve()
        self.workdir = Path(workdir)
        self._modules = {}
        self._failed = {}
        self._process = None
        self._channel = None
        self._cleanup = None
        self._imported = set()
        self._described = {}
        self._output = _OutputTail()
        self._seed = None          # np.random seed the next call must start from (None: already applied)
        self._last_seed = 0        # the seed a restarted worker starts from

    # --- modules and calls ---------------------------------------------------------------------
    def module(self, name):
        """Return the submission's module `name` (e.g. 'nn'), importing it in the worker."""
        __tracebackhide__ = True
        filename = f"{name}.py"
        if name in self._failed:
            pytest.fail(self._failed[name], pytrace=False)
        if name not in self._modules:
            if not (self.directory / filename).is_file():
                self._failed[name] = f"the submission has no {filename} (docs/contract.md lists the modules)"
                pytest.fail(self._failed[name], pytrace=False)
            self._import(name)
            self._modules[name] = SubmissionModule(self, name)
        return self._modules[name]

    def _import(self, name):
        __tracebackhide__ = True
        if name in self._imported and self._alive():
            return
        try:
            self._request(("import", name), f"importing {name}.py")
        except (Exception, SubmissionProcessDied) as exc:
            self._failed[name] = f"importing {name}.py failed: {_reason(exc)}"
            pytest.fail(self._failed[name], pytrace=False)
        self._imported.add(name)

    def describe(self, module, name):
        """('callable' | 'value' | 'missing', value) for module.name in the worker."""
        __tracebackhide__ = True
        self._import(module)
        key = (module, name)
        if key not in self._described:
            answer = self._request(("describe", module, name), f"reading {module}.{name}")
            if answer[0] != "callable":
                return answer
            self._described[key] = answer
        return self._described[key]

    def call(self, module, name, args, kwargs):
        """Run module.name(*args, **kwargs) in the worker; dicts and lists it changed in place
        change here too. Returns its result; raises what it raised (as the nearest builtin type)."""
        __tracebackhide__ = True
        self._import(module)
        return self._invoke(("call", module, name), args, kwargs, f"{module}.{name}")

    def run(self, function, *args, what=None, **kwargs):
        """Run a grader function (sent by value) in the worker: function(*args, **kwargs), where
        args may hold submission modules and functions (they are the submission's own there).
        For what cannot cross the process boundary, e.g. a torch model the submission builds and
        trains: a probe builds, trains and measures it there and returns plain data. The result
        comes from the submission's process, so it is as untrusted as any answer."""
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
        """Seed np.random here and, from its next call, in the worker (submissions draw from it)."""
        np.random.seed(seed)
        self._seed = self._last_seed = seed

    def compat_notices(self):
        """The removed library APIs the submission used since the last ask (spec_tests/_compat.py), as
        sentences; none when its worker is not running (this never starts one)."""
        if not self._alive():
            return []
        try:
            answer = self._request(("notices",), "listing the removed APIs it used")
        except Exception:  # noqa: BLE001 (a worker that cannot answer has nothing to tell)
            return []
        return [str(a)[:300] for a in answer][:20] if isinstance(answer, list) else []

    def patched(self, replacements):
        """Context manager: replace contract functions by name in every loaded submission module
        (covers `from nn import forward` and `nn.forward` alike). Yields a PatchedCalls dict that, on
        leaving, holds how many times the submission's code called each replacement, and in its
        `log` what the replacements that have a `record(args, kwargs)` attribute made of each call."""
        return _Patch(self, replacements)

    # --- the worker ----------------------------------------------------------------------------
    def _alive(self):
        return self._process is not None and self._process.poll() is None

    def _start(self):
        self.close()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._process, fds, self._cleanup = _sandbox.start_worker(self.directory, self.workdir, subprocess.PIPE)
        self._output.follow(self._process.stdout)
        self._channel = Channel(*fds)
        self._imported, self._described = set(), {}
        if self._seed is None:
            self._seed = self._last_seed  # a fresh worker draws from this test's seed too

    def _request(self, request, what):
        __tracebackhide__ = True
        if not self._alive():
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
            raise SubmissionProcessDied(self._death(what))
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
        return f"the submission's process {how} while running {what}" + (f"; its last output: {tail[-OUTPUT_TAIL_CHARS:]}" if tail else "")

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
    characters: a submission may print 100 MB, and that must cost neither points nor memory."""

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
    """{name: how many times the submission's code called the replacement}; .log: {name: [record of
    each call]} for replacements that record (see Submission.patched). Untrusted, like any answer."""

    def __init__(self):
        super().__init__()
        self.log = {}


class _Patch:
    def __init__(self, submission, replacements):
        self.submission, self.replacements, self.calls = submission, replacements, PatchedCalls()

    def __enter__(self):
        self.submission._request(("patch", self.replacements), "replacing functions with the grader's")
        return self.calls

    def __exit__(self, *exc):
        if self.submission._alive():
            try:
                answer = self.submission._request(("unpatch",), "restoring its functions")
                self.calls.update(answer["calls"])
                self.calls.log.update(answer["log"])
            except Exception:  # noqa: BLE001 (the worker is restarted on its next use instead)
                self.submission.close()
        return False


def read_file_under(path, root, max_bytes=MAX_FILE_READ):
    """The bytes of a regular file at `path` (a path the submission gave or wrote), read only if
    what actually opens is a regular file inside `root`: a symlink or a renamed folder that points
    elsewhere, a FIFO or a device is refused (OSError), so the tests' process never reads or waits
    on anything the submission aims it at. Reads at most max_bytes (ValueError beyond)."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        where = Path(os.readlink(f"/proc/self/fd/{fd}"))  # what was opened, after every link
        if not stat.S_ISREG(os.fstat(fd).st_mode) or not where.is_relative_to(Path(root).resolve()):
            raise OSError(f"{path} is not a file in the folder the grader gave")
        if os.fstat(fd).st_size > max_bytes:
            raise ValueError(f"{path} is larger than {max_bytes >> 20} MB")
        with os.fdopen(fd, "rb", closefd=False) as f:
            return f.read(max_bytes + 1)[:max_bytes]
    finally:
        os.close(fd)


def _reason(exc):
    return str(exc) if isinstance(exc, SubmissionProcessDied) else f"{type(exc).__name__}: {exc}"


def _as_exception(answer):
    """The exception to raise here for one the submission raised there: the nearest builtin type,
    named as the original; a message that says where (file:line) in the submission."""
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
