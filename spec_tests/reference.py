"""The reference solution's half of the Q4.4 checks, computed in a separate Python process.

The reference's modules have the submission's names (nn, run_q3, q4, run_q4), so they never share
a process with it. `python -m spec_tests.reference IN OUT` is that process: IN is an .npz file the
test writes, OUT a folder it fills. It uses the same NIST36 data as the tests (real where
$HW5_DATA_DIR names it, else nist36-lite).

`python -m spec_tests.reference --warm [--seed N] [--q7]` fills the cache with what a grading of
Q4.4 (and Q7.1.4) asks of it, so that gradings find it there: Gradescope's setup.sh runs it once.
"""
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import NamedTuple

import numpy as np

from hw5data import nist36_lite
from hw5data.paths import cache_dir, nist36_dir
from spec_tests.oracles import reference_dir

EPOCHS = 30


class ReferenceReading(NamedTuple):
    params: dict    # the reference's trained 1024-64-36 network ('Wlayer1', 'blayer1', 'Woutput', 'boutput')
    bw: dict        # {page name: the reference findLetters' bw, (H, W) bool, ink False (as float: ink 0)}
    boxes: dict     # {page name: (the reference findLetters' boxes (N, 4), their reading order (N,))}
    texts: dict     # {page name: lines the reference reads from the submission's (bw, boxes)}


def reference_reading(seed, pages=None, found=None, params=None, timeout=300, network=True):
    """The reference network trained with `seed` (or `params`, a network it trained before; none
    with network=False), the reference findLetters' bw and boxes of `pages` ({name: uint8 image}),
    and, given found = {name: (bw (H, W)
    in [0, 1], or uint8 0-255, boxes (N, 4))}, the text of a submission's boxes read with the reference's crops,
    network and line grouping. Returns ReferenceReading; raises RuntimeError if the worker fails."""
    pages, found = pages or {}, found or {}
    cached = cache_path(seed, pages, network) if not found and not params else None
    if cached is not None and cached.is_file():
        try:
            return _read_out(cached, {})
        except (OSError, ValueError, KeyError):  # a damaged cache entry: compute it again
            cached.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="q4-reference-") as tmp:
        tmp = Path(tmp)
        arrays = {f"page:{name}": image for name, image in pages.items()}
        arrays.update({f"param:{key}": value for key, value in (params or {}).items()})
        for name, (bw, boxes) in found.items():
            arrays[f"bw:{name}"] = np.asarray(bw) if np.asarray(bw).dtype == np.uint8 else \
                np.round(np.clip(np.asarray(bw, dtype=np.float32), 0, 1) * 255).astype(np.uint8)
            arrays[f"boxes:{name}"] = np.asarray(boxes).reshape(-1, 4).astype(np.int64)
        np.savez(tmp / "in.npz", seed=seed, network=network, **arrays)
        try:
            done = subprocess.run([sys.executable, "-m", "spec_tests.reference", str(tmp / "in.npz"), str(tmp)],
                                  capture_output=True, text=True, timeout=timeout, cwd=Path(__file__).resolve().parents[1])
        except subprocess.TimeoutExpired as exc:
            raise RuntimeError(f"the reference solution's worker took over {timeout} s (a grader problem)") from exc
        if done.returncode != 0:
            raise RuntimeError(f"the reference solution's worker failed (a grader problem):\n{done.stderr[-2000:]}")
        reading = _read_out(tmp / "out.npz", json.loads((tmp / "texts.json").read_text()))
        if cached is not None:  # written whole, then renamed: a process reading it never sees half a file
            cached.parent.mkdir(parents=True, exist_ok=True)
            partial = cached.with_suffix(f".{os.getpid()}.part")
            shutil.copyfile(tmp / "out.npz", partial)
            partial.replace(cached)
    return reading


def q4_reading(seed, pages):
    """Q4.4's reference reading: the network trained with the grading `seed` and findLetters' bw and
    boxes of `pages` ({name: uint8 image}). Returns ReferenceReading (cached)."""
    return reference_reading(seed, pages=pages)


def q7_boxes(pages):
    """Q7.1.4's reference boxes: findLetters' bw and boxes of `pages`, no network. Returns
    ReferenceReading (cached)."""
    return reference_reading(0, pages=pages, network=False)


