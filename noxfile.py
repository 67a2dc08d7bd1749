"""Developer sessions: `nox -s tests`, `nox -s known_wrong`, `nox -s grade`, `nox -s benchmark`, `nox -s lint`."""
import nox

nox.options.sessions = ["lint", "tests"]
nox.options.default_venv_backend = "venv"
PYTHON = "3.11"


@nox.session(python=PYTHON)
def tests(session):
    """The whole test suite: spec tests on the reference, known-wrong submissions, the CLI."""
    session.install("-e", ".[test,torch,cluster]")
    session.run("pytest", "-n", "2", *session.posargs)


@nox.session(python=PYTHON)
def known_wrong(session):
    """Every known-wrong submission graded on every question it could lose points on, the long ones
    included (the tests marked `full`; the default run leaves them out): after changing a bar or a training."""
    session.install("-e", ".[test,torch,cluster]")
    session.run("pytest", "-n", "2", "-m", "full", "tests/test_known_wrong.py", *session.posargs)


@nox.session(python=PYTHON)
def grade(session):
    """Grade a submission (default: the reference): nox -s grade -- path/to/submission --results r.json"""
    session.install("-e", ".")
    session.run("autograde", *session.posargs)


@nox.session(python=PYTHON)
def benchmark(session):
    """pytest-benchmark of the numpy network beside PyTorch on the CPU (installs torch)."""
    session.install("-e", ".[bench,cluster]")
    session.run("python", "-m", "pytest", "benchmarks", "-o", "addopts=", "-p", "no:cacheprovider",
                "--benchmark-columns=min,median,iqr,rounds", "--benchmark-sort=name", *session.posargs)


@nox.session(python=PYTHON)
def lint(session):
    session.install("ruff>=0.6")
    session.run("ruff", "check", ".")
