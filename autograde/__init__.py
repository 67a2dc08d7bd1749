"""autograde: grade a HW5 submission against the spec tests and the rubric."""
from pathlib import Path

import spec_tests
from spec_tests.oracles import reference_dir

SPEC_DIR = Path(spec_tests.__file__).resolve().parent      # the spec tests each question's child runs
REFERENCE_DIR = reference_dir()                             # the bundled reference solution
# The folder above this package: the source checkout (an editable install, or a clone on sys.path),
# or site-packages for an installed wheel. SOURCE_CHECKOUT says which: only tools for the project's
# developers (docs, Gradescope's zip) need the checkout.
PROJECT_DIR = Path(__file__).resolve().parents[1]
SOURCE_CHECKOUT = (PROJECT_DIR / "pyproject.toml").is_file()
