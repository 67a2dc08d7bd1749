"""`autograde batch`: a folder of submissions into a gradebook, resumable after an interruption; its
stored outcomes rescored by another rubric (`autograde rescore`) and merged with a regraded question
(`--merge`); the same gradings as Dask tasks (`--scheduler local`, a LocalCluster of 2 worker processes)."""
import csv
import json
import shutil
import signal
import subprocess
import sys
import time
import zipfile

import pytest

from autograde.cli import main
from autograde.rubric import DEFAULT_RUBRIC
from tests.support import corpus
from tests.support.processes import living_descendants, set_subreaper

QUESTIONS = ["-q", "2.2.2", "-q", "5.1.1"]


def _gradebook(path):
    with open(path, newline="") as f:
        return {row["submission"]: row for row in csv.DictReader(f)}


def _results(out):
    return {p.parent.name: json.loads(p.read_text()) for p in sorted(out.glob("*/results.json"))}


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    """(submissions folder, its graded OUT): three submissions graded on Q2.2.2 and Q5.1.1 by the thread pool."""
    root = tmp_path_factory.mktemp("batch")
    subs = root / "subs"
    corpus.build("q5_loss_mean", subs / "alice")
    bob = corpus.build("softmax_no_shift", root / "bob")
    with zipfile.ZipFile(subs / "bob.zip", "w") as archive:
        for path in bob.rglob("*.py"):
            archive.write(path, f"python/{path.name}")
    corpus.build("gaussian_xavier", subs / "=formula", corpus.STUDENTS_DIR)   # a name a spreadsheet would run
    assert main(["batch", str(subs), "--out", str(root / "out"), "-j", "2", *QUESTIONS]) == 0
    return subs, root / "out"


@pytest.fixture
def graded(batch, tmp_path):
    """A private copy of the graded batch's OUT, to rescore or merge into."""
    return batch[0], shutil.copytree(batch[1], tmp_path / "out")


def test_a_batch_grades_folders_and_zips_into_a_gradebook_and_resumes(batch, capsys):
    subs, out = batch
    args = ["batch", str(subs), "--out", str(out), "-j", "2", *QUESTIONS]
    book = _gradebook(out / "gradebook.csv")
    assert set(book) == {"alice", "bob", "'=formula"}
    for row, fixture in ((book["alice"], "q5_loss_mean"), (book["bob"], "softmax_no_shift")):
        lost = corpus.expected(fixture)["expected"]["scores"]
        assert float(row["2.2.2"]) == lost.get("2.2.2", 3.0) and float(row["5.1.1"]) == lost.get("5.1.1", 5.0)
        assert float(row["total"]) == float(row["2.2.2"]) + float(row["5.1.1"]) and row["grader_errors"] == "0"
    assert {p.name for p in (out / "alice").iterdir()} == {"results.json", "report.md", "report.html", "outcomes.json",
                                                            "autograde.log"}
    graded_at = (out / "alice" / "results.json").stat().st_mtime
    capsys.readouterr()
    assert main(args) == 0 and "graded 0, already graded 3" in capsys.readouterr().out
    assert (out / "alice" / "results.json").stat().st_mtime == graded_at


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


def _no_submission_runs(monkeypatch):
    """Any process started from here on fails the test: a rescore runs no code."""
    def refuse(*args, **kwargs):
        raise AssertionError(f"a process was started: {args[0] if args else kwargs}")
    monkeypatch.setattr(subprocess, "Popen", refuse)


def _rubric(tmp_path, *edits):
    """The bundled rubric with each (old text, new text) replaced once."""
    text = DEFAULT_RUBRIC.read_text(encoding="utf-8")
    for old, new in edits:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    path = tmp_path / "new-rubric.toml"
    path.write_text(text, encoding="utf-8")
    return path


