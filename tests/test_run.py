"""Reading a child's report log: only well-formed reports count, and any failed phase fails a test."""
import json
import subprocess
import sys

from autograde import PROJECT_DIR
from autograde.figures import PNG_MAGIC
from autograde.report_log import read_report_log


def _report(nodeid, when, outcome, message=None):
    longrepr = {"reprcrash": {"message": message}} if message else None
    return json.dumps({"$report_type": "TestReport", "nodeid": nodeid, "when": when, "outcome": outcome,
                       "longrepr": longrepr, "user_properties": [["title", "A title"]]})


def test_a_test_passes_only_when_every_phase_and_case_passes(tmp_path):
    log = tmp_path / "log.jsonl"
    log.write_text("\n".join([
        _report("f.py::test_a", "setup", "passed"), _report("f.py::test_a", "call", "passed"),
        _report("f.py::test_b[1]", "call", "passed"), _report("f.py::test_b[2]", "call", "failed", "AssertionError: bad\nassert 1 == 2"),
        _report("f.py::test_c", "setup", "failed", "RuntimeError: boom"),
        _report("f.py::test_d", "call", "passed"), _report("f.py::test_d", "teardown", "failed", "Failed: leak"),
        _report("f.py::test_e", "setup", "passed"),
    ]) + "\n")
    outcomes = read_report_log(log)
    assert outcomes["test_a"].passed and outcomes["test_a"].title == "A title"
    assert not outcomes["test_b"].passed and outcomes["test_b"].message == "bad"
    assert not outcomes["test_c"].passed and outcomes["test_c"].message == "(while preparing the check) RuntimeError: boom"
    assert not outcomes["test_d"].passed and outcomes["test_d"].message == "(after the check) leak"
    assert "test_e" not in outcomes  # started, never finished: the caller gives the reason


def test_malformed_lines_are_ignored(tmp_path):
    log = tmp_path / "log.jsonl"
    log.write_text("\n".join(["not json", "[1, 2]", json.dumps({"$report_type": "TestReport", "nodeid": 3}),
                              _report("f.py::test_a", "call", "passed")]) + "\n")
    assert list(read_report_log(log)) == ["test_a"]


def test_missing_log_means_no_outcomes(tmp_path):
    assert read_report_log(tmp_path / "absent.jsonl") == {}


def test_a_skipped_test_fails_and_is_marked_skipped_and_the_data_set_is_read(tmp_path):
    skipped = json.loads(_report("f.py::test_a", "setup", "skipped"))
    skipped["longrepr"] = ["f.py", 3, "Skipped: the grader has no NIST36 data"]
    used = json.loads(_report("f.py::test_b", "call", "passed"))
    used["user_properties"].append(["data", "nist36-lite (...)"])
    (tmp_path / "log.jsonl").write_text(json.dumps(skipped) + "\n" + json.dumps(used) + "\n")
    outcomes = read_report_log(tmp_path / "log.jsonl")
    assert not outcomes["test_a"].passed and outcomes["test_a"].skipped
    assert outcomes["test_a"].message == "(while preparing the check) the grader has no NIST36 data"
    assert outcomes["test_b"].data == "nist36-lite (...)"


def _png(width=4, height=3):
    """A PNG header with the given IHDR size (enough for the parent's checks, which never decode)."""
    return PNG_MAGIC + b"\x00\x00\x00\x0dIHDR" + width.to_bytes(4, "big") + height.to_bytes(4, "big") + b"\x08\x02\x00\x00\x00"


def test_only_well_formed_figures_in_the_figures_folder_are_read_back(tmp_path):
    figures = tmp_path / "figures"
    figures.mkdir()
    (figures / "test_a-1.png").write_bytes(_png())
    (figures / "test_a-2.png").write_bytes(b"GIF89a not a png")
    (figures / "test_a-3.png").write_bytes(_png(width=100_000))
    (figures / "test_a-4.png").symlink_to(figures / "test_a-1.png")
    (tmp_path / "secret.png").write_bytes(_png())
    listed = [["figure", [f"test_a-{i}.png", f"caption {i}"]] for i in range(1, 5)]
    listed += [["figure", ["../secret.png", "escape"]], ["figure", "not a pair"], ["finding", "x" * 1000]]
    report = json.loads(_report("f.py::test_a", "call", "passed"))
    report["user_properties"] += listed
    (tmp_path / "log.jsonl").write_text(json.dumps(report) + "\n")
    outcome = read_report_log(tmp_path / "log.jsonl", figures_dir=figures)["test_a"]
    assert [f.caption for f in outcome.figures] == ["caption 1"]
    assert outcome.figures[0].png == _png()
    assert outcome.findings == ("x" * 300,)


