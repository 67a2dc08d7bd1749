"""What Q7.1.2-Q7.1.4's tests share: a model trained by the submission's own build_model/train/
predict on the grader's data, inside its worker; the held-out accuracy is computed by the tests."""
from spec_tests import _torch_probes


def train_module(submission, module, train, test, seed, keep=None):
    """Run module's build_model, train and predict in the worker. train, test: (x, labels).
    Returns the probe's result {"layers", "history", "predictions"}; keep: a key to keep the trained
    model under in the worker (for _torch_probes.read_with_kept)."""
    submission.seed(seed)
    (x, labels), (test_x, _) = train, test
    what = f"{module._name}.build_model/train/predict"
    if keep is None:
        return submission.run(_torch_probes.train_and_predict, module, x, labels, test_x, what=what)
    return submission.run(_torch_probes.train_predict_and_keep, module, x, labels, test_x, keep, what=what)


def show_curves(module, result, out_dir, show_figure, caption):
    """module.plot_history(history, path) must write a PNG; the report shows it."""
    show_figure(module.plot_history(result["history"], out_dir / "curves.png"), caption)
