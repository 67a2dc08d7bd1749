"""The `autograde` command end to end, as a user runs it (a separate process)."""
import json
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import jsonschema
import pytest

from autograde import PROJECT_DIR, REFERENCE_DIR
from autograde.report_log import read_report_log
from tests.support import corpus
from tests.support.cli import autograde
from tests.support.processes import living_descendants, set_subreaper
from tests.support.schema import GRADESCOPE_SCHEMA as SCHEMA


def test_a_failed_evidence_check_and_advice_reach_the_student_with_their_reasons(tmp_path):
    """A question for a person has no test entry in results.json: its failed evidence and the reason go
    to the terminal (-v), report.md, report.html and results.json's output. A check the handout does
    not ask for shows as advice, with why, and costs nothing; the strict profile charges it."""
    submission = corpus.build("softmax_no_shift", tmp_path / "sub")
    (tmp_path / "sub" / "nn.py").write_text((tmp_path / "sub" / "nn.py").read_text() + "\n\ndef sigmoid(x):\n    return 1 / (1 + np.exp(-x))\n")
    proc = autograde(submission, "-q", "1.1", "-q", "2.2.1", "-v", "--results", tmp_path / "r.json", "--report", tmp_path / "report.md")
    assert proc.returncode == 0, proc.stderr
    reason = "softmax of entries near 1e4 is not finite"   # Q1.1's failed evidence check says why
    results = json.loads((tmp_path / "r.json").read_text())
    report, page = (tmp_path / "report.md").read_text(), (tmp_path / "report.html").read_text()
    evidence = [line for line in results["output"].splitlines() if "FAIL [evidence]" in line]
    assert evidence and "Q1.1 Softmax is invariant" in results["output"]
    assert all("FAIL [evidence]" in text and reason in text for text in (proc.stdout, report, page, results["output"]))
    assert "evidence: 1/2 checks hold;" in report
    (q221,) = results["tests"]
    assert q221["score"] == 4 and "ADVICE [0 pt] sigmoid(±1e4) is 0 or 1 with no overflow warning" in q221["output"]
    assert "advice, no points: the handout asks for the stability trick in softmax" in q221["output"]
    assert "## Advice (no points)" in report and "ADVICE [0 pt]" in proc.stdout and "ADVICE [0 pt]" in page
    strict = autograde(submission, "-q", "2.2.1", "--rubric", "strict", "--results", tmp_path / "s.json")
    (q221,) = json.loads((tmp_path / "s.json").read_text())["tests"]
    assert strict.returncode == 0 and q221["score"] == 3 and "rubric profile 'strict'" in strict.stdout


def test_removed_apis_run_as_their_replacements_unless_switched_off(tmp_path):
    """np.float (removed in NumPy 1.24) is graded as float, with a notice in every report and the
    library versions in the header; --no-compat grades the code as the installed numpy runs it."""
    submission = corpus.build("np_float_aliases", tmp_path / "sub", corpus.STUDENTS_DIR)
    proc = autograde(submission, "-q", "2.2.3", "--results", tmp_path / "r.json", "--report", tmp_path / "report.md")
    results = json.loads((tmp_path / "r.json").read_text())
    notice = "the submission uses `np.int`, removed in NumPy 1.24: graded as `int`; change it (Q2.2.3)"
    assert proc.returncode == 0 and results["score"] == 3
    assert all(notice in text for text in (results["output"], proc.stdout.replace("\n", " "), (tmp_path / "report.md").read_text()))
    assert "Graded with numpy 2." in results["output"] and "scikit-image 0." in (tmp_path / "report.md").read_text()
    off = autograde(submission, "-q", "2.2.3", "--no-compat", "--results", tmp_path / "off.json")
    (q223,) = json.loads((tmp_path / "off.json").read_text())["tests"]
    assert off.returncode == 0 and q223["score"] == 0 and "np.int" in q223["output"]


def test_a_path_that_is_not_a_submission_still_gets_a_results_file(tmp_path):
    proc = autograde(tmp_path / "nowhere", "--results", tmp_path / "results.json")
    assert proc.returncode == 2
    results = json.loads((tmp_path / "results.json").read_text())
    jsonschema.validate(results, SCHEMA)
    assert results["score"] == 0 and "nowhere: not a directory or a .zip file" in results["output"]


def test_an_empty_submission_scores_zero_and_says_what_is_missing(tmp_path):
    (tmp_path / "empty").mkdir()
    proc = autograde(tmp_path / "empty", "-q", "2.2.2", "-q", "2.5.1", "--results", tmp_path / "r.json")
    assert proc.returncode == 0, proc.stderr
    tests = json.loads((tmp_path / "r.json").read_text())["tests"]
    assert [t["score"] for t in tests] == [0, 0]
    assert "the submission has no nn.py" in tests[0]["output"]
    assert "the submission has no run_q2.py" in tests[1]["output"]


