"""The spec_tests pytest plugin, tested as a black box with pytester."""
import pytest

pytest_plugins = ["pytester"]


def test_submission_options_are_in_the_help(pytester):
    result = pytester.runpytest("--help")
    result.stdout.fnmatch_lines(["*--submission=SUBMISSION*", "*--grading-seed=GRADING_SEED*", "*--question=QUESTION*"])


def test_question_marker_is_registered(pytester):
    result = pytester.runpytest("--markers")
    result.stdout.fnmatch_lines(["@pytest.mark.question(qid):*"])


@pytest.fixture
def fake_submission(pytester):
    sub = pytester.mkdir("sub")
    (sub / "nn.py").write_text("def softmax(x):\n    return 'mine'\n")
    pytester.makepyfile(test_fake="""
        import pytest

        @pytest.mark.question("9.1")
        def test_uses_submission(nn):
            assert nn.softmax(1) == "mine"

        @pytest.mark.question("9.2")
        def test_missing_function(nn):
            nn.forward(1)
    """)
    return sub


def test_submission_and_question_select_what_runs(pytester, fake_submission):
    result = pytester.runpytest("--submission", str(fake_submission), "--question", "9.1")
    result.assert_outcomes(passed=1, deselected=1)


def test_a_missing_contract_function_fails_with_its_name(pytester, fake_submission):
    result = pytester.runpytest("--submission", str(fake_submission), "--question", "9.2")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*nn.py has no function 'forward' (see docs/contract.md*"])


def test_an_import_error_in_the_submission_fails_the_tests_that_need_it(pytester, fake_submission):
    (fake_submission / "nn.py").write_text("import sys\nsys.exit(0)\n")
    result = pytester.runpytest("--submission", str(fake_submission))
    result.assert_outcomes(errors=2)  # the `nn` fixture fails, in each test's setup
    result.stdout.fnmatch_lines(["*importing nn.py failed: SystemExit: 0*"])


def test_the_plugin_is_inert_in_other_test_runs(pytester, monkeypatch):
    """Another project's tests in the same environment: no header, no sandbox probe (which would fail
    here: the sandbox is required and bubblewrap is not on PATH), no seeding of np.random."""
    monkeypatch.setenv("HW5_SANDBOX", "bwrap")
    monkeypatch.setenv("PATH", "/nonexistent")
    pytester.makepyfile(test_other="""
        def test_plain():   # errors if the plugin sets up its sandboxed submission for it
            pass
    """)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    assert "submission:" not in result.stdout.str() and "sandbox:" not in result.stdout.str()
