"""pytest plugin: ``pytest spec_tests --submission DIR`` grades the submission in DIR.

Registered in pyproject.toml under the ``pytest11`` entry point, so any pytest run in an
environment where this project is installed knows the options below. It acts only in a grading
run: one given --submission, or on the tests of the spec suite itself. Elsewhere (another project's
tests in the same environment) its fixtures stay idle: no sandbox probe, no seeding.
"""
import itertools
import tempfile
import zlib
from pathlib import Path

import numpy as np
import pytest

from sandbox import launch
from spec_tests import deadlines, protocol
from spec_tests.oracles import reference_dir
from spec_tests.submission import Submission, read_file_under, worker_sandbox

SUBMISSION_HELP = "directory holding the submission's modules (default: the bundled reference solution)"
SEED_HELP = "base seed for every random draw the tests make (default 0); each test derives its own"
QUESTION_HELP = "run only the tests of this handout question, e.g. 2.2.2 (repeatable)"
FIGURES_HELP = "copy the figures the submission draws here, for the grading report (default: check them, keep none)"
LIMIT_HELP = "QUESTION=SECONDS: the question's own time limit in a run of several questions (repeatable)"
ADVICE_HELP = "a test that carries no points: it runs after the others, under --advice-budget (repeatable)"
BUDGET_HELP = "seconds each --advice test may take before its worker is stopped (0: they are not run)"
SKIP_HELP = "an --advice test this run reports as not run (repeatable)"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
DEADLINES = pytest.StashKey()


def pytest_addoption(parser):
    group = parser.getgroup("submission", "grade a homework directory")
    group.addoption(protocol.SUBMISSION_OPTION, type=Path, default=None, help=SUBMISSION_HELP)
    group.addoption(protocol.SEED_OPTION, type=int, default=None, help=SEED_HELP)
    group.addoption(protocol.QUESTION_OPTION, action="append", default=[], help=QUESTION_HELP)
    group.addoption(protocol.FIGURES_OPTION, type=Path, default=None, help=FIGURES_HELP)
    group.addoption(protocol.QUESTION_LIMIT_OPTION, action="append", default=[], help=LIMIT_HELP)
    group.addoption(protocol.ADVICE_OPTION, action="append", default=[], help=ADVICE_HELP)
    group.addoption(protocol.ADVICE_BUDGET_OPTION, type=float, default=None, help=BUDGET_HELP)
    group.addoption(protocol.ADVICE_SKIP_OPTION, action="append", default=[], help=SKIP_HELP)
    parser.addini("submission", SUBMISSION_HELP)


def pytest_configure(config):
    config.addinivalue_line("markers", "question(qid): the handout question a test grades, e.g. '2.1.2'")
    config.stash[DEADLINES] = deadlines.from_config(config)


def question_of(item):
    """The handout question number a test item grades, or None."""
    marker = item.get_closest_marker("question")
    return marker.args[0] if marker and marker.args else None


def pytest_collection_modifyitems(config, items):
    wanted = set(config.getoption("question"))
    selected, deselected = [], []
    for item in items:
        qid = question_of(item)
        if qid is not None:
            item.user_properties.append((protocol.QUESTION_PROPERTY, qid))
        doc = getattr(getattr(item, "function", None), "__doc__", None)
        if doc:
            item.user_properties.append((protocol.TITLE_PROPERTY, doc.strip().splitlines()[0]))
        (selected if not wanted or qid in wanted else deselected).append(item)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
    # Advice checks last: a slow one then never delays a check that carries points.
    advice = config.stash[DEADLINES].advice
    items[:] = sorted(selected, key=lambda item: _test_name(item) in advice)


def _test_name(item):
    """The test's name as the report folds it: parametrised cases under their function's name."""
    return item.name.split("[")[0]


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    clocks = item.config.stash[DEADLINES]
    if clocks.active():
        why = clocks.before(_test_name(item), question_of(item))
        if why:
            pytest.fail(why, pytrace=False)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item, nextitem):
    yield
    clocks = item.config.stash[DEADLINES]
    clocks.after()
    if clocks.submission is not None:   # the worker start-ups of this test, for the grader's time table
        while clocks.submission.startups:
            item.user_properties.append((protocol.WORKER_START_PROPERTY, round(clocks.submission.startups.pop(0), 3)))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A test its clock stopped fails with the clock's reason (spec_tests/deadlines.py)."""
    report = (yield).get_result()
    if report.failed and call.when == "call":
        crash = getattr(report.longrepr, "reprcrash", None)
        message = item.config.stash[DEADLINES].stopped(crash.message if crash else str(report.longrepr))
        if message:
            report.longrepr = message


def _grading_run(config):
    """True when this pytest run grades a submission: --submission (or its ini setting) was given,
    or an argument names the spec suite."""
    if config.getoption("submission") or config.getini("submission"):
        return True
    spec = Path(__file__).resolve().parent
    return any(Path(str(arg).split("::")[0]).resolve().is_relative_to(spec) for arg in config.args)


def _grades(request):
    """True for a test that grades a submission: a grading run, or a test of the spec suite."""
    return _grading_run(request.config) or Path(str(request.node.path)).resolve().is_relative_to(Path(__file__).resolve().parent)


def pytest_report_header(config):
    if not _grading_run(config):
        return []
    wanted = protocol.worker_settings()[0]
    try:
        mode = launch.resolve_mode(wanted)
    except (launch.SandboxUnavailable, ValueError) as exc:
        mode = f"unavailable ({exc})"
    note = "" if mode != "none" else f" (NOT sandboxed: {launch.bwrap_problem() or f'{protocol.SANDBOX_VARIABLE}={wanted}'})"
    return [f"submission: {_submission_dir(config)}", f"sandbox: {mode}{note}"]