def test_properties_repeated_in_every_phase_are_read_once(tmp_path):
    lines = []
    for when in ("setup", "call", "teardown"):
        report = json.loads(_report("f.py::test_a", when, "passed"))
        report["user_properties"] += [["finding", "lr 0.01: 70%"]] if when != "setup" else []
        lines.append(json.dumps(report))
    (tmp_path / "log.jsonl").write_text("\n".join(lines) + "\n")
    assert read_report_log(tmp_path / "log.jsonl")["test_a"].findings == ("lr 0.01: 70%",)


def test_a_rubric_group_runs_in_one_child_and_a_timeout_names_the_group(rubric):
    """Questions of one group (Q6's four PCA questions, one SVD) report from one child; cut short, the
    reason says which questions shared the time limit."""
    from autograde import REFERENCE_DIR
    from autograde.child import run_question
    from sandbox.processes import Supervisor

    pca = tuple(q for q in rubric.questions if q.group == "pca")
    assert [q.id for q in pca] == ["6.1", "6.2", "6.3", "6.4"]
    run = run_question(Supervisor(), REFERENCE_DIR, pca)
    assert run.questions == tuple(q.id for q in pca) and not run.timed_out
    assert set(run.outcomes) == {t for q in pca for t in q.test_names} and all(o.passed for o in run.outcomes.values())
    cut = run_question(Supervisor(), REFERENCE_DIR, pca, timeout=0.2)
    assert cut.timed_out and cut.ended_early_reason(0.2) == \
        "did not finish: the time limit of 0.2 s that Q6.1, Q6.2, Q6.3, Q6.4 share (one process) was reached"


def test_stray_children_are_killed_and_reaped():
    """What an interrupt in the middle of Popen leaves: children no Popen object knows, one running,
    one already a zombie. Run in a process of its own: it ends every child of the process it runs in."""
    script = """
import os, time
from pathlib import Path
from sandbox.processes import end_stray_children
running = os.posix_spawn("/bin/sleep", ["sleep", "60"], os.environ)
zombie = os.posix_spawn("/bin/true", ["true"], os.environ)
while Path(f"/proc/{zombie}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
    time.sleep(0.01)
end_stray_children()
print([Path(f"/proc/{pid}").exists() for pid in (running, zombie)])
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=30, cwd=PROJECT_DIR)
    assert done.stdout.strip() == "[False, False]", done.stderr


def test_an_error_that_ends_several_checks_is_shown_once_per_question(rubric):
    """One crash, one message: the terminal and report.md show it once, the other checks it ended
    say so; results.json keeps every check's own message."""
    from autograde.outcomes import QuestionRun, TestOutcome
    from autograde.scoring import score_question

    question = rubric["4.2"]
    crash = "TypeError: gaussian() got an unexpected keyword argument 'sigmas' (raised at q4.py:9)"
    run = QuestionRun(outcomes={name: TestOutcome(name, False, crash) for name in question.tests}, returncode=1, started=True)
    result = score_question(question, run, 240)
    compact, full = result.details(), result.details(compact=False)
    assert compact.count(crash) == 1 and full.count(crash) == len(question.tests)
    assert f"… and {len(question.tests) - 1} more checks below ended by the same error" in compact
    assert compact.count(": the same error as above") == len(question.tests) - 1


