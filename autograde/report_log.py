"""A question's outcomes from the report log its test process wrote (pytest-reportlog's JSON lines).

The log is the child's, and the child judges the submission without running its code, but the text
in it may quote the submission: every line is validated, every string bounded, and terminal control
characters replaced. The user properties are read by the names of spec_tests/protocol.py.
"""
import json
import math
import re
from pathlib import Path

from autograde.figures import read_figures
from autograde.outcomes import NOT_RUN, TestOutcome
from spec_tests import protocol

MAX_LOG_LINE = 1_000_000
MESSAGE_LINES = 8
MAX_FINDINGS, MAX_FINDING_CHARS = 12, 300
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # ANSI escapes, bells: never shown raw
NOT_RUN_PREFIXES = ("did not finish:", NOT_RUN)   # a limit or the grading kept the check from running
EXCEPTION_PREFIXES = ("Failed: ", "AssertionError: ", "Skipped: ", "WorkerDied: ")  # pytest's, not the student's


def read_report_log(path, figures_dir=None):
    """Parse a pytest-reportlog file. Returns {test name: TestOutcome}; malformed lines are skipped.

    A test passes only if every phase (setup, call, teardown) of every parametrised case passed;
    a skipped test earns nothing. Tests set up but never finished are left out (the caller knows
    why the process stopped). figures_dir: where the tests' figures are (None: none are read).
    """
    return outcomes(test_reports(path), figures_dir)


def test_reports(path):
    """{test name: [its well-formed TestReport dicts]} from a report log (empty if there is none)."""
    reports = {}
    if Path(path).exists():
        with open(path, "rb") as f:
            for raw in f:
                report = _parse_line(raw)
                if report is not None:
                    name = report["nodeid"].split("::")[-1].split("[")[0]
                    reports.setdefault(name, []).append(report)
    return reports


test_reports.__test__ = False  # a function named test_* that is not a test


def outcomes(reports, figures_dir=None):
    """{test name: TestOutcome} from test_reports' groups."""
    found = {}
    for name, group in reports.items():
        # user_properties accumulate over the phases: the longest list holds every one, once.
        latest = max((r.get("user_properties") for r in group if isinstance(r.get("user_properties"), list)), key=len, default=[])
        pairs = [p for p in latest if isinstance(p, list) and len(p) == 2 and isinstance(p[0], str)]
        props = dict(pairs)
        bad = [r for r in group if r["outcome"] != "passed"]
        if not bad and not any(r["when"] == "call" for r in group):
            continue  # set up but never finished
        texts = {kind: tuple(printable(str(v)[:MAX_FINDING_CHARS]) for k, v in pairs if k == kind)[:MAX_FINDINGS]
                 for kind in (protocol.FINDING_PROPERTY, protocol.NOTICE_PROPERTY)}
        figures = read_figures([v for k, v in pairs if k == protocol.FIGURE_PROPERTY], figures_dir, printable)
        metrics = tuple((m[0][:80], float(m[1])) for k, m in pairs if k == protocol.METRIC_PROPERTY and isinstance(m, list)
                        and len(m) == 2 and isinstance(m[0], str) and isinstance(m[1], (int, float)) and math.isfinite(m[1]))[:MAX_FINDINGS]
        found[name] = TestOutcome(name, not bad, printable(_message(bad[0])) if bad else "",
                                  printable(str(props.get(protocol.TITLE_PROPERTY, ""))[:200]),
                                  any(r["outcome"] == "skipped" for r in bad),
                                  printable(str(props.get(protocol.DATA_PROPERTY, ""))[:300]), figures,
                                  texts[protocol.FINDING_PROPERTY], metrics, texts[protocol.NOTICE_PROPERTY])
    return found


def printable(text):
    """Text from the child (which may quote the submission) without terminal control characters."""
    return CONTROL_CHARACTERS.sub("\N{REPLACEMENT CHARACTER}", text)


def _parse_line(raw):
    if len(raw) > MAX_LOG_LINE:
        return None
    try:
        report = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(report, dict) or report.get("$report_type") != "TestReport":
        return None
    if not all(isinstance(report.get(k), str) for k in ("nodeid", "outcome", "when")):
        return None
    return report


def _message(report):
    """The student-facing reason from a failed or skipped report. (Where in the submission an error
    was raised is already in its message: the worker, sandbox/worker.py, adds it.)"""
    longrepr = report.get("longrepr")
    if isinstance(longrepr, dict):
        crash = longrepr.get("reprcrash") or {}
        text = str(crash.get("message", ""))
    elif isinstance(longrepr, list) and len(longrepr) == 3:  # skip: (path, line, reason)
        text = str(longrepr[2])
    else:
        text = str(longrepr or "")
    for prefix in EXCEPTION_PREFIXES:
        if text.startswith(prefix):
            text = text[len(prefix):]
    lines = []
    raw_lines = text.strip().splitlines()
    if len(raw_lines) > 1 and raw_lines[0].startswith("Not equal to tolerance"):
        raw_lines[:2] = raw_lines[1::-1]  # numpy puts its boilerplate before the test's own message
    for line in raw_lines:
        if line.startswith("assert "):
            break  # pytest's introspection of the failed expression: noise next to our message
        if line.strip():
            lines.append(line.rstrip())
    where = {"call": "", "setup": "(while preparing the check) ", "teardown": "(after the check) "}.get(report["when"], "")
    if text.startswith(NOT_RUN_PREFIXES):
        where = ""   # a time limit or --no-advice kept the check from running (spec_tests/deadlines.py)
    return where + "\n".join(lines[:MESSAGE_LINES])
