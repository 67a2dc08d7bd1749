"""Q7.1.1: the Q3 network rewritten in PyTorch (q7_mlp.py), trained on NIST36.

The architecture is checked from outside: the grader reads the model's Linear weights and recomputes
its output on rows it draws, with the sigmoid between the layers, so a ReLU or a missing activation
shows. The validation accuracy is computed here from the submission's predictions (the labels never
reach it). Data: real NIST36 where $HW5_DATA_DIR names it, else nist36-lite.

Bar (nist36-lite v3, `python benchmarks/q7_threshold.py 10 7.1.1`): see VALID_BAR. On the real NIST36
(not measurable here) the same bar is used.
"""
import numpy as np
import pytest
from scipy.special import expit, log_softmax, softmax

from spec_tests import protocol, q7, torch_probes

question = pytest.mark.question
SHAPES = [(64, 1024), (36, 64)]       # torch's Linear weight is (out, in)
# Reference over 10 seeds on nist36-lite v3: validation accuracy mean 0.7226, sd 0.0278 (min 0.6852);
# the bar is mean - 6 sd (plain SGD at Q3's rate is noisy). A submission as good as the reference
# misses it with probability about 1e-9 (normal spread).
VALID_BAR = 0.55
LOSS_FALL = 0.5    # last epoch's loss / first's: the reference's is 0.178 (sd 0.006, max 0.191)


@pytest.fixture(scope="module", autouse=True)
def _torch_here():
    q7.skip_without_torch()


@pytest.fixture(scope="module")
def q7_mlp(submission):
    return submission.module("q7_mlp")


@pytest.fixture(scope="module")
def trained(submission, q7_mlp, nist36, grading_seed):
    """The submission's model trained by its own train() on the grader's NIST36 training split."""
    (x, y), (vx, vy) = nist36.splits["train"], nist36.splits["valid"]
    result = q7.train_module(submission, q7_mlp, (x, y.argmax(axis=1)), (vx, vy.argmax(axis=1)), grading_seed)
    return result, vy.argmax(axis=1), nist36


@question("7.1.1")
def test_mlp_is_the_q3_network(submission, q7_mlp, nist36, rng):
    """build_model() is Linear(1024, 64), sigmoid, Linear(64, 36): its output, recomputed from its weights, matches"""
    x = nist36.splits["valid"][0][rng.choice(len(nist36.splits["valid"][0]), 16, replace=False)]
    probe = submission.run(torch_probes.mlp_on, q7_mlp, x, what="q7_mlp.build_model")
    shapes = [np.shape(w) for w, _ in probe["weights"]]
    assert shapes == SHAPES, f"the model's Linear layers have weights {shapes}; Q3's network is 1024 -> 64 -> 36, i.e. {SHAPES}"
    (w1, b1), (w2, b2) = probe["weights"]
    logits = expit(x @ w1.T + (0 if b1 is None else b1)) @ w2.T + (0 if b2 is None else b2)
    output = np.asarray(probe["output"], dtype=np.float64)
    candidates = {"logits": logits, "softmax probabilities": softmax(logits, axis=1), "log-probabilities": log_softmax(logits, axis=1)}
    assert output.shape == logits.shape, f"the model maps 16 rows to {output.shape}; expected {logits.shape}"
    close = [name for name, want in candidates.items() if np.allclose(output, want, atol=1e-4)]
    assert close, "the model's output is not sigmoid(x W1 + b1) W2 + b2 (as logits, softmax or log-softmax) " \
                  f"of its own weights: Q3's hidden layer is a sigmoid (largest difference from the logits " \
                  f"{np.abs(output - logits).max():.3g})"


@question("7.1.1")
def test_training_lowers_the_loss(trained):
    """train() returns one loss and one training accuracy per epoch, and the loss falls"""
    result, _, _ = trained
    q7.check_history(result["history"])
    q7.check_learns(result["history"], LOSS_FALL)


@question("7.1.1")
def test_mlp_reaches_the_validation_bar(trained, show_finding, record_property):
    """the trained network's validation accuracy, computed by the grader, reaches the bar"""
    result, labels, data = trained
    record_property(protocol.DATA_PROPERTY, data.description)
    valid = q7.accuracy(result["predictions"], labels)
    training = result["history"].get("accuracy") or [float("nan")]
    show_finding(f"MLP: validation accuracy {valid:.1%} on {data.name} (bar {VALID_BAR:.0%}); "
                 f"training accuracy {training[-1]:.1%}")
    q7.check_bar(valid, VALID_BAR, "the validation accuracy", data.name,
                  "Q3's network reaches about 72% there; compare the learning rate and the number of epochs with Q3's.",
                  result)


@question("7.1.1")
def test_predict_runs_the_trained_model_in_eval_mode(trained, show_finding):
    """predict() runs the trained model in eval mode, repeatably, on inputs prepared as train() prepares them"""
    q7.check_predict_procedure({"": trained[0]}, show_finding)


@question("7.1.1")
def test_plot_history_draws_the_training_curves(q7_mlp, trained, out_dir, show_figure):
    """plot_history(history, path) writes the training loss and accuracy curves as a PNG"""
    q7.show_curves(q7_mlp, trained[0], out_dir, show_figure, "Q7.1.1 training loss and accuracy (MLP, NIST36)")
