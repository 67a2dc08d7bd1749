"""What a question's test process reported, as data: each test's outcome and how the process ended."""
from dataclasses import dataclass, field

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
MAX_FIGURE_SIDE = 4000
NOT_RUN = "not run:"   # how the child's message for a check the grading chose not to run begins (--no-advice)


@dataclass(frozen=True)
class Figure:
    """A PNG the submission drew, read back from the child and checked: bytes plus a caption."""
    caption: str
    png: bytes


@dataclass(frozen=True)
class TestOutcome:
    name: str            # test function name (parametrised cases fold into one)
    passed: bool
    message: str = ""    # why it failed, student-facing
    title: str = ""
    skipped: bool = False  # the test skipped itself: the grader lacked something (data), not the code
    data: str = ""       # the data set the test used, when it says
    figures: tuple = ()  # Figure objects the test handed to the report
    findings: tuple = ()  # lines of text (the submission's numbers) for the report
    metrics: tuple = ()   # (name, value) numbers for a leaderboard
    notices: tuple = ()   # removed library APIs the submission used, run as their replacements


@dataclass
class QuestionRun:
    """What one child run reported: outcomes by test name, plus how the process ended."""
    outcomes: dict = field(default_factory=dict)
    returncode: int | None = None
    timed_out: bool = False
    started: bool = False   # at least one test phase was reported
    elapsed: float = 0.0
    output_tail: str = ""
    questions: tuple = ()   # the ids of the questions this run covered (several for a rubric group)
    peak_rss: int | None = None   # bytes: the most its process tree (tests, the submission's worker) held at once
    tests_seconds: float | None = None    # the tests' own time (setup, call, teardown); the rest of elapsed is start-up
    worker_seconds: float | None = None   # of which the submission's workers took to start (launch to first answer)

    @property
    def runner_failed(self):
        """pytest stopped with an error of its own (usage, collection, internal, no tests) before any test."""
        return not self.timed_out and self.returncode in (2, 3, 4, 5) and not self.started

    def ended_early_reason(self, timeout):
        """Why tests that did not report are missing, in words."""
        if self.timed_out:
            if len(self.questions) > 1:
                shared = ", ".join(f"Q{q}" for q in self.questions)
                return f"did not finish: the time limit of {timeout:g} s that {shared} share (one process) was reached"
            return f"did not finish: the question's time limit of {timeout:g} s was reached"
        if self.returncode is not None and self.returncode < 0:
            return f"did not finish: the test process was killed by signal {-self.returncode}"
        return f"did not finish: the test process ended early (exit code {self.returncode})"


def png_size(png):
    """(width, height) from a PNG's IHDR chunk when the bytes start like a sane PNG, else None."""
    if len(png) < 24 or not png.startswith(PNG_MAGIC) or png[12:16] != b"IHDR":
        return None
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    return (width, height) if 0 < width <= MAX_FIGURE_SIDE and 0 < height <= MAX_FIGURE_SIDE else None
