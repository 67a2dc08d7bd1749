"""The hostile corpus (fixtures/hostile/): submissions that attack the grader instead of the homework.

Each one is graded as a course would grade it, and must get exactly the score in its expected.toml:
the grader never crashes, every report is written and valid, and no attack earns a point its code
does not. Around the whole corpus: the grader's files are unchanged, a canary file survives, no
connection reached a server listening on 127.0.0.1, no shell command ran in the grader, and no
process the grading started outlives it (this process is their subreaper, so a setsid'd one counts).

The corpus runs only inside bubblewrap: some attacks (kill -1, rewriting the spec tests) are meant
for a sandbox and would do real harm outside one.
"""
import hashlib
import io
import json
import socket
import threading
import time
from pathlib import Path

import jsonschema
import pytest
from rich.console import Console

from autograde import PROJECT_DIR
from autograde.grading import grade
from autograde.reports import print_table, write_report
from sandbox import launch
from spec_tests import protocol
from tests.support import corpus
from tests.support.processes import living_descendants, set_subreaper
from tests.support.schema import GRADESCOPE_SCHEMA as SCHEMA

HOSTILE = corpus.HOSTILE_DIR
LISTEN_PORT = 47215             # the port opens_network_sockets tries on 127.0.0.1
PWNED = Path("/tmp/hw5-hostile-pwned")  # what malicious_pickle_answer's payload would create here
CANARY = HOSTILE / "CANARY"
GUARDED = sorted([*(PROJECT_DIR / "spec_tests").glob("*.py"), *(PROJECT_DIR / "autograde").glob("*.toml"),
                  *(PROJECT_DIR / "solution").glob("*.py"), CANARY])

pytestmark = pytest.mark.skipif(launch.bwrap_problem() is not None,
                                reason=f"the hostile corpus runs only inside bubblewrap: {launch.bwrap_problem()}")


def _outside_code_fences(markdown):
    """The Markdown text outside ``` blocks (inside them, markup is shown as text)."""
    kept, fenced = [], False
    for line in markdown.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced:
            kept.append(line)
    return "\n".join(kept)


def _digest(paths):
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() if p.exists() else None for p in paths}


def _outlivers(before, grace=10.0):
    """Descendants not in `before` that are still alive after `grace` seconds (a killed worker may
    take a moment to go)."""
    deadline = time.monotonic() + grace
    while (left := {p: c for p, c in living_descendants().items() if p not in before}) \
            and time.monotonic() < deadline:
        time.sleep(0.2)
    return left


@pytest.fixture(scope="module")
def guarded(tmp_path_factory):
    """Sets the sandbox up strictly, listens on LISTEN_PORT, and after the corpus checks that
    nothing outside the sandbox changed."""
    patch = pytest.MonkeyPatch()
    set_subreaper(True)
    before, processes = _digest(GUARDED), living_descendants()
    connections = []
    stop = threading.Event()
    server = socket.create_server(("127.0.0.1", LISTEN_PORT))
    server.settimeout(0.2)

    def listen():
        while not stop.is_set():
            try:
                connections.append(server.accept()[0].recv(100))
            except OSError:
                pass
    thread = threading.Thread(target=listen, daemon=True)
    thread.start()
    # Set only now, and undone whatever happens: the environment outlives this module (other tests
    # of the same process would grade with a 1 GB worker, too small for torch).
    patch.setenv(protocol.SANDBOX_VARIABLE, "bwrap")
    patch.setenv(protocol.MEMORY_VARIABLE, "1024")   # the memory bomb hits its cap in a second
    PWNED.unlink(missing_ok=True)
    try:
        yield
    finally:
        patch.undo()
        stop.set()
        thread.join()
        server.close()
    assert _digest(GUARDED) == before, "a hostile submission changed the grader's files"
    assert CANARY.exists()
    assert not PWNED.exists(), "a hostile answer ran a shell command in the grader"
    assert connections == [], f"a hostile submission reached the network: {connections}"
    left = _outlivers(processes)
    set_subreaper(False)
    assert not left, f"processes outlived the grading: {left}"


@pytest.mark.parametrize("name", corpus.names(HOSTILE))
def test_hostile_submission_gets_exactly_the_score_its_code_earns(name, guarded, rubric, tmp_path):
    spec = corpus.expected(name, HOSTILE)
    submission = corpus.build(name, tmp_path / name, HOSTILE)
    results = grade(submission, rubric, only=set(spec["questions"]), timeout=spec.get("timeout"))

    # Every view of the results is written, and is valid.
    results_json = results.to_gradescope()
    jsonschema.validate(results_json, SCHEMA)
    write_report(results, tmp_path / "report.md")
    terminal = io.StringIO()
    print_table(results, Console(file=terminal, width=200, force_terminal=False), verbose=True)
    for text in (json.dumps(results_json), (tmp_path / "report.md").read_text(), terminal.getvalue()):
        assert "\x1b" not in text and "\x07" not in text, "a control character from the submission reached a report"
    assert "<script" not in (tmp_path / "report.html").read_text()
    assert "<script" not in _outside_code_fences((tmp_path / "report.md").read_text())
    assert results.sandbox == "bwrap" and not results.grader_errors, results.grader_errors

    # Exactly the points its code earns.
    failing = {o.name for r in results.questions if r.score is not None for o in r.outcomes if not o.passed}
    assert failing == set(spec["expected"]["failing"]), f"{name}: {spec['attack']}"
    scores = {r.question.id: r.score for r in results.questions if r.score is not None}
    full = {r.question.id: r.max_score for r in results.questions if r.score is not None}
    assert set(scores) == set(spec["questions"])
    assert scores == full | spec["expected"]["scores"]
    if "message_contains" in spec:
        messages = [o.message for r in results.questions for o in r.outcomes if not o.passed]
        assert messages and all(spec["message_contains"] in m for m in messages), messages


def test_the_corpus_covers_at_least_twenty_attacks():
    assert len(corpus.names(HOSTILE)) >= 20


def test_the_sandbox_is_what_stops_the_reference_reader(rubric, tmp_path, monkeypatch):
    """Shows the corpus's sandbox checks can fail: graded as a plain process (HW5_SANDBOX=none),
    the submission that copies the reference solution from disk gets every point of Q2.5.1, and
    the report says loudly that it ran unsandboxed. (Only this read-only attack is run that way.)"""
    monkeypatch.setenv(protocol.SANDBOX_VARIABLE, "none")
    submission = corpus.build("reads_the_reference_and_expected_scores", tmp_path / "sub", HOSTILE)
    results = grade(submission, rubric, only={"2.5.1"})
    assert results.sandbox == "none" and results.notices[0].startswith("NOT SANDBOXED (HW5_SANDBOX=none)")
    assert [r.score for r in results.questions if r.score is not None] == [5.0]
    write_report(results, tmp_path / "report.md")
    assert "class='banner warn'>NOT SANDBOXED" in (tmp_path / "report.html").read_text()
