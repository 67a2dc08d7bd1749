"""`autograde gradescope OUT_ZIP`: Gradescope's autograder.zip for this suite.

The zip holds Gradescope's two entry points at its root (setup.sh, run_autograder), the rubric
to grade by (its per-question `visibility` goes into results.json), the suite's source (setup.sh
installs it as a package) and the data grading needs, since Gradescope's machines cannot see
../shared: the handout's four images with their ground truth, and NIST36 (the handout's .mat
files where $HW5_DATA_DIR or --data-dir names them, else the nist36-lite cache). With torch=True
(Q7, extra credit) setup.sh also installs torch's CPU wheels, and the zip carries Q7's data: the
MNIST test set, emnist-lite, flowers17 (split 1, resized) and SqueezeNet 1.1's ImageNet weights.
"""
import re
import stat
import textwrap
import tomllib
import zipfile
from pathlib import Path

from autograde import PROJECT_DIR, SOURCE_CHECKOUT
from autograde.rubric import load_rubric
from hw5data.paths import nist36_dir, shared_data_dir

SUITE_PARTS = ("pyproject.toml", "README.md", "autograde", "spec_tests", "sandbox", "hw5data", "solution")
SKIPPED = ("__pycache__", ".pyc", ".egg-info")

SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image (it has a network then).
# The suite needs Python >= 3.11: Ubuntu 22.04's python3 is 3.10, so python3.11 comes from apt there.
set -euo pipefail
ROOT="${AUTOGRADER_ROOT:-/autograder}"
apt-get update -qq
# bubblewrap: the sandbox each submission's code runs in (without it, or where the container forbids
# user namespaces, grading falls back to a plain process and every report says so).
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap >/dev/null || true
PYTHON=python3
if ! python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3.11 python3.11-venv >/dev/null
    PYTHON=python3.11
else
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv python3-pip >/dev/null
fi
"$PYTHON" -m venv "$ROOT/venv"
"$ROOT/venv/bin/pip" install -q --upgrade pip
"$ROOT/venv/bin/pip" install -q "$ROOT/source/suite"
@TORCH@# The reference's reading of the handout's pages (its Q3 network, its findLetters boxes), which
# Q4.4 and Q7.1.4 compare with: made once here, not in every grading (docs/gradescope.md). Without
# it each grading makes it again, so a failure here costs time, not points.
(
@ENVIRONMENT@    "$ROOT/venv/bin/python" -m spec_tests.reference --warm @WARM@
) || echo "setup.sh: the reference's reading was not cached; each grading will make it"
"""

# What a grading reads: the data the zip holds, the cache beside it (setup.sh and run_autograder).
ENVIRONMENT = """export MPLBACKEND=Agg HW5_SHARED_DATA="$ROOT/source/data/shared" HW5_CACHE_DIR="$ROOT/source/data/cache"
if [ -d "$ROOT/source/data/nist36" ]; then export HW5_DATA_DIR="$ROOT/source/data/nist36"; fi
"""

# torch's CPU wheels, not the CUDA build: in a 768 MB cgroup the CUDA build's Q7.2.1 worker is
# OOM-killed (figures, with their date and machine, in docs/gradescope.md).
INSTALL_TORCH = """"$ROOT/venv/bin/pip" install -q 'torch>=2.9,<=2.14.1' 'torchvision>=0.24,<=0.29.1' \\
    --index-url https://download.pytorch.org/whl/cpu
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this for each submission: grade /autograder/submission into
# /autograder/results/results.json (written in every case; autograde's own exit status is in its
# output). Outside Gradescope: AUTOGRADER_ROOT replaces /autograder, AUTOGRADE the command, and
# HW5_AUTOGRADE_ARGS adds options (e.g. "--timeout 120").
set -uo pipefail
ROOT="${AUTOGRADER_ROOT:-/autograder}"
SOURCE="$ROOT/source"
@ENVIRONMENT@mkdir -p "$ROOT/results"
# shellcheck disable=SC2086  # AUTOGRADE and HW5_AUTOGRADE_ARGS may hold several words
${AUTOGRADE:-$ROOT/venv/bin/autograde} grade "$ROOT/submission" --rubric "$SOURCE/rubric.toml" \\
    --results "$ROOT/results/results.json" --report "$ROOT/results/report.md" @LEADERBOARD@${HW5_AUTOGRADE_ARGS:-}