# Q2.2.2: half a point moves from "rows are probability vectors" to "finite for huge inputs" (which
# softmax_no_shift fails): bob's Q2.2.2 goes from 2 to 1.5.
MOVED = (('points = 0.75\ncites = "Q2.2.2 “Implement the softmax', 'points = 0.25\ncites = "Q2.2.2 “Implement the softmax'),
         ('points = 1\ncites = "Q2.2.2 “Be sure', 'points = 1.5\ncites = "Q2.2.2 “Be sure'))


def test_rescore_by_the_same_rubric_reproduces_every_file_and_by_a_new_one_equals_a_regrading(graded, tmp_path, monkeypatch,
                                                                                             capsys):
    subs, out = graded
    before, book = _results(out), (out / "gradebook.csv").read_text()
    records = {p: p.read_bytes() for p in out.glob("*/outcomes.json")}
    with monkeypatch.context() as patched:
        _no_submission_runs(patched)
        assert main(["rescore", str(out)]) == 0
        assert _results(out) == before and (out / "gradebook.csv").read_text() == book
        assert main(["rescore", str(out), "--rubric", str(_rubric(tmp_path, *MOVED))]) == 0
    assert {p: p.read_bytes() for p in out.glob("*/outcomes.json")} == records   # a rescore changes no outcome
    printed = capsys.readouterr().out
    assert "0 totals changed" in printed and "1 totals changed" in printed and "bob: 7 -> 6.5" in printed
    rescored = _results(out)["bob"]
    assert float(_gradebook(out / "gradebook.csv")["bob"]["2.2.2"]) == 1.5
    # The same submission graded afresh by the new rubric scores the same, check by check.
    fresh = tmp_path / "fresh.json"
    assert main([str(subs / "bob.zip"), "-q", "2.2.2", "-q", "5.1.1", "--rubric", str(tmp_path / "new-rubric.toml"),
                 "--results", str(fresh)]) == 0
    assert [(t["number"], t["score"], t["output"]) for t in json.loads(fresh.read_text())["tests"]] == \
           [(t["number"], t["score"], t["output"]) for t in rescored["tests"]]
    assert "| 2.2.2 | Softmax | 1.5 | 3 |" in (out / "bob" / "report.md").read_text()


def test_rescore_refuses_a_rubric_that_needs_tests_never_run_and_names_the_command_that_runs_them(graded, tmp_path, capsys):
    subs, out = graded
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*")}
    new = _rubric(tmp_path, (MOVED[1][0], 'points = 0.5\ncites = "Q2.2.2 “Be sure'),
                  ("[[question]]\nid = \"2.2.3\"", "[question.tests.test_softmax_of_a_new_kind]\npoints = 0.5\ncites = \"new\"\n\n"
                   "[[question]]\nid = \"2.2.3\""))
    assert main(["rescore", str(out), "--rubric", str(new), "--submissions", str(subs)]) == 2
    err = capsys.readouterr().err
    assert "never run (Q2.2.2: test_softmax_of_a_new_kind)" in err
    assert f"autograde batch {subs} --out {out} -q 2.2.2 --rubric {new} --merge" in err
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*")} == before   # nothing was written


def test_merge_regrades_one_question_into_the_stored_gradings(graded, capsys):
    subs, out = graded
    before = _gradebook(out / "gradebook.csv")
    assert main(["batch", str(subs), "--out", str(out), "-q", "2.1.2", "--merge", "-j", "2"]) == 0
    assert "graded 3 (merged into an earlier grading: 3)" in capsys.readouterr().out
    after = _gradebook(out / "gradebook.csv")
    for name, row in after.items():
        assert (row["2.2.2"], row["5.1.1"]) == (before[name]["2.2.2"], before[name]["5.1.1"])
        assert float(row["total"]) == float(before[name]["total"]) + float(row["2.1.2"])
    assert float(after["'=formula"]["2.1.2"]) == 0.25 and float(after["alice"]["2.1.2"]) == 1.0   # gaussian_xavier's deduction
    report = (out / "=formula" / "report.md").read_text()
    assert "2.1.2" in report and "5.1.1" in report
    assert main(["rescore", str(out)]) == 0    # the merged record rescored by the same rubric: no change
    assert _gradebook(out / "gradebook.csv") == after