def test_short_questions_share_one_child_and_keep_their_own_limits(rubric):
    """Q1's six, Q2's seven and Q5.1's two questions (rubric limits of 60 s, three spec files) run in
    one child (one start-up), each under its own limit inside it; a rubric group keeps the sum of all
    its members' limits; a long question's file keeps its own child; --timeout caps each question's
    limit but does not pack long questions with the short ones; a file sharing a test name with
    another keeps its own child (outcomes are read back by test name)."""
    import dataclasses

    from autograde.grading import child_units

    units = child_units(rubric, [q for q in rubric.questions if q.test_names])
    by_first = {members[0].id: (tuple(q.id for q in members), limit, own) for members, limit, own in units}
    short = tuple(q.id for q in rubric.questions if q.test_names and (q.section in "12" or q.id.startswith("5.1.")))
    assert by_first["1.1"] == (short, 60 * len(short), dict.fromkeys(short, 60.0))
    assert by_first["5.2"][1] == sum(rubric[q].timeout for q in ("5.2", "5.3.1", "5.3.2")) and by_first["5.2"][2] == {}
    assert by_first["3.1.2"] == (("3.1.2",), 300, {})   # alone in its file outside the group: a child of its own
    assert by_first["4.2"][0] == ("4.2", "4.3")
    assert [limit for _, limit, _ in units] == sorted((limit for _, limit, _ in units), reverse=True)
    capped = {members[0].id: own for members, _, own in child_units(rubric, [rubric["2.2.2"], rubric["5.1.1"], rubric["3.1.2"]], timeout=6)}
    assert capped == {"2.2.2": {"2.2.2": 6, "5.1.1": 6}, "3.1.2": {}}
    clash = dataclasses.replace(rubric["5.1.1"], tests={**rubric["5.1.1"].tests, next(iter(rubric["2.2.2"].tests)): 0})
    twin = dataclasses.replace(rubric, questions=tuple(clash if q.id == "5.1.1" else q for q in rubric.questions))
    assert sorted(tuple(q.id for q in members) for members, _, _ in child_units(twin, [twin["2.2.2"], twin["5.1.1"], twin["5.1.2"]])) \
        == [("2.2.2",), ("5.1.1", "5.1.2")]


def test_without_advice_the_advice_checks_are_not_run_and_not_shown_as_failures(rubric):
    """`autograde --no-advice`: the 0-point checks are reported "not run", cost nothing and do not
    appear as advice in the question's reason; the scored checks run as ever."""
    from autograde import REFERENCE_DIR
    from autograde.grading import grade
    from spec_tests import protocol

    results = grade(REFERENCE_DIR, rubric, only={"2.2.1"}, advice=False)
    (question,) = results.questions
    advice = [o for o in question.outcomes if rubric["2.2.1"].is_advice(o.name)]
    assert advice and all(o.message == protocol.ADVICE_OFF for o in advice)
    assert question.score == question.max_score and "advice" not in question.reason
    assert any("--no-advice" in n for n in results.notices)


def test_a_questions_clock_counts_its_own_scored_tests_and_advice_runs_on_its_own_budget():
    """spec_tests/deadlines.py on a stand-in worker: a question's limit stops the worker once its own
    tests have used it, and its next test fails unrun; an advice check is stopped at its budget and
    neither spends nor is charged the question's time; a budget of 0 (--no-advice) runs none."""
    import time

    from spec_tests import protocol
    from spec_tests.deadlines import Deadlines

    class Worker:
        def __init__(self):
            self.stops, self.resumed = [], 0

        def stop(self, reason):
            self.stops.append(reason)

        def resume(self):
            self.resumed += 1

    clocks = Deadlines({"2.2.2": 0.2, "2.3.1": 5}, {"test_advice"}, 0.1)
    clocks.submission = worker = Worker()
    assert clocks.before("test_slow", "2.2.2") is None
    time.sleep(0.3)
    clocks.after()
    assert worker.stops == ["when the question's time limit of 0.2 s was reached"] and worker.resumed == 1
    assert clocks.fired is None   # after() forgets it; while the test ran, its failure was reported as the stop:
    clocks.fired = worker.stops[0]
    assert clocks.stopped("FlakyFailure: Inconsistent results from replaying a test case!") == \
        "the submission's process was stopped when the question's time limit of 0.2 s was reached"
    assert clocks.stopped("WorkerDied: the submission's process was stopped ... while running nn.softmax") is None
    clocks.fired = None
    assert clocks.before("test_next", "2.2.2").startswith("did not finish: the question's time limit of 0.2 s")
    spent = clocks.used["2.2.2"]
    assert clocks.before("test_advice", "2.2.2") is None   # its question's time is spent; its own budget is not
    time.sleep(0.2)
    clocks.after()
    assert worker.stops[-1].startswith("when its 0.1 s time budget ran out (an advice check")
    assert clocks.used["2.2.2"] == spent and len(worker.stops) == 2   # the advice check charged its question nothing
    assert clocks.before("test_other", "2.3.1") is None
    clocks.after()
    assert 0 < clocks.used["2.3.1"] < 5 and len(worker.stops) == 2   # another question's clock is its own
    assert Deadlines({}, {"test_advice"}, 0).before("test_advice", "2.2.1") == protocol.ADVICE_OFF
    some = Deadlines({}, {"test_advice", "test_other_advice"}, 5, skip={"test_other_advice"})
    assert some.before("test_other_advice", "2.2.1") == protocol.ADVICE_OFF   # a grading that runs only some advice
    assert some.before("test_advice", "2.2.1") is None
    some.after()
