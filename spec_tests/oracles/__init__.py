"""What the spec tests judge answers against, and what a submission's worker must never see: the
ground truth of the handout's pages, and the bundled reference solution (Q4.4 reads the pages
with the reference's network). The sandbox hides both folders (spec_tests/submission.py)."""
from pathlib import Path

ORACLES_DIR = Path(__file__).resolve().parent
Q4_BOXES = ORACLES_DIR / "q4_ground_truth_boxes.json"   # 246 boxes on the handout's four pages, checked by eye


def reference_dir():
    """The bundled reference solution's folder: the installed package hw5_solution (a wheel's copy,
    or the checkout's solution/ in an editable install), else solution/ beside spec_tests/ (a source
    tree on PYTHONPATH, as in Gradescope's unpacked suite)."""
    try:
        import hw5_solution
    except ModuleNotFoundError:
        return ORACLES_DIR.parents[1] / "solution"
    return Path(hw5_solution.__file__).resolve().parent
