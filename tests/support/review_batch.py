"""A realistic graded batch folder (what `autograde batch --out GRADED_DIR` leaves), built in seconds
without running any submission: the review app's tests and benchmark grade on top of it.

    python -m tests.support.review_batch OUT_DIR [N]     # write one out, e.g. to look at the app

Each submission's grading is made the real way: a QuestionRun of TestOutcome objects per rubric
question (or group), scored by `scoring.assemble`, written by `record.write_record` and
`GradingResults.to_gradescope`, so `record.rescore` reproduces its results.json. What varies, from
the seed: which checks fail (with a message), a crashed or timed-out question now and then, the
figures (a few distinct PNGs, reused), a writeup.pdf in most (one page per manual question, headed
"Q3.1.2", in one of a few page orders). The folder also gets the reference's grading
(.reference/), a similarity.json with pairs above the threshold, and gradebook.csv.
"""
import io
import json
import os
import random
import sys
import tempfile
import zlib
from functools import cache
from pathlib import Path

from autograde.course.gradebook import RESULTS, write_gradebook
from autograde.outcomes import Figure, QuestionRun, TestOutcome
from autograde.record import RECORD, write_record
from autograde.results import GradingResults, library_versions
from autograde.rubric import load_rubric
from autograde.scoring import assemble

REFERENCE = ".reference"
SIMILARITY = "similarity.json"
WRITEUP = "writeup.pdf"
ODD_NAME = "d'arcy_&_<b>sons_3001_99999_python"   # HTML and quotes in a folder name ("/" cannot be in one)
FIRST_NAMES = ("alice", "bob", "chen", "dara", "emeka", "fatima", "goran", "hana", "ivan", "jun", "kofi", "lena",
               "mateo", "nadia", "omar", "priya", "quinn", "rosa", "sven", "tariq", "uma", "vera", "wen", "yusuf")
FAILURES = ("expected {a:.4g}, got {b:.4g} (relative error {e:.1e} > 1e-06)",
            "expected an array of shape (64, 36), got (36, 64)",
            "returned None; the handout asks for a value",
            "raised ValueError: operands could not be broadcast together with shapes (32,64) (36,)")
HOSTILE_MESSAGE = "got <img src=x onerror=alert('message')> & <script>alert('script')</script>"
PAGE_ORDERS = 3      # distinct writeups: the manual questions' pages in this many orders


def make_graded_batch(folder, n, *, seed=0, writeups=True, reference=True, similarity=True):
    """Write n graded submissions into folder (created), with .reference/ (reference=True),
    similarity.json (similarity=True) and writeup.pdf in about 4 of 5 (writeups=True); then
    gradebook.csv. Same seed, same folder. Returns the folder's Path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rubric = load_rubric()
    versions = library_versions()
    names = submission_names(n, seed)
    for index, name in enumerate(names):
        rng = random.Random(f"{seed}:{index}")
        target = folder / name
        target.mkdir(exist_ok=True)
        odd = name == ODD_NAME   # crashed, HTML in its messages, in a similar pair: on every page that escapes
        results = _grading(rubric, f"SUBMISSIONS/{name}", rng, versions, crash=odd or rng.random() < 0.04,
                           pass_rate=0.3 if odd else None, html=odd)
        write_record(results, target / RECORD)
        _write_json(target / RESULTS, results.to_gradescope())
        if writeups and rng.random() < 0.8:
            (target / WRITEUP).write_bytes(writeup_pdf(writeup_order(name)))
    if reference:
        results = _grading(rubric, "solution", random.Random(f"{seed}:reference"), versions, crash=False,
                           pass_rate=1.0)
        write_record(results, folder / REFERENCE / RECORD)
    if similarity and len(names) >= 4:
        _write_json(folder / SIMILARITY, similarity_pairs(names, random.Random(f"{seed}:similarity")))
    write_gradebook(folder)
    return folder


def submission_names(n, seed=0):
    """n distinct Canvas-style folder names ('alice_1042_88001_python'), ODD_NAME among them (n > 2)."""
    rng = random.Random(f"{seed}:names")
    names = []
    for i in range(n):
        first = FIRST_NAMES[i % len(FIRST_NAMES)]
        names.append(f"{first}_{1000 + i}_{rng.randrange(10_000, 99_999)}_python")
    if n > 2:
        names[n // 2] = ODD_NAME
    return names


def manual_questions(rubric=None):
    """The ids of the rubric's questions a person grades (kind manual), in rubric order."""
    return [q.id for q in (rubric or load_rubric()).questions if q.kind == "manual"]


def _grading(rubric, submission, rng, versions, *, crash, pass_rate=None, html=False):
    """GradingResults for one made-up submission: every runnable question (a group once) run."""
    results = GradingResults(submission, rubric, seed=0, versions=versions, sandbox="bwrap")
    results.elapsed = round(rng.uniform(40, 400), 3)
    units = {}
    for q in rubric.questions:
        if q.test_names:
            units.setdefault(q.group or q.id, []).append(q)
    crashed = rng.choice(list(units)) if crash else None
    runs, limits = {}, {}
    for key, members in units.items():
        limit = sum(q.timeout for q in members)
        run = _run(members, rng, pass_rate if pass_rate is not None else rng.uniform(0.55, 0.98),
                   crashed=key == crashed, limit=limit, html=html)
        for q in members:
            runs[q.id], limits[q.id] = run, limit
    assemble(results, list(rubric.questions), runs, limits)
    return results


