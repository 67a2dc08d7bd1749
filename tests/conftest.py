"""Shared fixtures for the grader's own tests."""
import sys

import pytest

from autograde import PROJECT_DIR
from autograde.rubric import load_rubric

sys.path.insert(0, str(PROJECT_DIR / "fixtures"))
import known_wrong  # noqa: E402  (fixtures/ is a folder of data and one builder script, not a package)


@pytest.fixture(scope="session")
def rubric():
    return load_rubric()


@pytest.fixture(scope="session")
def known_wrong_builder():
    return known_wrong

