"""The submission as the spec tests see it: the contract's modules, whose functions run in a sandboxed
worker (sandbox/client.py).

The tests call `nn.forward(x, params, "layer1")` as if the module were imported here. Each call
travels to the worker, which runs the submission's function and sends back its result. So the
pytest process that judges the answers, and writes the report the score comes from, never runs a
line of the submission's code. What the worker may see, load first and set up comes from here:
the grader's packages (read-only), never the reference solution or the tests' oracles.
"""
import cloudpickle
import pytest

import spec_tests
from sandbox.client import BuiltInWorker, WorkerClient, WorkerDied  # noqa: F401  (BuiltInWorker: the tests' name)
from sandbox.files import read_file_under  # noqa: F401
from sandbox.launch import Sandbox
from spec_tests import protocol
from spec_tests.contract import CONTRACT, modules_of

cloudpickle.register_pickle_by_value(spec_tests)  # the grader's helpers reach the worker by value


def worker_sandbox(mode="auto", memory_mb=protocol.DEFAULT_MEMORY_MB, cpu_seconds=None, compat=True):
    """The launch.Sandbox a submission's worker runs in: the grader's code read-only, the reference
    solution and the oracles hidden, the contract's helpers loaded first, and the compatibility
    layer (spec_tests/compat.py) set up unless compat is False."""
    from spec_tests.oracles import ORACLES_DIR, reference_dir
    return Sandbox(mode=mode, memory_mb=memory_mb, cpu_seconds=cpu_seconds,
                   code=(spec_tests.__path__[0],), hidden=(str(reference_dir()), str(ORACLES_DIR)),
                   preload=protocol.WORKER_PRELOAD, setup=(protocol.COMPAT_SETUP,) if compat else ())


class SubmissionModule:
    """A submission module whose missing attributes fail the test with a message naming them."""

    def __init__(self, client, name):
        self._client = client
        self._name = name

    def __getattr__(self, name):
        __tracebackhide__ = True
        if name.startswith("__"):
            raise AttributeError(name)
        kind, value = self._client.describe(self._name, name)
        if kind == "callable":
            return self._client.function(self._name, name)
        if kind == "value":
            return value
        if name not in CONTRACT.get(self._name, ()):
            raise AttributeError(f"{self._name}.py has no attribute '{name}'")
        pytest.fail(f"{self._name}.py has no function '{name}' "
                    "(see docs/contract.md for what it must define)", pytrace=False)

    def __reduce__(self):
        from sandbox import worker
        return worker.local_module, (self._name,)


class Submission(WorkerClient):
    """A directory laid out as the handout's python/ folder; its modules load, on first use, in a
    worker process that this object starts (and starts again if the submission's code ends it).

    workdir: the folder the worker may write (figures the tests ask for go there); also its cwd.
    sandbox: the launch.Sandbox (default: worker_sandbox()). questions: the ids of the questions
    this run grades; a test may then ask only for their modules (spec_tests/contract.py).
    """

    def __init__(self, directory, workdir, sandbox=None, questions=()):
        super().__init__(sandbox or worker_sandbox(), directory, workdir)
        self._modules = {}
        self._failed = {}
        allowed = [modules_of(q) for q in questions]
        self.allowed = None if not allowed or None in allowed else {m for modules in allowed for m in modules}

    def module(self, name):
        """Return the submission's module `name` (e.g. 'nn'), importing it in the worker."""
        __tracebackhide__ = True
        if self.allowed is not None and name not in self.allowed:
            raise AssertionError(f"grader error: a test of this run asked for {name}.py, which the questions' "
                                 f"entries in spec_tests/contract.py QUESTION_MODULES do not list")
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

    def own_function(self, name, modules=("nn", "util")):
        """The submission's own function `name` as the handout's scripts pass it to another of its
        functions (run_q2.py: `backwards(delta, params, 'output', linear_deriv)`): the first of
        `modules` that binds it, nn.py's first, since nn's functions compare an argument with nn's
        globals (its own or `from util import *`'s), else util.py's. As a call's argument it arrives
        in the worker as that very object (sandbox.client.RemoteFunction), so code that dispatches on
        identity (`if activation_deriv == sigmoid_deriv`) works. Fails the test, naming it, where none
        of the modules defines it."""
        __tracebackhide__ = True
        for module in modules:
            if not (self.directory / f"{module}.py").is_file():
                continue
            self.module(module)  # imported, or the test fails naming what its import raised
            if self.describe(module, name)[0] == "callable":
                return self.function(module, name)
        pytest.fail(f"{' and '.join(f'{m}.py' for m in modules)} define no function '{name}', which the handout's "
                    "scripts pass here (see docs/contract.md)", pytrace=False)

    def _import(self, name):
        __tracebackhide__ = True
        try:
            self.import_module(name)
        except Exception as exc:  # noqa: BLE001 (whatever its import raised, or WorkerDied)
            reason = str(exc) if isinstance(exc, WorkerDied) else f"{type(exc).__name__}: {exc}"
            self._failed[name] = f"importing {name}.py failed: {reason}"
            pytest.fail(self._failed[name], pytrace=False)

    def call(self, module, name, args, kwargs):
        __tracebackhide__ = True
        self._import(module)
        return super().call(module, name, args, kwargs)

    def compat_notices(self):
        """The removed library APIs the submission used since the last ask (spec_tests/compat.py), as
        sentences; none when its worker is not running (this never starts one)."""
        if not self.alive():
            return []
        try:
            answer = super().call("spec_tests.compat", "take_notes", (), {})
        except Exception:  # noqa: BLE001 (a worker that cannot answer has nothing to tell)
            return []
        return [str(a)[:300] for a in answer][:20] if isinstance(answer, list) else []
