"""`autograde batch`: a folder of submissions into a gradebook, resumable after an interruption."""
import csv
import signal
import subprocess
import sys
import time
import zipfile

from autograde.cli import main
from tests.support import corpus


def _gradebook(path):
    with open(path, newline="") as f:
        return {row["submission"]: row for row in csv.DictReader(f)}


def test_a_batch_grades_folders_and_zips_into_a_gradebook_and_resumes(tmp_path, capsys):
    subs = tmp_path / "subs"
    corpus.build("q5_loss_mean", subs / "alice")
    bob = corpus.build("softmax_no_shift", tmp_path / "bob")
    with zipfile.ZipFile(subs / "bob.zip", "w") as archive:
        for path in bob.rglob("*.py"):
            archive.write(path, f"python/{path.name}")
    corpus.build("gaussian_xavier", subs / "=formula", corpus.STUDENTS_DIR)   # a name a spreadsheet would run
    args = ["batch", str(subs), "--out", str(tmp_path / "out"), "-j", "2", "-q", "2.2.2", "-q", "5.1.1"]
    assert main(args) == 0
    book = _gradebook(tmp_path / "out" / "gradebook.csv")
    assert set(book) == {"alice", "bob", "'=formula"}
    for row, fixture in ((book["alice"], "q5_loss_mean"), (book["bob"], "softmax_no_shift")):
        lost = corpus.expected(fixture)["expected"]["scores"]
        assert float(row["2.2.2"]) == lost.get("2.2.2", 3.0) and float(row["5.1.1"]) == lost.get("5.1.1", 5.0)
        assert float(row["total"]) == float(row["2.2.2"]) + float(row["5.1.1"]) and row["grader_errors"] == "0"
    assert (tmp_path / "out" / "alice" / "report.md").is_file()
    graded_at = (tmp_path / "out" / "alice" / "results.json").stat().st_mtime
    capsys.readouterr()
    assert main(args) == 0 and "graded 0, already graded 3" in capsys.readouterr().out
    assert (tmp_path / "out" / "alice" / "results.json").stat().st_mtime == graded_at


def test_an_interrupted_batch_keeps_no_half_grade_and_finishes_on_the_next_run(tmp_path):
    subs = tmp_path / "subs"
    corpus.build("softmax_hangs", subs / "hangs")
    command = [sys.executable, "-m", "autograde", "batch", str(subs), "--out", str(tmp_path / "out"), "-q", "2.2.2"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(4)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "run it again" in err
    assert not (tmp_path / "out" / "hangs" / "results.json").exists()
    assert main([*command[3:], "--timeout", "2"]) == 0
    assert float(_gradebook(tmp_path / "out" / "gradebook.csv")["hangs"]["2.2.2"]) == 0.0
