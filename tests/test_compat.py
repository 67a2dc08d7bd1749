"""spec_tests/compat.py: removed numpy, SciPy and scikit-image APIs run as their exact replacements
for the submission's code only, each noted once; one without an exact replacement fails saying how
to fix it. Each case runs in a fresh interpreter, as the layer patches numpy for the process."""
import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from autograde import PROJECT_DIR
from spec_tests import compat

SUBMISSION = '''
import numpy as np
import skimage.filters, skimage.morphology, skimage.measure, skimage.restoration, skimage.io, skimage.color, skimage.feature
from skimage.measure import compare_psnr, label
import scipy.misc

def _shown(value):
    return value.__name__ if callable(value) else repr(value)


def run(page):
    found = {"aliases": [_shown(getattr(np, name)) for name in NAMES]}
    found["gaussian"] = skimage.filters.gaussian(page, sigma=1, multichannel=True).shape
    found["gaussian_gray"] = skimage.filters.gaussian(page[..., 0], sigma=1, multichannel=False).shape
    ink = skimage.color.rgb2grey(page) < 0.5
    found["closing"] = int(skimage.morphology.closing(ink, selem=skimage.morphology.square(3)).sum())
    found["label"] = [int(label(ink, neighbors=4).max()), int(label(ink, neighbors=8).max())]
    found["psnr"] = float(compare_psnr(page[..., 0] * 0.9, page[..., 0] * 0.9 + 0.01))
    found["tv"] = skimage.restoration.denoise_tv_chambolle(page[..., 0], n_iter_max=5).shape
    found["glcm"] = skimage.feature.greycomatrix((page[..., 0] * 7).astype(np.uint8), [1], [0], levels=8).shape
    found["small"] = int(skimage.morphology.remove_small_objects(ink.copy(), 3, in_place=True).sum())
    try:
        scipy.misc.imresize(page, (4, 4))
    except Exception as exc:
        found["imresize"] = f"{type(exc).__name__}: {exc}"
    return found
'''

CHILD = '''
import json, sys
sys.path.insert(0, {project!r})
from spec_tests import compat
if {install}:
    compat.install({folder!r})
sys.path.insert(0, {folder!r})
import numpy as np
page = np.random.default_rng(0).uniform(0, 1, (24, 24, 3))
try:
    import submission
    submission.NAMES = {names!r}
    found = submission.run(page)
except Exception as exc:
    found = {{"error": f"{{type(exc).__name__}}: {{exc}}"}}
found["library_sees"] = [hasattr(np, name) for name in {names!r}]
found["notes"] = compat.take_notes()
print(json.dumps(found))
'''


def _graded(tmp_path, install=True, names=tuple(compat.NUMPY)):
    folder = tmp_path / "sub"
    folder.mkdir(exist_ok=True)
    (folder / "submission.py").write_text(textwrap.dedent(SUBMISSION))
    code = CHILD.format(project=str(PROJECT_DIR), install=install, folder=str(folder), names=list(names))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_removed_apis_run_as_their_exact_replacements_each_noted_once(tmp_path):
    found = _graded(tmp_path)
    assert found["aliases"] == [value.__name__ if callable(value) else repr(value) for value, _, _ in compat.NUMPY.values()]
    assert found["gaussian"] == [24, 24, 3] and found["gaussian_gray"] == [24, 24]
    import skimage.measure
    import skimage.morphology
    ink = _page_ink()
    assert found["closing"] == int(skimage.morphology.closing(ink, skimage.morphology.square(3)).sum())
    assert found["label"] == [int(skimage.measure.label(ink, connectivity=c).max()) for c in (1, 2)]
    assert found["psnr"] == pytest.approx(40.0, abs=0.01) and found["tv"] == [24, 24] and found["glcm"] == [8, 8, 1, 1]
    with pytest.warns(FutureWarning):   # min_size= is deprecated in scikit-image 0.26, not removed: not translated
        assert found["small"] == int(skimage.morphology.remove_small_objects(ink.copy(), 3).sum())
    assert found["imresize"].startswith("RemovedAPI: `scipy.misc.imresize` was removed in SciPy 1.3") and \
        "skimage.transform.resize" in found["imresize"]
    notes = found["notes"]
    assert len(notes) == len(set(notes)) and "uses `np.float`, removed in NumPy 1.24: graded as `float`; change it" in notes
    for old in ("multichannel=` in `skimage.filters.gaussian", "selem=` in `skimage.morphology.closing",
                "neighbors=` in `skimage.measure.label", "skimage.measure.compare_psnr", "skimage.color.rgb2grey",
                "n_iter_max=` in `skimage.restoration.denoise_tv_chambolle", "skimage.feature.greycomatrix",
                "in_place=` in `skimage.morphology.remove_small_objects"):
        assert any(n.startswith(f"uses `{old}`") for n in notes), old
    assert "uses `multichannel=` in `skimage.filters.gaussian`, removed in scikit-image 0.20: graded as `channel_axis=-1`; change it" in notes


def test_libraries_see_numpy_as_it_is_and_the_layer_can_be_left_out(tmp_path):
    """A library's own hasattr(np, 'float') is unchanged (only the submission's files get removed
    names), and without the layer the submission's first removed API fails."""
    found = _graded(tmp_path)
    assert found["library_sees"] == [hasattr(np, name) for name in compat.NUMPY]
    off = _graded(tmp_path, install=False)
    assert off["error"].startswith("ImportError: cannot import name 'compare_psnr'") and off["notes"] == []


def _page_ink():
    import skimage.color
    return skimage.color.rgb2gray(np.random.default_rng(0).uniform(0, 1, (24, 24, 3))) < 0.5


def test_footprints_deprecated_in_scikit_image_survive_their_removal(tmp_path):
    """square, rectangle and cube (deprecated in 0.25, to go in 0.27), as a student builds footprints:
    once scikit-image drops them they are graded as footprint_rectangle (simulated by deleting them)."""
    folder = tmp_path / "sub"
    folder.mkdir()
    (folder / "submission.py").write_text("import skimage.morphology as m\n"
                                          "def run():\n    return [m.square(3).tolist(), m.rectangle(2, 3).shape, m.cube(2).shape]\n")
    code = (f"import sys, json\nsys.path.insert(0, {str(PROJECT_DIR)!r})\nfrom spec_tests import compat\n"
            f"compat.install({str(folder)!r})\nimport skimage.morphology as m\n"
            "for name in ('square', 'rectangle', 'cube'):\n    delattr(m, name)\n"
            f"sys.path.insert(0, {str(folder)!r})\nimport submission\n"
            "print(json.dumps([submission.run(), compat.take_notes()]))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    (square, rectangle, cube), notes = json.loads(proc.stdout)
    assert square == [[1] * 3] * 3 and rectangle == [2, 3] and cube == [2, 2, 2]
    assert "uses `skimage.morphology.square`, removed in scikit-image 0.27: graded as " \
           "`skimage.morphology.footprint_rectangle((w, w))`; change it" in notes