exit 0
"""


def build_autograder_zip(out_zip, rubric_path, data_dir=None, leaderboard=False, torch=False, profile=None):
    """Write Gradescope's autograder.zip to out_zip.

    Inputs: the rubric TOML to grade by (validated here: a RubricError names its problem); data_dir:
            the handout's NIST36 folder (default $HW5_DATA_DIR; without one, nist36-lite is built or
            read from the cache and bundled); leaderboard: results.json gets the rubric's leaderboard
            entries (Q4.4's text accuracy) for Gradescope's leaderboard; torch: grade Q7 too (see above);
            profile: the rubric's profile to grade by (e.g. 'strict'), written into the zip's rubric.
    Returns: {'zip': Path, 'data': which NIST36 went in, 'bytes': the zip's size}.
    Raises FileNotFoundError when the handout images (Q4), or with torch Q7's data, are not here.
    """
    if not SOURCE_CHECKOUT:
        raise FileNotFoundError("autograde gradescope packs the suite's source: run it from a clone of the repository "
                                "(pip install -e .), not from an installed wheel")
    load_rubric(rubric_path, profile)
    rubric_text = Path(rubric_path).read_text(encoding="utf-8")
    if profile:  # a top-level key: it goes first, in place of the file's own
        if "profile" in tomllib.loads(rubric_text):
            rubric_text = re.sub(r"(?m)^profile\s*=.*\n", "", rubric_text, count=1)
        rubric_text = f'profile = "{profile}"   # written by autograde gradescope\n' + rubric_text
    images = shared_data_dir() / "images"
    if not (images / "ground_truth.json").is_file():
        raise FileNotFoundError(f"{images}: the handout's four images and ground_truth.json are needed for Q4 "
                                "(set HW5_SHARED_DATA to the folder that holds images/)")
    real = nist36_dir(data_dir)
    if real is not None:
        nist36, target, which = real, "data/nist36", f"the handout's NIST36 from {real}"
    else:
        # Imported here, not at the top: scikit-image would cost every `autograde` run 0.3 s.
        from hw5data import nist36_lite
        _, nist36 = nist36_lite.cached(seed=0)
        target, which = f"data/cache/{nist36.name}", f"nist36-lite ({nist36.name})"
    from spec_tests.pages import PAGES
    from spec_tests.photos import cached_photo_file
    extra = _torch_data() if torch else {}
    out_zip = Path(out_zip)
    out_zip.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out_zip, "w", zipfile.ZIP_DEFLATED) as archive:
        setup = SETUP_SH.replace("@TORCH@", INSTALL_TORCH if torch else "").replace("@WARM@", "--q7" if torch else "")
        _add_text(archive, "setup.sh", setup.replace("@ENVIRONMENT@", textwrap.indent(ENVIRONMENT, "    ")), executable=True)
        run = RUN_AUTOGRADER.replace("@LEADERBOARD@", "--leaderboard " if leaderboard else "")
        _add_text(archive, "run_autograder", run.replace("@ENVIRONMENT@", ENVIRONMENT), executable=True)
        _add_text(archive, "rubric.toml", rubric_text)
        for part in SUITE_PARTS:
            _add_tree(archive, PROJECT_DIR / part, f"suite/{part}")
        _add_tree(archive, images, "data/shared/images")
        _add_tree(archive, nist36, target)
        for name, source in extra.items():
            _add_tree(archive, source, name)
        for page in PAGES:   # Q4.2's phone photos, composed here once rather than in every grading
            photo = cached_photo_file(page)
            _add_tree(archive, photo, f"data/cache/composed-photos/{photo.name}")
    if torch:
        which += "; Q7: mnist-lite, emnist-lite, flowers17 and SqueezeNet's weights"
    return {"zip": out_zip, "data": which, "bytes": out_zip.stat().st_size}


def _torch_data():
    """{name in the zip: file or folder here} of what Q7's grading reads (built into the cache where
    it is not there yet). Raises FileNotFoundError naming what is missing."""
    from hw5data import emnist, flowers17, nist36_lite
    from spec_tests.q7 import FLOWER_SIDE, SHARED_WEIGHTS, squeezenet_weights
    shared = shared_data_dir()
    weights = squeezenet_weights()
    if weights is None:
        raise FileNotFoundError(f"no squeezenet1_1 ImageNet weights in {shared / SHARED_WEIGHTS} or "
                                "$HW5_SQUEEZENET_WEIGHTS: Q7.2.1's fine-tuning needs them")
    flowers = flowers17.cached(FLOWER_SIDE)
    emnist_folder = emnist.cached()[1]
    return {f"data/shared/{nist36_lite.MNIST_IMAGES}": shared / nist36_lite.MNIST_IMAGES,
            f"data/shared/{nist36_lite.MNIST_LABELS}": shared / nist36_lite.MNIST_LABELS,
            f"data/shared/{SHARED_WEIGHTS}": weights,
            f"data/cache/{emnist_folder.name}": emnist_folder, f"data/cache/{flowers.name}": flowers}


def _add_text(archive, name, text, executable=False):
    info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = ((0o755 if executable else 0o644) | stat.S_IFREG) << 16
    archive.writestr(info, text)


def _add_tree(archive, source, name):
    """Add a file, or a folder's files (sorted, caches skipped), under name in the archive."""
    files = [source] if source.is_file() else sorted(p for p in source.rglob("*") if p.is_file())
    for path in files:
        relative = path.relative_to(source) if source.is_dir() else None
        if relative is not None and any(skip in part for part in relative.parts for skip in SKIPPED):
            continue
        archive.write(path, f"{name}/{relative.as_posix()}" if relative is not None else name)
