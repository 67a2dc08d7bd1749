"""autograde: grade a HW5 submission against the spec tests and the rubric."""
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[1]
SPEC_DIR = PROJECT_DIR / "spec_tests"
REFERENCE_DIR = PROJECT_DIR / "solution"
