"""`autograde gradescope`: the autograder.zip, unpacked into a folder laid out like Gradescope's
/autograder and run there with the suite it bundles."""
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import zipfile

import jsonschema
import pytest

from autograde import PROJECT_DIR, gradescope
from autograde.cli import main
from spec_tests.q7 import squeezenet_weights
from tests.support import corpus
from tests.support.schema import GRADESCOPE_SCHEMA as SCHEMA


def test_the_autograder_zip_grades_a_submission_the_way_gradescope_runs_it(tmp_path):
    rubric = tmp_path / "rubric.toml"
    text = (PROJECT_DIR / "autograde" / "rubric.toml").read_text()
    rubric.write_text(text.replace('id = "5.1.1"\n', 'id = "5.1.1"\nvisibility = "hidden"\n', 1))
    assert main(["gradescope", str(tmp_path / "autograder.zip"), "--rubric", str(rubric), "--leaderboard"]) == 0

    root = tmp_path / "autograder"
    with zipfile.ZipFile(tmp_path / "autograder.zip") as archive:
        names = set(archive.namelist())
        assert {"setup.sh", "run_autograder", "rubric.toml", "suite/pyproject.toml", "suite/autograde/cli.py",
                "suite/solution/nn.py", "suite/sandbox/worker.py", "suite/spec_tests/oracles/q4_ground_truth_boxes.json",
                "data/shared/images/ground_truth.json"} <= names
        assert not any("__pycache__" in n or n.startswith("suite/fixtures/submissions") for n in names)
        assert sum(n.startswith("data/cache/composed-photos/") and n.endswith(".jpg") for n in names) == 4   # Q4.2's photos
        assert all(archive.getinfo(n).external_attr >> 16 & 0o111 for n in ("setup.sh", "run_autograder"))
        archive.extractall(root / "source")
        setup = archive.read("setup.sh").decode()
        assert "apt-get install -y -qq bubblewrap" in setup
        assert '-m spec_tests.reference --warm \n' in setup   # Q4.4's reference reading, cached once; no Q7 here
        # setup.sh makes the cache in the environment run_autograder grades in: the same folders, the same keys.
        assert all(line.strip() in setup for line in gradescope.ENVIRONMENT.splitlines())
        assert gradescope.ENVIRONMENT in archive.read("run_autograder").decode()
    assert "--report \"$ROOT/results/report.md\" --leaderboard ${HW5_AUTOGRADE_ARGS:-}" in (root / "source" / "run_autograder").read_text()
    assert subprocess.run(["bash", "-n", root / "source" / "setup.sh"]).returncode == 0
    corpus.build("q5_loss_mean", root / "submission")

    # The suite as bundled (PYTHONPATH puts its autograde and spec_tests first; hw5_solution still
    # resolves through this environment's install, as setup.sh's pip install does on Gradescope), in
    # an environment without this machine's data settings: only the data the zip holds.
    env = {k: v for k, v in os.environ.items() if not k.startswith("HW5_")}
    env.update(AUTOGRADER_ROOT=str(root), AUTOGRADE=f"{sys.executable} -m autograde",
               PYTHONPATH=str(root / "source" / "suite"), HW5_AUTOGRADE_ARGS="-q 5.1.1 -q 2.2.2 -q 3.1.1")
    proc = subprocess.run(["bash", root / "source" / "run_autograder"], env=env, cwd=tmp_path, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    results = json.loads((root / "results" / "results.json").read_text())
    jsonschema.validate(results, SCHEMA)
    tests = {t["number"]: t for t in results["tests"]}
    assert set(tests) == {"2.2.2", "3.1.1", "5.1.1"}
    assert tests["5.1.1"]["visibility"] == "hidden" and tests["2.2.2"]["visibility"] == "visible"
    assert tests["5.1.1"]["score"] == 4.0 and tests["2.2.2"]["score"] == tests["2.2.2"]["max_score"]
    assert "used nist36-lite" in results["output"] and str(root / "source" / "data" / "cache") in results["output"]
    assert (root / "results" / "report.md").is_file() and "GRADER ERROR" not in results["output"]
    assert (root / "results" / "report.html").is_file()
    assert "leaderboard" not in results  # its one column is Q4.4's, which this run did not grade


def test_a_malformed_rubric_builds_no_zip(tmp_path, capsys):
    (tmp_path / "bad.toml").write_text("[[question]]\nid = 1\n")
    assert main(["gradescope", str(tmp_path / "a.zip"), "--rubric", str(tmp_path / "bad.toml")]) == 2
    assert "bad.toml" in capsys.readouterr().err and not (tmp_path / "a.zip").exists()



@pytest.mark.skipif(importlib.util.find_spec("torchvision") is None or squeezenet_weights() is None,
                    reason="Q7's grading needs torch and torchvision here, and SqueezeNet's weights in the shared data")
def test_with_torch_the_zip_installs_torch_and_carries_q7s_data(tmp_path):
    """--with-torch: setup.sh installs torch's CPU wheels, and Q7 is graded from what the zip holds
    (here Q7.1.2, on the bundled MNIST test set; the HW5_ variables of this machine are removed)."""
    assert main(["gradescope", str(tmp_path / "autograder.zip"), "--with-torch"]) == 0
    root = tmp_path / "autograder"
    with zipfile.ZipFile(tmp_path / "autograder.zip") as archive:
        names = set(archive.namelist())
        assert {"data/shared/mnist/t10k-images-idx3-ubyte.gz", "data/shared/squeezenet/squeezenet1_1_imagenet_fp16.pth"} <= names
        assert any(n.startswith("data/cache/emnist-lite-") for n in names)
        assert sum(n.startswith("data/cache/flowers17-") and n.endswith(".jpg") for n in names) == 1360
        assert "download.pytorch.org/whl/cpu" in archive.read("setup.sh").decode()
        assert "-m spec_tests.reference --warm --q7" in archive.read("setup.sh").decode()
        archive.extractall(root / "source")
    assert subprocess.run(["bash", "-n", root / "source" / "setup.sh"]).returncode == 0
    (root / "submission").mkdir()
    for module in ("q7_mnist", "q7_cnn", "q7_train"):
        shutil.copyfile(corpus.REFERENCE_DIR / f"{module}.py", root / "submission" / f"{module}.py")
    env = {k: v for k, v in os.environ.items() if not k.startswith("HW5_")}
    env.update(AUTOGRADER_ROOT=str(root), AUTOGRADE=f"{sys.executable} -m autograde",
               PYTHONPATH=str(root / "source" / "suite"), HW5_AUTOGRADE_ARGS="-q 7.1.2")
    proc = subprocess.run(["bash", root / "source" / "run_autograder"], env=env, cwd=tmp_path, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    results = json.loads((root / "results" / "results.json").read_text())
    assert [(t["number"], t["score"]) for t in results["tests"]] == [("7.1.2", 2.0)], results["output"][-2000:]


def test_warming_the_cache_makes_the_entries_that_q44_and_q714_read(monkeypatch):
    """`python -m spec_tests.reference --warm` (setup.sh) asks for what the checks' fixtures ask for:
    both go through q4_reading and q7_boxes, on the handout's pages as load_page gives them."""
    import numpy as np

    from spec_tests import reference
    from spec_tests.pages import PAGES, images_dir, load_page
    if not (images_dir() / "ground_truth.json").is_file():
        pytest.skip(f"no handout images in {images_dir()} (set HW5_SHARED_DATA)")
    calls = []
    monkeypatch.setattr(reference, "reference_reading", lambda seed, pages, network=True: calls.append((seed, pages, network)))
    paths = reference.warm_cache(seed=3, q7=True)
    assert [(seed, network) for seed, _, network in calls] == [(3, True), (0, False)]
    for _, pages, _ in calls:
        assert tuple(pages) == PAGES and all(np.array_equal(pages[name], load_page(name)[0]) for name in PAGES)
    assert paths == [reference.cache_path(3, calls[0][1], True), reference.cache_path(0, calls[0][1], False)]
    assert reference.warm_cache(seed=0) and len(calls) == 3   # without --q7: Q4.4's entry only
    help_text = subprocess.run([sys.executable, "-m", "spec_tests.reference", "--warm", "--help"], capture_output=True,
                               text=True, cwd=PROJECT_DIR)
    assert help_text.returncode == 0 and "--q7" in help_text.stdout