def test_a_zip_with_the_modules_in_a_subfolder_is_graded(tmp_path):
    shutil.copytree(REFERENCE_DIR, tmp_path / "hw5" / "python", ignore=shutil.ignore_patterns("__pycache__"))
    archive = tmp_path / "hw5.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in (tmp_path / "hw5").rglob("*"):
            zf.write(path, path.relative_to(tmp_path))
    proc = autograde(archive, "-q", "2.2.2", "--results", tmp_path / "r.json")
    assert proc.returncode == 0, proc.stderr
    results = json.loads((tmp_path / "r.json").read_text())
    assert results["tests"][0]["score"] == 3
    assert "graded the modules in hw5/python/ of the submission" in results["output"]


def test_a_malformed_rubric_is_reported_without_a_traceback(tmp_path):
    bad = tmp_path / "rubric.toml"
    bad.write_text('[[question]]\nid = "1"\n')
    proc = autograde("--rubric", bad, "--results", tmp_path / "r.json")
    assert proc.returncode == 2
    assert "rubric.toml: question #1 (1): missing key 'title'" in proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr
    results = json.loads((tmp_path / "r.json").read_text())
    jsonschema.validate(results, SCHEMA)
    assert results["score"] == 0 and "missing key 'title'" in results["output"]


def test_a_rubric_naming_a_missing_test_file_is_a_grader_error_not_a_zero(tmp_path, rubric):
    text = (PROJECT_DIR / "autograde" / "rubric.toml").read_text().replace('file = "test_q2_network.py"', 'file = "test_q2_nope.py"')
    (tmp_path / "rubric.toml").write_text(text)
    proc = autograde("--rubric", tmp_path / "rubric.toml", "-q", "2.2.2", "--results", tmp_path / "r.json")
    assert proc.returncode == 1
    results = json.loads((tmp_path / "r.json").read_text())
    assert "GRADER ERROR Q2.2.2: the test runner exited with code 4" in results["output"]


def test_an_unknown_question_is_a_usage_error(tmp_path):
    proc = autograde("-q", "2.2.9", "--results", tmp_path / "r.json")
    assert proc.returncode == 2
    assert "no question 2.2.9 in" in json.loads((tmp_path / "r.json").read_text())["output"]


def test_a_backup_copy_in_a_deeper_folder_is_ignored_with_a_notice(tmp_path):
    shutil.copytree(REFERENCE_DIR, tmp_path / "sub" / "python", ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "sub" / "python" / "old").mkdir()
    (tmp_path / "sub" / "python" / "old" / "nn.py").write_text("raise SystemExit('old copy')\n")
    proc = autograde(tmp_path / "sub", "-q", "2.2.2", "--results", tmp_path / "r.json")
    results = json.loads((tmp_path / "r.json").read_text())
    assert proc.returncode == 0 and results["tests"][0]["score"] == 3
    assert "graded the modules in python/ of the submission; ignored other copies of nn.py in python/old/" in results["output"]


def _children_of(pid):
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            pids.append(int(stat.parent.name))
    return pids


def _command_line(pid):
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


