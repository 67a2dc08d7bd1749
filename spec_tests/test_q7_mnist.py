"""Q7.1.2: a convolutional network on MNIST (q7_mnist.py).

Data: torchvision's MNIST where $HW5_TORCHVISION_ROOT holds it, else mnist-lite: the real 10k test
set split 8000 / 2000 per class (MNIST's training images cannot be had here). The test accuracy is
computed here from the submission's predictions.
"""
import pytest

from spec_tests import q7

question = pytest.mark.question
# Reference over 10 seeds on mnist-lite (benchmarks/q7_threshold.py): test accuracy mean 0.9786, sd
# 0.0014 (min 0.9765); the bar is mean - 6 sd: false-fail probability about 1e-9 (normal spread).
TEST_BAR = 0.97


@pytest.fixture(scope="module", autouse=True)
def _torch_here():
    q7.skip_without_torch()


@pytest.fixture(scope="module")
def q7_mnist(submission):
    return submission.module("q7_mnist")


@pytest.fixture(scope="module")
def data():
    from hw5data import mnist
    try:
        return mnist.mnist_data()
    except FileNotFoundError as exc:
        pytest.skip(f"the grader has no MNIST: {exc}")


@pytest.fixture(scope="module")
def trained(submission, q7_mnist, data, grading_seed):
    splits, _ = data
    return q7.train_module(submission, q7_mnist, splits["train"], splits["test"], grading_seed)


@question("7.1.2")
def test_mnist_cnn_reaches_the_test_bar(trained, data, show_finding):
    """build_model() is a CNN with 10 outputs, train() learns, and the held-out accuracy reaches the bar"""
    splits, name = data
    q7.check_is_cnn(trained["layers"], 10)
    test = q7.accuracy(trained["predictions"], splits["test"][1])
    show_finding(f"CNN: test accuracy {test:.1%} on {name} ({len(splits['train'][1])} training images)")
    q7.check_bar(test, TEST_BAR, "the test accuracy", name, "A small CNN reaches about 98% there.", trained)


@question("7.1.2")
def test_predict_runs_the_trained_model_in_eval_mode(trained, show_finding):
    """predict() runs the trained model in eval mode, repeatably, on inputs prepared as train() prepares them"""
    q7.check_predict_procedure({"": trained}, show_finding)


@question("7.1.2")
def test_plot_history_draws_the_training_curves(q7_mnist, trained, out_dir, show_figure):
    """plot_history(history, path) writes the training loss and accuracy curves as a PNG"""
    q7.show_curves(q7_mnist, trained, out_dir, show_figure, "Q7.1.2 training loss and accuracy (CNN, MNIST)")
