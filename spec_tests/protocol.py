"""Every name that crosses a process boundary in a grading, declared once.

    autograde (grader) --options, environment--> pytest child (spec tests) --requests--> sandboxed worker
    autograde (grader) <--report log: user properties, figure files-- pytest child

The grader writes the child's command line and environment from here (autograde/child.py), the
pytest plugin reads them from here (spec_tests/plugin.py), and the report-log reader in the grader
reads the child's user properties by these names (autograde/report_log.py). The worker's own
requests belong to the sandbox package (sandbox/worker.py).
"""
import os
import re

from sandbox.launch import THREAD_VARIABLES  # noqa: F401  (the grader caps them; the worker inherits them)

# --- grader -> child: pytest options (spec_tests/plugin.py defines them) ----------------------------
SUBMISSION_OPTION = "--submission"      # the folder graded (default: the bundled reference)
SEED_OPTION = "--grading-seed"          # the base seed of every random draw
QUESTION_OPTION = "--question"          # run only this question's tests (repeatable)
FIGURES_OPTION = "--figures-dir"        # where the figures the submission draws are copied
QUESTION_LIMIT_OPTION = "--question-limit"   # QID=SECONDS: that question's own limit inside a child that runs several
ADVICE_OPTION = "--advice"              # a test that carries no points: it runs last, under the advice budget (repeatable)
ADVICE_BUDGET_OPTION = "--advice-budget"   # seconds each advice test may take (0: they are not run)
ADVICE_SKIP_OPTION = "--advice-skip"     # an advice test this grading does not run (repeatable; --no-advice skips all)
ADVICE_OFF = "not run: this advice check (no points) was switched off for this grading"

# --- grader -> child: environment ----------------------------------------------------------------
SANDBOX_VARIABLE = "HW5_SANDBOX"            # bwrap | none | auto (default: bwrap where it runs)
MEMORY_VARIABLE = "HW5_WORKER_MEMORY_MB"    # the worker's address-space cap, MB
CPU_VARIABLE = "HW5_WORKER_CPU_SECONDS"     # the worker's CPU-time cap, seconds (default: none)
COMPAT_VARIABLE = "HW5_COMPAT"              # "0": removed library APIs are not run as their replacements
# --- autograde batch -> autograde grade ----------------------------------------------------------
CPUS_VARIABLE = "HW5_CPUS"                  # cores one grading may use when it shares the machine

DEFAULT_MEMORY_MB = 4096

# --- child -> grader: user properties of each test in the report log ---------------------------------
QUESTION_PROPERTY = "question"    # the handout question the test grades, e.g. "2.2.1"
TITLE_PROPERTY = "title"          # the first line of the test's docstring
FIGURE_PROPERTY = "figure"        # [file name in --figures-dir, caption]
FINDING_PROPERTY = "finding"      # a line of the submission's numbers, for a person
METRIC_PROPERTY = "metric"        # [name, number] for a leaderboard
NOTICE_PROPERTY = "notice"        # a removed library API the submission used, run as its replacement
DATA_PROPERTY = "data"            # the data set the test used
WORKER_START_PROPERTY = "worker_start"   # seconds a submission worker this test started took to answer first
FIGURE_NAME = re.compile(r"[A-Za-z0-9_]{1,80}-[0-9]{1,3}\.png")   # the only figure file names the grader reads

# --- child -> worker: what the worker loads before the submission's folder joins sys.path ------------
# A submission that ships pytest.py, scipy.py or spec_tests.py then shadows only its own imports.
WORKER_PRELOAD = ("pytest", "scipy.special", "spec_tests.gradcheck", "spec_tests.torch_probes", "spec_tests.submission",
                  "spec_tests.compat")
COMPAT_SETUP = "spec_tests.compat:install"   # the worker's set-up when the compatibility layer is on


def figure_file_name(test_name, number):
    """The file name a test's number-th figure gets in --figures-dir (matches FIGURE_NAME)."""
    return f"{re.sub(r'[^A-Za-z0-9_]+', '_', test_name)[:80]}-{number}.png"


def worker_settings(environ=os.environ):
    """(sandbox mode, memory MB, CPU seconds or None, compat on) from the environment the grader set."""
    cpu = environ.get(CPU_VARIABLE)
    return (environ.get(SANDBOX_VARIABLE, "auto").strip().lower() or "auto",
            int(environ.get(MEMORY_VARIABLE) or DEFAULT_MEMORY_MB),
            int(float(cpu)) if cpu else None,
            environ.get(COMPAT_VARIABLE, "1") != "0")
