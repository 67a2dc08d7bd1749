"""The bundled reference graded by the `autograde` command end to end, once for the module: full
marks, a valid Gradescope results.json with its leaderboard, report.md with the submission's figures
and numbers, and a self-contained report.html that Chromium renders.

Sections 1-6 only: Q7 (extra credit, torch) is half of a full grading's time. The reference's Q7 gets
full marks in CI's first step (the README's first command grades everything, and .ci/run fails
unless it prints full marks) and in the full run (tests/test_known_wrong.py); its report figures
take the same path as sections 1-6's."""
import base64
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import NamedTuple

import jsonschema
import numpy as np
import PIL.Image
import pytest

from autograde.rubric import load_rubric
from tests.support.cli import autograde
from tests.support.schema import GRADESCOPE_SCHEMA as SCHEMA


class ReferenceRun(NamedTuple):
    proc: subprocess.CompletedProcess
    results: dict        # results.json
    report: str          # report.md's text
    folder: Path         # where both were written


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("reference")
    sections_1_to_6 = [arg for q in load_rubric().questions if not q.id.startswith("7.") for arg in ("-q", q.id)]
    proc = autograde(*sections_1_to_6, "--results", out / "results.json", "--report", out / "report.md", "--leaderboard",
                     "--outcomes", out / "outcomes.json")
    return ReferenceRun(proc, json.loads((out / "results.json").read_text()), (out / "report.md").read_text(), out)


def test_grading_the_reference_prints_full_marks(reference_run):
    proc = reference_run.proc
    assert proc.returncode == 0, proc.stderr
    assert "Automatic score: 61 / 61 points" in proc.stdout   # Q7's 25 extra-credit points are not graded here
    assert "The handout states 133 points in total; its questions add up to 136." in proc.stdout


def test_results_json_is_valid_gradescope_output_with_one_entry_per_auto_question(reference_run, rubric):
    results = reference_run.results
    jsonschema.validate(results, SCHEMA)
    assert [t["number"] for t in results["tests"]] == [q.id for q in rubric.questions if q.graded and not q.id.startswith("7.")]
    assert all(t["score"] == t["max_score"] for t in results["tests"])
    assert results["score"] == 61 and isinstance(results["execution_time"], float)


def test_the_grading_record_rescored_by_the_same_rubric_gives_the_same_results_json(reference_run, rubric):
    from autograde.record import read_record, rescore
    record = read_record(reference_run.folder / "outcomes.json")
    assert rescore(record, rubric).to_gradescope(leaderboard=True) == reference_run.results
    assert rescore(record, load_rubric(profile="strict")).score == 61   # the reference also passes every advice check


def test_leaderboard_is_the_mean_character_accuracy_of_the_four_pages(reference_run):
    pages = [float(p) for p in re.findall(r"\.jpg: characters ([0-9.]+)% \(bar", reference_run.report)]
    assert len(pages) == 4
    (entry,) = reference_run.results["leaderboard"]
    assert entry["name"] == "Text accuracy (%)" and entry["value"] == pytest.approx(sum(pages) / 4, abs=0.06)


def test_report_lists_the_questions_left_for_a_person(reference_run, rubric):
    report = reference_run.report
    for q in rubric.questions:
        if not q.graded:
            assert f"| {q.id} | " in report


def test_report_shows_the_submissions_figures_and_numbers_for_the_writeup(reference_run):
    proc, results, report, folder = reference_run
    figures = sorted((folder / "report_figures").glob("*.png"))
    assert [f.name for f in figures] == ["q3.1.1-1.png", "q3.1.1-2.png", "q3.1.2-1.png", "q3.1.2-2.png",
                                         "q3.1.3-1.png", "q3.1.3-2.png", "q3.1.4-1.png", "q4.2-1.png",
                                         *(f"q4.3-{n}.png" for n in range(1, 9)), "q4.4-1.png",
                                         "q5.2-1.png", "q5.3.1-1.png", "q6.2-1.png"]
    for figure in figures:
        assert figure.read_bytes().startswith(b"\x89PNG") and f"](report_figures/{figure.name})" in report
    assert "best network (lr 0.01): test accuracy" in report and "most confused pairs: " in report
    assert "Q3.1.2: best network (lr 0.01): test accuracy" in results["output"]
    assert "Q3.1.4 most confused pairs: " in proc.stdout
    assert "04_deep.jpg: 41 boxes for 41 characters; recall 100.0%, precision 100.0%" in report
    assert "phone photos: 246 boxes for 246 characters; recall 100.0%, precision 100.0%" in report
    assert "  truth: DEEP LEARNING / DEEPER LEARNING / DEEPEST LEARNING" in report
    assert "its findLetters' boxes read by the reference's crops and network: characters" in report
    assert "mean validation PSNR " in report and "learned parameters: autoencoder 68704, PCA 33792" in report
    usage = report.split("## Time and memory per test process")[1]
    assert re.match(r"\s*The slowest process: Q[0-9.]+(, Q[0-9.]+)*, [0-9.]+ s\.", usage), usage
    assert re.search(r"\| 5\.2, 5\.3\.1, 5\.3\.2 \| [0-9.]+ s \| start-up [0-9.]+ s, tests [0-9.]+ s "
                     r"\(submission's worker start-up [0-9.]+ s\) \| [0-9]+ MB \|", usage), usage
    # The short questions of Q1, Q2 and Q5.1's files share one process (one row), its time split like the others'.
    assert re.search(r"\| 1\.1, 1\.2, 1\.3, 1\.4, 1\.5, 1\.6, 2\.1\.2, 2\.2\.1, 2\.2\.2, 2\.2\.3, 2\.3\.1, 2\.4\.1, 2\.5\.1, "
                     r"5\.1\.1, 5\.1\.2 \| [0-9.]+ s \| start-up ", usage), usage


def test_html_report_is_self_contained_and_renders_in_chromium(reference_run, tmp_path):
    """report.html: every figure inline as a PNG data URI, no script, no outside fetch; headless
    Chromium draws it (the screenshot is kept in the test's folder for a person to look at)."""
    page = (reference_run.folder / "report.html").read_text()
    images = re.findall(r"<img alt='[^']*' src='data:image/png;base64,([A-Za-z0-9+/=]+)'>", page)
    figures = sorted((reference_run.folder / "report_figures").glob("*.png"))
    assert sorted(base64.b64decode(i) for i in images) == sorted(f.read_bytes() for f in figures)
    assert "<script" not in page and "http://" not in page and "https://" not in page
    assert "Content-Security-Policy" in page and "For a TA to grade (50 points)" in page
    assert "<tr><td>DEEPEST LEARNING" not in page and "<td>DEEPEST LEARNING</td></tr>" in page  # extracted | truth
    chromium = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if chromium is None:
        pytest.skip("no Chromium here to render report.html (Debian package chromium)")
    shot = tmp_path / "report.png"
    subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    f"--screenshot={shot}", "--window-size=1200,2400", (reference_run.folder / "report.html").as_uri()],
                   capture_output=True, timeout=120, check=True)
    pixels = np.asarray(PIL.Image.open(shot).convert("RGB")).astype(int)
    assert pixels.shape == (2400, 1200, 3)
    passed_green = np.all(np.abs(pixels - [0xE6, 0xF4, 0xE6]) <= 2, axis=-1)  # the points cell of a passed question
    assert passed_green.sum() > 5000, "the score table did not render"
    assert (pixels.sum(axis=-1) < 200).sum() > 5000, "no text rendered"
