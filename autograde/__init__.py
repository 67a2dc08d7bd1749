"""autograde: grade a HW5 submission against the spec tests and the rubric."""
from pathlib import Path

import spec_tests
from spec_tests.oracles import reference_dir

SPEC_DIR = Path(spec_tests.__file__).resolve().parent      # the spec tests each question's child runs
REFERENCE_DIR = reference_dir()                             # the bundled reference solution
# The source checkout this package runs from (an editable install, or a clone on sys.path), or None
# for an installed wheel: only tools for the project's developers (docs, Gradescope's zip) need it.
PROJECT_DIR = Path(__file__).resolve().parents[1]
SOURCE_CHECKOUT = (PROJECT_DIR / "pyproject.toml").is_file()
