"""Shared fixtures for the grader's own tests (helpers they share live in tests/support/)."""
import os

import pytest
import threadpoolctl

from autograde.grading import available_cpus
from autograde.rubric import load_rubric
from sandbox.launch import THREAD_VARIABLES

THREAD_LIMITS = (*THREAD_VARIABLES, "OMP_THREAD_LIMIT")   # OMP_THREAD_LIMIT: Tesseract's OpenMP


def pytest_configure(config):
    """Under xdist, each worker's own numeric work (numpy's BLAS, torch, Tesseract) runs on its share
    of the cores: two workers on two cores with two BLAS threads each spin against each other, and
    `pytest -n 2` of tests/test_q4_tesseract.py, test_q4_ground_truth.py and test_hw5data.py took 68 s,
    against 49 s with one thread each.
    A variable the caller set is kept. The gradings' own processes get their caps from the grader."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "0"))
    if workers:
        share = str(max(1, available_cpus() // workers))
        for name in THREAD_LIMITS:
            os.environ.setdefault(name, share)   # what starts later: torch's import, Tesseract
        threadpoolctl.threadpool_limits(int(os.environ["OPENBLAS_NUM_THREADS"]))   # numpy, loaded by the plugin already


@pytest.fixture(scope="session")
def rubric():
    return load_rubric()


# With `-n 2 --dist loadscope` each module runs whole on one xdist worker, so module fixtures (the
# graded reference of test_reference_grading, the hostile corpus's guard) are set up once. The
# gradings of the known-wrong corpus and the CLI tests (no module fixture) are independent: each is
# a unit of its own, so they spread over the workers.
SPREAD = ("tests/test_known_wrong.py::test_known_wrong_submission", "tests/test_known_wrong.py::test_removed_apis",
          "tests/test_known_wrong.py::test_reference_scores", "tests/test_cli.py::")


def pytest_xdist_make_scheduler(config, log):
    from xdist.scheduler import LoadScopeScheduling

    class OneGradingOneUnit(LoadScopeScheduling):
        def _split_scope(self, nodeid):
            return nodeid if nodeid.startswith(SPREAD) else super()._split_scope(nodeid)

    return OneGradingOneUnit(config, log)


FIRST = "tests/test_reference_grading.py"   # the longest unit: the reference graded in full, then its reports


def pytest_collection_modifyitems(items):
    """The longest unit starts first (xdist hands units out in collection order), so that no worker is
    still on it after the other has run out of work."""
    items.sort(key=lambda item: not item.nodeid.startswith(FIRST))
