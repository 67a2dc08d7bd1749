"""Q7.1.4: a convolutional network on EMNIST Balanced (q7_emnist.py), then the handout's four
images read with it through the findLetters boxes.

Data: torchvision's EMNIST where $HW5_TORCHVISION_ROOT holds it, else emnist-lite (hw5data/emnist.py:
47 classes in EMNIST's own format, from the real handwriting in the shared data). The test accuracy
is computed here from the submission's predictions.

The pages: the reference findLetters' boxes and bw (the handout's method, so a findLetters bug is
charged in Q4 only) go to the submission's read_boxes, which returns one character per box; the
grader puts them in the reference's reading order and scores them with Q4.4's character accuracy,
case-folded (EMNIST has lower-case classes, the truth is written in capitals).

Bars (`python benchmarks/q7_threshold.py 10 7.1.4`): mean - 6 sd of the reference network read with
the `plain` crops (the reference's until issue #19, frozen in the benchmark, so a stronger
reference does not raise them), see below.
"""
import numpy as np
import pytest

from spec_tests import q7, torch_probes
from spec_tests.pages import PAGES, char_accuracy, images_dir, load_page
from spec_tests.reference import q7_boxes
from spec_tests.submission import BuiltInWorker

question = pytest.mark.question
CLASSES = 47
KEPT = "q7-emnist"
# Reference over 20 seeds on emnist-lite v1 (benchmarks/q7_threshold.py, re-measured 2026-12-06 for
# issue #26, its CNN pooling before the ReLU and stored channels-last: the same function, faster),
# mean (sd): test accuracy 0.8142 (0.0111); pages, case-folded, on the reference's boxes, plain
# crops: 01_list 0.884 (0.030), 02_letters 0.818 (0.044), 03_haiku 0.829 (0.045), 04_deep 0.911
# (0.048). Bars: at most mean - 6 sd, so a submission as good as that pipeline misses one of the
# five with probability about 5e-9 (normal spread). Re-measurements moved bars down to their mean -
# 6 sd, never up: 02_letters 0.57 -> 0.49 and 03_haiku 0.61 -> 0.59 (#19, 10 seeds), then the test
# accuracy 0.75 -> 0.74 and 03_haiku 0.59 -> 0.56 (#26, 20 seeds).
TEST_BAR = 0.74
PAGE_BAR = {"01_list.jpg": 0.68, "02_letters.jpg": 0.49, "03_haiku.jpg": 0.56, "04_deep.jpg": 0.52}


@pytest.fixture(scope="module", autouse=True)
def _torch_here():
    q7.skip_without_torch()


@pytest.fixture(scope="module")
def q7_emnist(submission):
    return submission.module("q7_emnist")


@pytest.fixture(scope="module")
def data():
    from hw5data import emnist
    try:
        return emnist.emnist_data()
    except FileNotFoundError as exc:
        pytest.skip(f"the grader has no EMNIST: {exc}")


@pytest.fixture(scope="module")
def reference_boxes_first(request):
    """The reference's boxes before anything of the submission's: its findLetters runs in a process of
    its own (the 12 MP page included), which has ended before the submission's worker imports torch
    and holds the trained model. Made after the training, on a cold cache, the two added up to an
    865 MB process tree, and in a 768 MB container the worker was killed and the page checks lost
    the model (benchmarks/budget.py --only 7.1.4)."""
    try:
        request.getfixturevalue("pages")
    except (pytest.skip.Exception, Exception):
        pass   # the page checks skip or fail with it (pytest raises it again for them); the others need only the training


@pytest.fixture(scope="module")
def trained(reference_boxes_first, submission, q7_emnist, data, grading_seed):
    splits, _ = data
    return q7.train_module(submission, q7_emnist, splits["train"], splits["test"], grading_seed, keep=KEPT)


@pytest.fixture(scope="module")
def pages():
    """{name: (truth lines, reference boxes (N, 4), reading order (N,), reference bw (H, W) bool)}."""
    if not (images_dir() / "ground_truth.json").is_file():
        pytest.skip(f"the grader has no handout images in {images_dir()} (set HW5_SHARED_DATA)")
    loaded = {name: load_page(name) for name in PAGES}
    try:
        found = q7_boxes({name: page[0] for name, page in loaded.items()})   # cached (setup.sh warms it)
    except (RuntimeError, OSError, ValueError) as exc:
        pytest.skip(f"the grader's reference findLetters failed: {str(exc)[-300:]}")
    return {name: (loaded[name][3], *found.boxes[name], found.bw[name]) for name in PAGES}


