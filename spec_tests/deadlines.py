"""Time limits enforced inside one child: each question's own limit where a child runs several
questions (autograde packs a spec file's short questions into one process, so they share its
start-up), and the advice checks' own small budget.

The grader's limit on the whole child still holds; these end a question, or an advice check, without
ending the others. A limit is enforced on the submission's worker, where its code runs: when one runs
out, the worker is stopped (sandbox.client.WorkerClient.stop), so the call in flight fails with the
reason, and a question whose time is spent fails its remaining tests without running them.
"""
import threading
import time

import pytest

from spec_tests.protocol import ADVICE_OFF, QUESTION_LIMIT_OPTION

NOT_RUN = "did not finish: the question's time limit of {limit:g} s was reached by its earlier checks"
QUESTION_STOP = "when the question's time limit of {limit:g} s was reached"
STOPPED_LABEL = "the submission's process"
ADVICE_STOP = "when its {budget:g} s time budget ran out (an advice check: it carries no points, so it may not take a question's time)"


def parse_limits(values):
    """{question id: seconds} from --question-limit QID=SECONDS values."""
    limits = {}
    for value in values:
        qid, _, seconds = value.partition("=")
        try:
            limits[qid] = float(seconds)
        except ValueError:
            raise pytest.UsageError(f"{QUESTION_LIMIT_OPTION} {value!r}: expected QUESTION=SECONDS") from None
    return limits


class Deadlines:
    """The clocks of one child run. limits: {question id: seconds}, the time its own scored tests may
    take together (setup to teardown); advice (they run last, each on its own budget instead):
    names of the tests that carry no points; budget: seconds each of those may take (None: no budget
    of their own, 0: they are not run); skip: those of them this grading does not run."""

    def __init__(self, limits, advice, budget, skip=()):
        self.limits, self.advice, self.budget, self.skip = dict(limits), frozenset(advice), budget, frozenset(skip)
        self.used = {}          # question id -> seconds its tests have taken so far
        self.submission = None  # the session's Submission, once the fixture made it
        self._timer = None
        self._running = None    # (question id, time.monotonic() at its start) of a limited test under way
        self.fired = None       # the reason a clock stopped the worker during the current test, if one did

    def active(self):
        return bool(self.limits) or (self.budget is not None and bool(self.advice))

    def before(self, name, qid):
        """Arm the clock for test `name` of question `qid`; returns why it must not run, or None. An
        advice check with a budget runs on that budget alone: it neither spends nor is charged its
        question's time."""
        own_budget = name in self.advice and self.budget is not None
        if own_budget and (self.budget == 0 or name in self.skip):
            return ADVICE_OFF
        if own_budget:
            seconds, reason = self.budget, ADVICE_STOP.format(budget=self.budget)
        elif qid in self.limits:
            seconds = self.limits[qid] - self.used.get(qid, 0.0)
            if seconds <= 0:
                return NOT_RUN.format(limit=self.limits[qid])
            reason = QUESTION_STOP.format(limit=self.limits[qid])
            self._running = (qid, time.monotonic())
        else:
            return None
        self._timer = threading.Timer(seconds, self._stop, (reason,))
        self._timer.daemon = True
        self._timer.start()
        return None

    def after(self):
        """Disarm the clock once a test (setup to teardown) is over; the next request may start a worker."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._running is not None:
            qid, started = self._running
            self.used[qid] = self.used.get(qid, 0.0) + time.monotonic() - started
            self._running = None
        self.fired = None
        if self.submission is not None:
            self.submission.resume()

    def stopped(self, message):
        """The failure message of a test its clock stopped: `message` where it says so (the call in
        flight reports what it was running), else the clock's reason. A test that retries what
        failed (hypothesis replays a failing example) would otherwise report its retry's error."""
        if self.fired is None or "was stopped" in message:
            return None
        return f"{STOPPED_LABEL} was stopped {self.fired}"

    def _stop(self, reason):
        self.fired = reason
        if self.submission is not None:
            self.submission.stop(reason)


def from_config(config):
    """The Deadlines a child run's options ask for."""
    budget = config.getoption("advice_budget")
    return Deadlines(parse_limits(config.getoption("question_limit")), config.getoption("advice"), budget,
                     config.getoption("advice_skip"))