def test_a_merge_that_fails_keeps_the_earlier_grading_and_a_typo_is_refused(graded, tmp_path, capsys):
    subs, out = graded
    subs = shutil.copytree(subs, tmp_path / "subs")
    (subs / "bob.zip").write_bytes(b"PK not a zip any more")
    before = _results(out)
    assert main(["batch", str(subs), "--out", str(out), "-q", "2.1.2", "--merge", "-j", "2"]) == 1
    assert "no results for bob.zip" in capsys.readouterr().err
    assert _results(out)["bob"] == before["bob"] and _results(out)["alice"] != before["alice"]
    assert "not merged, the earlier grading is kept" in (out / "bob" / "autograde.log").read_text()
    assert main(["batch", str(subs), "--out", str(out), "-q", "2.1.9", "--merge"]) == 2
    assert "no question 2.1.9" in capsys.readouterr().err


def test_merge_keeps_the_run_a_replaced_question_shared_with_its_rubric_group():
    from autograde.record import merge
    def record(questions, wanted):
        return {"questions": questions, "wanted": wanted, "known": wanted, "notices": [], "versions": {}, "sandbox": "bwrap",
                "elapsed": 1.0, "failed": ""}
    shared = {"file": "test_q3.py", "outcomes": [{"name": "test_b"}], "asked": ["test_a", "test_b", "test_c"]}
    old = record({"3.1.1": shared, "3.1.3": {"same_run_as": "3.1.1"}, "3.1.4": {"same_run_as": "3.1.1"}},
                 ["3.1.1", "3.1.3", "3.1.4"])
    new = record({"3.1.1": {"file": "test_q3.py", "outcomes": [{"name": "test_a"}], "asked": ["test_a"]}}, ["3.1.1"])
    merged = merge(old, new)["questions"]
    assert merged == {"3.1.1": new["questions"]["3.1.1"], "3.1.3": shared, "3.1.4": {"same_run_as": "3.1.3"}}


def test_rescore_names_the_folders_it_cannot_rescore(graded, capsys):
    subs, out = graded
    (out / "alice" / "outcomes.json").unlink()   # as graded by an autograde older than rescore
    assert main(["rescore", str(out), "--rubric", "strict"]) == 1
    assert "not rescored: alice: graded without a grading record" in capsys.readouterr().err


def test_a_local_dask_cluster_grades_the_batch_as_the_thread_pool_does(batch, tmp_path, capsys):
    pytest.importorskip("distributed")
    subs, out = batch
    assert main(["batch", str(subs), "--out", str(tmp_path / "dask"), "-j", "2", "--scheduler", "local", *QUESTIONS]) == 0
    assert "graded 3," in capsys.readouterr().out
    def scores(results):
        return {name: [(t["number"], t["score"], t["output"]) for t in r["tests"]] for name, r in results.items()}
    assert scores(_results(tmp_path / "dask")) == scores(_results(out))
    assert {p.name for p in (tmp_path / "dask" / "bob").iterdir()} == {p.name for p in (out / "bob").iterdir()}


def test_a_batch_joins_a_running_scheduler_by_its_address_and_ships_zip_bytes(tmp_path, capsys):
    distributed = pytest.importorskip("distributed")
    sub = corpus.build("softmax_no_shift", tmp_path / "subs" / "bob")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, dashboard_address=None, memory_limit=0) as cluster:
        assert main(["batch", str(tmp_path / "subs"), "--out", str(tmp_path / "out"), "--scheduler", cluster.scheduler_address,
                     "-q", "2.2.2"]) == 0
    assert "graded 1," in capsys.readouterr().out
    results = _results(tmp_path / "out")["bob"]
    assert [(t["number"], t["score"]) for t in results["tests"]] == [("2.2.2", 2.0)]
    # the worker graded a zip of the submission's bytes, not the folder's path
    assert str(sub) not in results["output"] and json.loads((tmp_path / "out" / "bob" / "outcomes.json").read_text())["submission"].endswith("/bob.zip")


