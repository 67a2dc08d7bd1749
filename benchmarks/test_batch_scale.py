"""pytest-benchmark: course-scale operations of `autograde batch` and `autograde rescore`.

- One batch of BATCH_SIZE submissions (the reference and known-wrong fixtures, alternating),
  graded on the Q2 and Q5.1 questions with 2 gradings at a time, by the thread pool and by a Dask
  LocalCluster of 2 worker processes (its start included). Compare the two rows, as a ratio.
- `autograde rescore` of RESCORE_FOLDERS graded folders, each a copy of the reference's full
  grading (every question, its figures), by the strict profile.

Run: nox -s benchmark -- -k batch_scale (or, from the clone, python -m pytest benchmarks/test_batch_scale.py -o addopts=).
"""
import shutil

import pytest

from autograde import REFERENCE_DIR
from autograde.course.batch import grade_batch
from autograde.course.cluster import DaskEngine
from autograde.course.rescore import rescore_folder
from autograde.record import RECORD
from tests.support import corpus

BATCH_SIZE = 8
RESCORE_FOLDERS = 100
QUESTIONS = ("2.1.2", "2.2.1", "2.2.2", "2.2.3", "2.3.1", "5.1.1")
FIXTURES = ("softmax_no_shift", "q5_loss_mean", "sigmoid_is_tanh")


@pytest.fixture(scope="module")
def submissions(tmp_path_factory):
    folder = tmp_path_factory.mktemp("subs")
    for i in range(BATCH_SIZE):
        if i % 2:
            corpus.build(FIXTURES[i // 2 % len(FIXTURES)], folder / f"s{i:02d}")
        else:
            shutil.copytree(REFERENCE_DIR, folder / f"s{i:02d}", ignore=shutil.ignore_patterns("__pycache__"))
    return folder


@pytest.mark.parametrize("engine", ["threads", "local-cluster"])
def test_batch_throughput(benchmark, submissions, tmp_path, engine):
    runs = iter(range(100))

    def batch():
        out = tmp_path / f"out{next(runs)}"
        if engine == "threads":
            return grade_batch(submissions, out, jobs=2, only=QUESTIONS)
        with DaskEngine("local", 2) as dask:
            return grade_batch(submissions, out, jobs=2, only=QUESTIONS, engine=dask)

    summary = benchmark.pedantic(batch, rounds=1, iterations=1)
    assert summary.graded == BATCH_SIZE and not summary.failed
    benchmark.extra_info["submissions_per_hour"] = round(3600 * BATCH_SIZE / benchmark.stats.stats.max)


@pytest.fixture(scope="module")
def graded_course(tmp_path_factory):
    """RESCORE_FOLDERS copies of the reference's full grading (Q7 too where torch is installed)."""
    out = tmp_path_factory.mktemp("course")
    one = tmp_path_factory.mktemp("one")
    shutil.copytree(REFERENCE_DIR, one / "ref", ignore=shutil.ignore_patterns("__pycache__"))
    summary = grade_batch(one, out / "_first", jobs=1)
    assert summary.graded == 1 and (out / "_first" / "ref" / RECORD).is_file()
    for i in range(RESCORE_FOLDERS):
        shutil.copytree(out / "_first" / "ref", out / f"student{i:03d}")
    shutil.rmtree(out / "_first")
    return out


def test_rescore_a_course(benchmark, graded_course):
    summary = benchmark.pedantic(rescore_folder, args=(graded_course, "strict"), rounds=3, iterations=1)
    assert summary.rescored == RESCORE_FOLDERS
