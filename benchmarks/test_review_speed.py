"""pytest-benchmark: how fast the review app (`autograde review`) answers a grader, through Flask's
test client (no sockets), on made-up graded batches (tests/support/review_batch.py).

- The grading page of Q3.1.2 on a batch of 240 submissions: each round a submission not opened
  before (its record and figures read for the first time, its write-up's pages from the index that
  grading stored), and one submission reopened.
- Q3.1.2's summary page and its queue's next (a redirect) on a batch of 1,000 submissions, half of
  them graded.

Run: nox -s benchmark -- -k review_speed (or, from the clone, python -m pytest benchmarks/test_review_speed.py -o addopts=).
"""
import itertools
import urllib.parse

import pytest

from autograde.course.review_app import create_app
from autograde.course.writeup import WRITEUP_NAME, index_writeup
from autograde.rubric import load_rubric
from tests.support.review_batch import make_graded_batch, submission_names

QID = "3.1.2"
SMALL, LARGE = 240, 1000
FIRST_OPENS = 60


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """The 240 batch, the write-ups of the submissions opened first indexed as `autograde grade --report`
    indexes a kept write-up (the app then reads the pages from writeup-pages.json, not the PDF)."""
    folder = make_graded_batch(tmp_path_factory.mktemp("review") / "graded", SMALL)
    manual = [q.id for q in load_rubric().questions if q.kind == "manual"]
    for name in submission_names(SMALL)[:FIRST_OPENS]:
        if (folder / name / WRITEUP_NAME).is_file():
            index_writeup(folder / name / WRITEUP_NAME, manual)
    return folder


@pytest.fixture(scope="module")
def large(tmp_path_factory):
    folder = make_graded_batch(tmp_path_factory.mktemp("review") / "graded", LARGE)
    app = create_app(folder, grader="bench")
    store = app.config["STORE"]
    for name in submission_names(LARGE)[::2]:
        store.save(name, QID, [], 0, "", "bench", 0)
    store.close()
    return folder


def page(name):
    return f"/q/{QID}/s/{urllib.parse.quote(name, safe='')}"


def get_ok(client, url):
    response = client.get(url)
    assert response.status_code in (200, 302), (url, response.status_code)
    return response


def test_grading_page_first_open(benchmark, small):
    client = create_app(small, grader="bench").test_client()
    names = itertools.cycle(submission_names(SMALL))
    get_ok(client, "/")   # the app's own start-up is not a page's cost
    benchmark.pedantic(lambda: get_ok(client, page(next(names))), rounds=FIRST_OPENS, iterations=1)


def test_grading_page_reopen(benchmark, small):
    client = create_app(small, grader="bench").test_client()
    name = submission_names(SMALL)[7]
    get_ok(client, page(name))
    benchmark(get_ok, client, page(name))


def test_summary_page_of_1000(benchmark, large):
    client = create_app(large, grader="bench").test_client()
    response = get_ok(client, f"/q/{QID}")
    assert f"{LARGE // 2} of {LARGE} left" in response.get_data(as_text=True)
    benchmark(get_ok, client, f"/q/{QID}")


def test_queue_next_of_1000(benchmark, large):
    client = create_app(large, grader="bench").test_client()
    assert get_ok(client, f"/q/{QID}/next").status_code == 302
    benchmark(get_ok, client, f"/q/{QID}/next")