@pytest.fixture
def adopts_orphans():
    """This process adopts the orphans of its descendants for the test: a child that autograde killed
    but never reaped comes here as a zombie and is seen, whether or not this machine's init reaps."""
    set_subreaper(True)
    try:
        yield
    finally:
        set_subreaper(False)
        living_descendants()  # reaps the zombies it adopted


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc to list child processes")
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
@pytest.mark.parametrize("when", ["probing the sandbox", "grading"])
def test_an_interrupted_run_kills_its_test_processes_and_still_writes_results(tmp_path, signum, when, adopts_orphans):
    """Killed, and reaped: its first child is the sandbox probe (bubblewrap starting Python), then the
    question's test processes."""
    submission = corpus.build("softmax_hangs", tmp_path / "sub")
    # Started with SIGINT ignored, as a background job or a CI runner starts it: it must still stop.
    proc = subprocess.Popen([sys.executable, "-m", "autograde", str(submission), "--results", str(tmp_path / "r.json")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    program = b"bwrap" if when == "probing the sandbox" else b"pytest"
    deadline = time.monotonic() + 60
    while not (children := [p for p in _children_of(proc.pid) if program in _command_line(p)]) \
            and time.monotonic() < deadline:
        time.sleep(0.05)
    assert children, f"autograde started no child while {when}"
    proc.send_signal(signum)
    assert proc.wait(timeout=30) == 130
    time.sleep(0.5)
    assert [pid for pid in children if Path(f"/proc/{pid}").exists()] == []
    results = json.loads((tmp_path / "r.json").read_text())
    assert results["score"] == 0 and "grading was interrupted" in results["output"]


def test_autograde_and_a_direct_pytest_run_draw_the_same_random_data(tmp_path):
    """A student can reproduce a grader's failure with `pytest spec_tests --submission DIR`."""
    submission = corpus.build("gaussian_xavier", tmp_path / "sub", corpus.STUDENTS_DIR)
    autograde(submission, "-q", "2.1.2", "--results", tmp_path / "r.json")
    graded = json.loads((tmp_path / "r.json").read_text())["tests"][0]["output"]
    subprocess.run([sys.executable, "-m", "pytest", "spec_tests/test_q2_network.py", "--submission", str(submission),
                    "--question", "2.1.2", f"--report-log={tmp_path / 'log.jsonl'}", "-p", "no:cacheprovider"],
                   cwd=PROJECT_DIR, capture_output=True, timeout=120)
    direct = read_report_log(tmp_path / "log.jsonl")["test_initialize_weights_fill_the_xavier_uniform_support"]
    assert "max |W| = " in direct.message and direct.message in graded


def test_the_starter_kit_holds_every_contract_function_and_grades_to_zero_without_a_grader_error(tmp_path):
    """`autograde starter` writes every contract module and function (raising NotImplementedError;
    util.py whole, as the handout gives it); grading it untouched gives 0 points, exit 0, and no
    grader error; a second run never overwrites the student's files."""
    import ast

    from spec_tests.submission import CONTRACT

    kit = tmp_path / "kit"
    assert autograde("starter", kit).returncode == 0
    assert sorted(p.stem for p in kit.glob("*.py")) == sorted(CONTRACT)
    for module, functions in CONTRACT.items():
        defined = {n.name for n in ast.parse((kit / f"{module}.py").read_text()).body if isinstance(n, ast.FunctionDef)}
        assert set(functions) <= defined, module
    assert "learning_rate=None" in (kit / "run_q3.py").read_text()  # the student's choice is not given away
    proc = autograde(kit, "--results", tmp_path / "results.json")
    results = json.loads((tmp_path / "results.json").read_text())
    assert proc.returncode == 0 and results["score"] == 0 and "GRADER ERROR" not in results["output"], proc.stdout
    again = autograde("starter", kit)
    assert again.returncode == 2 and "never overwrites" in again.stderr




def test_a_zip_that_unpacks_too_large_or_to_too_many_files_is_refused(tmp_path, monkeypatch):
    """A zip bomb or a zip of a whole home folder is refused with a message, not unpacked."""
    from autograde import intake
    big, many = tmp_path / "big.zip", tmp_path / "many.zip"
    with zipfile.ZipFile(big, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("python/nn.py", b"#" * (intake.MAX_ZIP_BYTES + 1))   # compresses to a few hundred KB
    with zipfile.ZipFile(many, "w") as zf:
        for i in range(intake.MAX_ZIP_FILES + 1):
            zf.writestr(f"f{i}.py", "")
    for archive, complaint in ((big, "unpacks to 256 MB; a submission may unpack to at most 256 MB"),
                               (many, "5001 entries; a submission may hold at most 5000")):
        proc = autograde(archive, "-q", "2.2.2", "--results", tmp_path / "r.json")
        assert proc.returncode == 2 and complaint in json.loads((tmp_path / "r.json").read_text())["output"]


def test_any_folder_name_can_be_graded_and_grade_is_the_default_command(tmp_path):
    """A submission folder named like a subcommand (starter, batch, gradescope) is graded with
    `autograde grade NAME`; `autograde PATH` grades PATH."""
    shutil.copytree(REFERENCE_DIR, tmp_path / "starter", ignore=shutil.ignore_patterns("__pycache__"))
    env = {"COLUMNS": "200", "PATH": "/usr/bin:/bin"}
    for command in (["grade", "starter"], ["./starter"]):
        proc = subprocess.run([sys.executable, "-m", "autograde", *command, "-q", "2.2.2", "--results", "r.json"],
                              cwd=tmp_path, capture_output=True, text=True, timeout=300, env=env)
        assert proc.returncode == 0, proc.stderr
        results = json.loads((tmp_path / "r.json").read_text())
        assert results["score"] == 3 and "HW5 grading: starter" in proc.stdout   # Path("./starter") prints as starter