def warm_cache(seed=0, q7=False):
    """Make the cache entries that a grading of Q4.4 (and, with q7, of Q7.1.4) reads: the two calls
    above on the handout's four pages. Returns the cache files."""
    from spec_tests.pages import PAGES, load_page
    pages = {name: load_page(name)[0] for name in PAGES}
    q4_reading(seed, pages)
    paths = [cache_path(seed, pages, True)]
    if q7:
        q7_boxes(pages)
        paths.append(cache_path(0, pages, False))
    return paths


def _read_out(path, texts):
    with np.load(path) as out:
        params = {key.split(":", 1)[1]: out[key] for key in out.files if key.startswith("param:")}
        bw = {key.split(":", 1)[1]: np.unpackbits(out[key], count=int(np.prod(out[f"shape:{key[3:]}"])))
              .reshape(out[f"shape:{key[3:]}"]).astype(bool) for key in out.files if key.startswith("bw:")}
        boxes = {key[6:]: (out[key], out[f"order:{key[6:]}"]) for key in out.files if key.startswith("boxes:")}
    return ReferenceReading(params, bw, boxes, texts)


def cache_path(seed, pages, network):
    """Where the reference's network and findLetters output for these inputs is cached: it depends
    on nothing of the submission's, only on the seed, the pages, the reference's code and the NIST36
    data (and numpy), so grading many submissions computes it once (about 9 s of Q4.4's work)."""
    digest = hashlib.sha256(repr((seed, bool(network), np.__version__, nist36_dir() and str(nist36_dir()),
                                  nist36_lite.VERSION)).encode())
    for path in sorted(reference_dir().glob("*.py")):
        digest.update(path.read_bytes())
    for name in sorted(pages):
        digest.update(name.encode() + np.ascontiguousarray(pages[name]).tobytes())
    return cache_dir() / "reference-reading" / f"{digest.hexdigest()[:32]}.npz"


def _work(in_path, out_dir):
    sys.path.insert(0, str(reference_dir()))
    import run_q3
    import run_q4
    from q4 import findLetters

    from hw5data.choose import nist36_data
    inputs = np.load(in_path)
    params = {key.split(":", 1)[1]: inputs[key] for key in inputs.files if key.startswith("param:")}
    if not params and bool(inputs["network"]):
        (x, y), (vx, vy) = (data := nist36_data(seed=0)).splits["train"], data.splits["valid"]
        np.random.seed(int(inputs["seed"]))
        params, _ = run_q3.train_nist36(x, y, vx, vy, epochs=EPOCHS)
    out = {f"param:{k}": params[k] for k in ("Wlayer1", "blayer1", "Woutput", "boutput") if k in params}
    texts = {}
    for key in inputs.files:
        kind, _, name = key.partition(":")
        if kind == "page":
            boxes, bw = findLetters(inputs[key])
            bw = bw < 0.5
            out[f"bw:{name}"], out[f"shape:{name}"] = np.packbits(~bw), np.array(bw.shape)
            out[f"boxes:{name}"] = np.asarray(boxes).reshape(-1, 4).astype(np.int64)
            out[f"order:{name}"] = np.array([i for line in run_q4.group_lines(boxes) for i in line], dtype=np.int64)
        elif kind == "bw":
            bw, boxes = inputs[key] / 255.0, inputs[f"boxes:{name}"]
            rows = run_q4.to_nist_rows(bw, boxes)
            labels = [run_q3.CLASS_NAMES[k] for k in run_q3.predict(params, rows)] if len(boxes) else []
            texts[name] = run_q4.lines_text(boxes, run_q4.group_lines(boxes), labels)
    np.savez(Path(out_dir) / "out.npz", **out)
    (Path(out_dir) / "texts.json").write_text(json.dumps(texts))


if __name__ == "__main__":
    if sys.argv[1:2] == ["--warm"]:
        import argparse
        parser = argparse.ArgumentParser(prog="python -m spec_tests.reference --warm",
                                         description="cache the reference's reading of the handout's pages for gradings")
        parser.add_argument("--seed", type=int, default=0, help="the grading seed (default 0, autograde's)")
        parser.add_argument("--q7", action="store_true", help="Q7.1.4's boxes too")
        options = parser.parse_args(sys.argv[2:])
        for path in warm_cache(options.seed, options.q7):
            print(f"cached {path}")
    else:
        _work(sys.argv[1], sys.argv[2])
