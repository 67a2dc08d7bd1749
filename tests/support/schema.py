"""Gradescope's results.json schema, as the grader's tests validate against it."""
import json

from autograde import PROJECT_DIR

GRADESCOPE_SCHEMA = json.loads((PROJECT_DIR / "autograde" / "gradescope_results.schema.json").read_text())