def test_a_dask_task_grades_a_submission_shipped_as_zip_bytes(tmp_path):
    from autograde.course.cluster import grade_task, zipped
    sub = corpus.build("softmax_no_shift", tmp_path / "bob")
    status, files = grade_task({"name": "bob", "options": ["-q", "2.2.2"], "cpus": 1, "zip": zipped(sub)})
    results = json.loads(files["results.json"])
    assert status == 0 and [(t["number"], t["score"]) for t in results["tests"]] == [("2.2.2", 2.0)]
    assert {"report.md", "outcomes.json", "autograde.log"} <= set(files)


def test_an_interrupted_dask_batch_stops_its_gradings(tmp_path):
    pytest.importorskip("distributed")
    subs = tmp_path / "subs"
    corpus.build("softmax_hangs", subs / "hangs")
    command = [sys.executable, "-m", "autograde", "batch", str(subs), "--out", str(tmp_path / "out"), "-q", "2.2.2",
               "-j", "1", "--scheduler", "local"]
    set_subreaper(True)   # what the batch leaves behind is re-parented here, where the check finds it
    try:
        before = living_descendants()   # this test process's own (a resource tracker an earlier LocalCluster left)
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any(" grade " in c and "hangs" in c for c in living_descendants().values()):
            time.sleep(0.5)
        assert time.monotonic() < deadline, "the grading never started"
        time.sleep(1)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 130 and "run it again" in err
        deadline = time.monotonic() + 10
        while (left := {p: c for p, c in living_descendants().items() if p not in before}) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert not left, f"processes outlived the batch: {left}"
    finally:
        set_subreaper(False)
        living_descendants()   # reaps the zombies it adopted
    assert not (tmp_path / "out" / "hangs" / "results.json").exists()


def test_slurm_workers_get_a_job_script_with_the_options_given(tmp_path, capsys):
    pytest.importorskip("dask_jobqueue")
    (tmp_path / "subs").mkdir()
    assert main(["batch", str(tmp_path / "subs"), "--scheduler", "slurm", "--cluster-queue", "short", "--cluster-account",
                 "cs101", "--cluster-cores", "8", "--cluster-walltime", "01:30:00", "--cluster-setup",
                 "source ~/hw5/.venv/bin/activate", "--print-job-script"]) == 0
    script = capsys.readouterr().out
    for line in ("#SBATCH -p short", "#SBATCH -A cs101", "#SBATCH --cpus-per-task=8", "#SBATCH -t 01:30:00",
                 "source ~/hw5/.venv/bin/activate", f"{sys.executable} -m distributed.cli.dask_worker", "--nthreads 8"):
        assert line in script, line
    assert "#SBATCH --mem=30G" in script   # 4 GB a grading, 8 gradings (dask-jobqueue writes GB as 0.93 GiB)


def test_a_submission_that_could_not_be_graded_is_rescored_as_it_was(tmp_path, capsys):
    (tmp_path / "subs").mkdir()
    (tmp_path / "subs" / "bad.zip").write_bytes(b"PK not a zip")
    assert main(["batch", str(tmp_path / "subs"), "--out", str(tmp_path / "out"), "-q", "2.2.2"]) == 0
    before = _results(tmp_path / "out")
    assert main(["rescore", str(tmp_path / "out"), "--rubric", "strict"]) == 0
    after = _results(tmp_path / "out")["bad"]
    assert after["score"] == 0 and after["tests"] == before["bad"]["tests"] and "not a directory or a .zip" in after["output"]