@question("7.1.4")
def test_emnist_model_is_a_cnn_with_47_outputs(trained):
    """build_model() has convolutional layers and 47 outputs (EMNIST Balanced); train() returns a per-epoch history"""
    q7.check_is_cnn(trained["layers"], CLASSES)


@question("7.1.4")
def test_emnist_cnn_reaches_the_test_bar(trained, data, show_finding):
    """the trained CNN's test accuracy on EMNIST, computed by the grader, reaches the bar"""
    splits, name = data
    test = q7.accuracy(trained["predictions"], splits["test"][1])
    show_finding(f"CNN: test accuracy {test:.1%} on {name} ({len(splits['train'][1])} training images, bar {TEST_BAR:.0%})")
    q7.check_bar(test, TEST_BAR, "the test accuracy", name,
                  "Labels follow emnist-balanced-mapping.txt; the images are stored transposed, white ink on black.", trained)


@question("7.1.4")
def test_predict_runs_the_trained_model_in_eval_mode(trained, show_finding):
    """predict() runs the trained model in eval mode, repeatably, on inputs prepared as train() prepares them"""
    q7.check_predict_procedure({"": trained}, show_finding)


def _as_float(bw):
    return bw.astype(np.float32)


def _check_page(name, submission, q7_emnist, trained, pages, show_finding):
    __tracebackhide__ = True
    truth, boxes, order, bw = pages[name]
    read = submission.run(torch_probes.read_with_kept, q7_emnist, KEPT, BuiltInWorker(_as_float, bw), boxes,
                          what="q7_emnist.read_boxes")
    assert isinstance(read, str) and len(read) == len(boxes), \
        f"read_boxes({name}) returned {type(read).__name__} of length {len(read) if hasattr(read, '__len__') else '?'}; " \
        f"expected a str with one character for each of the {len(boxes)} boxes"
    text = "".join(read[i] for i in order)
    accuracy = char_accuracy([text.lower()], [line.lower() for line in truth])
    show_finding(f"{name}: characters {accuracy:.1%} case-folded (bar {PAGE_BAR[name]:.0%}); read: {text}; truth: {''.join(''.join(truth).split())}")
    assert accuracy >= PAGE_BAR[name], \
        f"{name}: the EMNIST network reads {accuracy:.1%} of the characters in the reference's findLetters boxes " \
        f"(case-folded, in reading order); the bar is {PAGE_BAR[name]:.0%}. Read: {text!r}. Crops must look like " \
        "EMNIST's images: white on black, centred in a square with a margin, 28x28, and transposed as stored"


@question("7.1.4")
def test_read_boxes_01_list(submission, q7_emnist, trained, pages, show_finding):
    """read_boxes on 01_list.jpg's findLetters boxes: case-folded character accuracy >= the bar"""
    _check_page("01_list.jpg", submission, q7_emnist, trained, pages, show_finding)


@question("7.1.4")
def test_read_boxes_02_letters(submission, q7_emnist, trained, pages, show_finding):
    """read_boxes on 02_letters.jpg's findLetters boxes: case-folded character accuracy >= the bar"""
    _check_page("02_letters.jpg", submission, q7_emnist, trained, pages, show_finding)


@question("7.1.4")
def test_read_boxes_03_haiku(submission, q7_emnist, trained, pages, show_finding):
    """read_boxes on 03_haiku.jpg's findLetters boxes: case-folded character accuracy >= the bar"""
    _check_page("03_haiku.jpg", submission, q7_emnist, trained, pages, show_finding)


@question("7.1.4")
def test_read_boxes_04_deep(submission, q7_emnist, trained, pages, show_finding):
    """read_boxes on 04_deep.jpg's findLetters boxes: case-folded character accuracy >= the bar"""
    _check_page("04_deep.jpg", submission, q7_emnist, trained, pages, show_finding)


@question("7.1.4")
def test_plot_history_draws_the_training_curves(q7_emnist, trained, out_dir, show_figure):
    """plot_history(history, path) writes the training loss and accuracy curves as a PNG"""
    q7.show_curves(q7_emnist, trained, out_dir, show_figure, "Q7.1.4 training loss and accuracy (CNN, EMNIST)")