def _submission_dir(config):
    option = config.getoption("submission") or config.getini("submission")
    return Path(option).resolve() if option else reference_dir()


def _seed(config):
    seed = config.getoption("grading_seed")
    return 0 if seed is None else seed


@pytest.fixture(scope="session")
def submission(pytestconfig, tmp_path_factory):
    """The submission under test. Its modules load on first use, in a sandboxed worker process
    (spec_tests/submission.py) that may write only under this run's temporary folder."""
    directory = _submission_dir(pytestconfig)
    if not directory.is_dir():
        pytest.fail(f"--submission {directory}: not a directory", pytrace=False)
    mode, memory_mb, cpu_seconds, compat = protocol.worker_settings()
    try:
        launch.resolve_mode(mode)
    except (launch.SandboxUnavailable, ValueError) as exc:
        pytest.fail(f"{protocol.SANDBOX_VARIABLE}={mode}: {exc}", pytrace=False)
    # The worker may write only here: the tests' own tmp_path folders (the grader's figures) are not
    # even visible to it, and what it writes is read back through read_file_under.
    submission = Submission(directory, tmp_path_factory.getbasetemp() / "submission-files",
                            worker_sandbox(mode, memory_mb, cpu_seconds, compat), pytestconfig.getoption("question"))
    pytestconfig.stash[DEADLINES].submission = submission
    yield submission
    submission.close()


@pytest.fixture
def nn(submission):
    """The submission's nn.py."""
    return submission.module("nn")


@pytest.fixture
def run_q2(submission):
    """The submission's run_q2.py."""
    return submission.module("run_q2")


@pytest.fixture(scope="session")
def grading_seed(pytestconfig):
    """The grading seed itself, for fixtures broader than one test (seed np.random with it)."""
    return _seed(pytestconfig)


@pytest.fixture(scope="session")
def nist36():
    """hw5data.choose.Nist36Data (splits, name, description): the real NIST36 where $HW5_DATA_DIR
    names it, else nist36-lite. Skips, saying why, where neither can be had."""
    from hw5data.choose import nist36_data
    from hw5data.nist36 import DataError
    from hw5data.nist36_lite import MissingSourceData
    try:
        return nist36_data(seed=0)
    except (MissingSourceData, DataError) as exc:
        pytest.skip(f"the grader has no NIST36 data: {exc}")


@pytest.fixture
def test_seed(request):
    """A seed for this test: the grading seed mixed with the test's file and name, so tests draw
    independently, and identically wherever the files and the rootdir are."""
    key = f"{request.node.path.name}::{request.node.name}"
    return (_seed(request.config) * 1_000_003 + zlib.crc32(key.encode())) % 2**32


@pytest.fixture
def rng(test_seed):
    """A numpy Generator for the data a test builds (never shared with the submission's draws)."""
    return np.random.default_rng(test_seed)


@pytest.fixture(autouse=True)
def _seed_global_numpy(request):
    """Submissions draw from np.random (the handout's style): seed it per test, reproducibly, here
    and in the submission's process (grading tests only)."""
    if _grades(request):
        request.getfixturevalue("submission").seed(request.getfixturevalue("test_seed"))


@pytest.fixture(autouse=True)
def _compat_notices(request):
    """After each grading test: the removed library APIs the submission's code used, run as their
    replacements (spec_tests/compat.py), for the report (user property 'notice')."""
    yield
    if _grades(request):
        for text in request.getfixturevalue("submission").compat_notices():
            request.node.user_properties.append((protocol.NOTICE_PROPERTY, text))


@pytest.fixture
def show_figure(request, tmp_path_factory):
    """show_figure(path, caption): fail unless the submission wrote a PNG file at path; then hand it
    to the report (copied into --figures-dir under a name the grader picks, listed as a user
    property 'figure' = [file name, caption] for the parent to validate and read back)."""
    directory = request.config.getoption("figures_dir")
    numbers = itertools.count(1)

    def show(path, caption):
        __tracebackhide__ = True
        try:
            path = Path(path)
            png = read_file_under(path, tmp_path_factory.getbasetemp())
        except (TypeError, OSError, ValueError) as exc:
            pytest.fail(f"the figure for '{caption}' was not written where the function says ({path!r}): {exc}", pytrace=False)
        if not png.startswith(PNG_MAGIC):
            pytest.fail(f"{path.name} ('{caption}') is not a PNG file", pytrace=False)
        if directory is not None:
            name = protocol.figure_file_name(request.node.name, next(numbers))
            Path(directory).mkdir(parents=True, exist_ok=True)
            (Path(directory) / name).write_bytes(png)
            request.node.user_properties.append((protocol.FIGURE_PROPERTY, [name, caption]))
    return show


@pytest.fixture
def out_dir(submission):
    """A fresh folder, for this test, that the submission's code may write (its figures): inside
    the one folder its worker can write, under a name nobody can guess in advance."""
    submission.workdir.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix="out-", dir=submission.workdir))


@pytest.fixture
def show_finding(request):
    """show_finding(text): one line the report shows a person beside the question (a number the
    submission produced, e.g. its test accuracy). Worth no points by itself."""
    def show(text):
        request.node.user_properties.append((protocol.FINDING_PROPERTY, str(text)))
    return show


@pytest.fixture
def show_metric(request):
    """show_metric(name, value): a number for the optional leaderboard (e.g. one page's character
    accuracy, 0-1). A rubric question with `leaderboard = "..."` shows the mean of its metrics."""
    def show(name, value):
        request.node.user_properties.append((protocol.METRIC_PROPERTY, [str(name), float(value)]))
    return show
