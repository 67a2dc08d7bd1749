"""Shared fixtures for the grader's own tests (helpers they share live in tests/support/)."""
import pytest

from autograde.rubric import load_rubric


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
