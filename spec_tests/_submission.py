"""Import a submission's modules from its directory, and turn what is missing into clear failures."""
import importlib
import sys
from pathlib import Path

import pytest

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
}


class SubmissionModule:
    """A submission module whose missing attributes fail the test with a message naming them."""

    def __init__(self, module, name):
        self._module = module
        self._name = name

    def __getattr__(self, name):
        try:
            return getattr(self._module, name)
        except AttributeError:
            if name not in CONTRACT.get(self._name, ()):
                raise  # not a contract name (e.g. a tool probing attributes): plain AttributeError
            pytest.fail(f"{self._name}.py has no function '{name}' "
                        "(see docs/contract.md for what it must define)", pytrace=False)


class Submission:
    """A directory laid out as the handout's python/ folder; modules are imported on first use."""

    def __init__(self, directory):
        self.directory = Path(directory).resolve()
        self._loaded = {}
        self._failed = {}

    def module(self, name):
        """Return the submission's module `name` (e.g. 'nn'), importing it from the directory."""
        __tracebackhide__ = True
        filename = f"{name}.py"
        if name in self._failed:
            pytest.fail(self._failed[name], pytrace=False)
        if name not in self._loaded:
            if not (self.directory / filename).is_file():
                self._failed[name] = f"the submission has no {filename} (docs/contract.md lists the modules)"
                pytest.fail(self._failed[name], pytrace=False)
            try:
                self._loaded[name] = SubmissionModule(self._import(name), name)
            except BaseException as exc:  # SystemExit at import is a broken submission, not a stop
                if isinstance(exc, KeyboardInterrupt):
                    raise
                self._failed[name] = f"importing {filename} failed: {type(exc).__name__}: {exc}"
                pytest.fail(self._failed[name], pytrace=False)
        return self._loaded[name]

    def patch(self, monkeypatch, replacements):
        """Replace contract functions by name in every loaded submission module, for one test.

        Covers `from nn import forward` (a name in run_q2's globals) and `nn.forward` alike.
        """
        modules = [m._module for m in self._loaded.values()]
        modules += [sys.modules[n] for n in CONTRACT if n in sys.modules and sys.modules[n] not in modules
                    and Path(getattr(sys.modules[n], "__file__", "") or "").parent == self.directory]
        for module in modules:
            for attr, function in replacements.items():
                if hasattr(module, attr):
                    monkeypatch.setattr(module, attr, function)

    def _import(self, name):
        if str(self.directory) not in sys.path:
            sys.path.insert(0, str(self.directory))
        # A module of the same name imported from elsewhere (another submission) must not be reused.
        for other in CONTRACT:
            loaded = sys.modules.get(other)
            if loaded is not None and Path(getattr(loaded, "__file__", "") or "").parent != self.directory:
                del sys.modules[other]
        return importlib.import_module(name)