def _run(members, rng, pass_rate, *, crashed, limit, html=False):
    """One child process's QuestionRun for a question or a rubric group; crashed: killed or timed
    out part-way, so its later tests never reported."""
    names = [name for q in members for name in q.test_names]
    reported = names[:rng.randrange(len(names))] if crashed else names
    outcomes = {}
    for name in reported:
        passed = rng.random() < pass_rate
        failure = HOSTILE_MESSAGE if html else rng.choice(FAILURES).format(
            a=rng.uniform(0, 2), b=rng.uniform(0, 2), e=rng.uniform(1e-5, 1))
        message = "" if passed else f"{failure}\n(seed 0; see the report for the inputs used)"
        outcomes[name] = TestOutcome(name, passed, message, title=_title(name), figures=_figures_for(name, rng),
                                     findings=(f"{name.split('_')[1]}: {rng.uniform(0, 1):.3f}",) if passed else ())
    timed_out = crashed and rng.random() < 0.5
    returncode = None if timed_out else (-9 if crashed else (0 if all(o.passed for o in outcomes.values()) else 1))
    elapsed = limit if timed_out else round(rng.uniform(1, limit / 2), 3)
    return QuestionRun(outcomes, returncode, timed_out, True, elapsed, "" if not crashed else "Killed\n",
                       tuple(q.id for q in members), rng.randrange(200, 900) << 20)


def _title(name):
    words = name.removeprefix("test_").replace("_", " ")
    return words[:1].upper() + words[1:]


def _figures_for(name, rng):
    """Figures for a test that draws some (by its name), picked from the shared PNGs."""
    if not any(word in name for word in ("figure", "plot", "image", "reconstruction", "boxes")):
        return ()
    count = 2 if "two" in name else 1
    pngs = sample_pngs()
    return tuple(Figure(f"{_title(name)} ({i + 1})", pngs[rng.randrange(len(pngs))]) for i in range(count))


@cache
def sample_pngs():
    """A handful of distinct small PNG plots (bytes), drawn once per process."""
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib.figure import Figure as MplFigure
    pngs = []
    for k in range(6):
        figure = MplFigure(figsize=(3.2, 2.4), dpi=80)
        axes = figure.add_subplot()
        for rate in (1, 10, 0.1):
            xs = range(30)
            axes.plot(xs, [1 - 0.9 * (1 - 1 / (1 + rate * (k + 1) * x / 30)) for x in xs], label=f"lr x{rate:g}")
        axes.set_title(f"sample figure {k + 1}")
        axes.legend(fontsize=6)
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
        pngs.append(buffer.getvalue())
    return tuple(pngs)


@cache
def writeup_pdf(order=0):
    """A text PDF with one page per manual question (heading "Q3.1.2" etc.) in the order-th of
    PAGE_ORDERS orders, after a title page; pdf.fonttype 42 keeps its text extractable."""
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib.backends.backend_pdf import PdfPages
    from matplotlib.figure import Figure as MplFigure
    qids = _page_order(order)
    buffer = io.BytesIO()
    with matplotlib.rc_context({"pdf.fonttype": 42}), PdfPages(buffer) as pdf:
        for heading, body in [("HW5 write-up", "Title page"), *((f"Q{q}", f"My answer to question {q}.") for q in qids)]:
            page = MplFigure(figsize=(8.5, 11))
            page.text(0.1, 0.9, heading, fontsize=24)
            page.text(0.1, 0.8, body, fontsize=12)
            pdf.savefig(page)
    return buffer.getvalue()


def writeup_order(name):
    """Which of the PAGE_ORDERS page orders the submission name's writeup.pdf has."""
    return zlib.crc32(name.encode()) % PAGE_ORDERS


def writeup_page(name, qid):
    """The 1-based page of the submission name's writeup.pdf that answers qid."""
    return 2 + _page_order(writeup_order(name)).index(qid)


def _page_order(order):
    qids = manual_questions()
    if order:
        random.Random(order).shuffle(qids)
    return qids


def similarity_pairs(names, rng):
    """`autograde similarity --json`'s list: two pairs above its threshold, most alike first (ODD_NAME
    in the first)."""
    from autograde.course.similarity import Pair, Region
    a, b = sorted([ODD_NAME if ODD_NAME in names else names[0], rng.choice([n for n in names if n != ODD_NAME])])
    c, d = sorted(rng.sample([n for n in names if n not in (a, b)], 2))
    pairs = [Pair(a, b, 0.91, 0.93, 0.89, 412, 2400, 2300, 2200, 2050,
                  matches=[Region("nn.py", (10, 80), "nn.py", (12, 85), 140)]),
             Pair(c, d, 0.44, 0.40, 0.49, 120, 2600, 2100, 1040, 1030,
                  matches=[Region("run_q3.py", (1, 30), "train.py", (5, 36), 60)])]
    return [p.to_json() for p in pairs]


def _write_json(path, data):
    fd, partial = tempfile.mkstemp(prefix=".json-", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2, ensure_ascii=False)
    os.replace(partial, path)


if __name__ == "__main__":
    out = make_graded_batch(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 240)
    print(f"graded batch written to {out}")
