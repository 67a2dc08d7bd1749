"""Q7.1.3: a convolutional network on NIST36 (q7_nist36_cnn.py), to compare with Q7.1.1's MLP.

Data: real NIST36 where $HW5_DATA_DIR names it, else nist36-lite; the rows are given as the .mat
files hold them (transposed, dark ink on white), so turning them into images is the submission's
job. The validation accuracy is computed here from its predictions.
"""
import pytest

from spec_tests import protocol, q7

question = pytest.mark.question
# Reference over 10 seeds on nist36-lite v3 (benchmarks/q7_threshold.py): validation accuracy mean
# 0.8679, sd 0.0059 (min 0.8591); the bar is mean - 6 sd: false-fail probability about 1e-9 (normal).
VALID_BAR = 0.83
MLP_MEAN = 0.723   # Q7.1.1's reference MLP on nist36-lite v3, for the comparison the report shows


@pytest.fixture(scope="module", autouse=True)
def _torch_here():
    q7.skip_without_torch()


@pytest.fixture(scope="module")
def q7_nist36_cnn(submission):
    return submission.module("q7_nist36_cnn")


@pytest.fixture(scope="module")
def trained(submission, q7_nist36_cnn, nist36, grading_seed):
    (x, y), (vx, vy) = nist36.splits["train"], nist36.splits["valid"]
    return q7.train_module(submission, q7_nist36_cnn, (x, y.argmax(axis=1)), (vx, vy.argmax(axis=1)), grading_seed)


@question("7.1.3")
def test_nist36_model_is_a_cnn(trained):
    """build_model() has convolutional layers and 36 outputs; train() returns a per-epoch history"""
    q7.check_is_cnn(trained["layers"], 36)


@question("7.1.3")
def test_nist36_cnn_reaches_the_validation_bar(trained, nist36, show_finding, record_property):
    """the trained CNN's validation accuracy, computed by the grader, reaches the bar"""
    record_property(protocol.DATA_PROPERTY, nist36.description)
    valid = q7.accuracy(trained["predictions"], nist36.splits["valid"][1].argmax(axis=1))
    show_finding(f"CNN: validation accuracy {valid:.1%} on {nist36.name} (bar {VALID_BAR:.0%}); "
                 f"the reference MLP of Q7.1.1 gets {MLP_MEAN:.1%} there")
    q7.check_bar(valid, VALID_BAR, "the validation accuracy", nist36.name,
                  "A small CNN reaches about 87% there. The rows are transposed 32x32 images, dark ink on white.", trained)


@question("7.1.3")
def test_predict_runs_the_trained_model_in_eval_mode(trained, show_finding):
    """predict() runs the trained model in eval mode, repeatably, on inputs prepared as train() prepares them"""
    q7.check_predict_procedure({"": trained}, show_finding)


@question("7.1.3")
def test_plot_history_draws_the_training_curves(q7_nist36_cnn, trained, out_dir, show_figure):
    """plot_history(history, path) writes the training loss and accuracy curves as a PNG"""
    q7.show_curves(q7_nist36_cnn, trained, out_dir, show_figure, "Q7.1.3 training loss and accuracy (CNN, NIST36)")
