"""`autograde similarity DIR [--json OUT] [--report OUT.html]`: pairs of submissions whose code is
suspiciously alike.

Each submission (a folder or a .zip in DIR, `batch.submissions_in`) is read as text only: nothing of
it is imported or run. Its code is every `*.py` file under its module folder (the shallowest folder
holding nn.py, `intake.opened_submission`, whose caps guard the unpacking of zips), except util.py,
which the handout gives out whole. A file over MAX_FILE_BYTES, one that is not UTF-8 and one
reached through a symbolic link are left out with a notice.

Method (docs/similarity.md): each file is cut into tokens with Python's `tokenize` (a rough
regular-expression lexer where tokenize refuses the text); comments, docstrings (a string standing
alone as a statement) and layout are dropped, and every name is written as `V`, every number as
`N`, every string as `S`, so renaming variables, rewriting comments and reformatting change
nothing. Keywords, operators, builtins (len, range, ...) and attribute names (`.sum`,
`np.random.permutation`, ...) stay as they are. The token stream is cut into segments at each
def, class and decorator (and where module-level code resumes after a block), so no k-gram spans
two functions and putting functions in another order changes no fingerprint. Every run of K
consecutive tokens of a segment is hashed (a stable hash: the same code gives the same
fingerprints in every run), and winnowing keeps the smallest hash of every WINDOW consecutive ones:
any run of K + WINDOW - 1 tokens that two submissions share gives them a common fingerprint. A
submission's fingerprints are the union over its files, so a function moved to another file still
matches. Fingerprints of the starter kit (written by `starter.write_starter`) are boilerplate and
dropped, and so is any fingerprint found in more than COMMON of the submissions (and in at least
3): code that most of the class writes alike is no evidence.

A pair's score is the Dice coefficient of the two sets of fingerprints: 2 |A & B| / (|A| + |B|),
in [0, 1]. It is symmetric, so a submission that is the starter kit plus a few lines never looks
like everyone's; a_share and b_share (|A & B| / |A|, / |B|) say how much of each side the other
holds. Scores for all pairs come from one sparse matrix product (submissions x fingerprints), a
fraction of a second for 400 submissions; the matched regions (runs of shared fingerprints at the
same offset in a file of each), their lines and the per-file breakdown are worked out for the
pairs listed only. Reading and tokenising dominate the time (about 55 ms a full submission, on
`jobs` processes).

Why not the copydetect library (0.5.0, which the venv has)? Its tokeniser and winnowing do much of
the above, but, measured on this project's fixtures:
  * its k-gram hash is Python's `hash()` of a string, salted per process, so winnowing keeps other
    fingerprints in every run: the same independent pair (alice ~ frank) scored 0.16 to 0.22
    depending on PYTHONHASHSEED;
  * CopyDetector compares every file with every file in a Python loop into dense
    files x files x 2 matrices and scores files, not submissions: 40 full submissions (640 files)
    took 11.8 s against 2.2 s here, and it grows with the square of the files (400 submissions:
    about 100 times that, and a 650 MB matrix);
  * its HTML report loads Bootstrap from a CDN (not self-contained), its module imports
    matplotlib.pyplot and tqdm, and it is not a declared dependency of this project;
  * it works on characters of the filtered text (keywords and names run together: `returnV`),
    and one entry of its offset table is wrong after a class name, which shifts highlights.
So this module is written on the standard library, numpy and scipy (dependencies already).
"""
import builtins
import html
import io
import json
import keyword
import multiprocessing
import os
import re
import sys
import tempfile
import threading
import time
import tokenize
import zlib
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from functools import cache
from itertools import pairwise
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table
from rich.text import Text

from autograde.course.batch import name_of, submissions_in
from autograde.intake import SubmissionError, opened_submission
from autograde.starter import write_starter

K = 12                  # tokens in a k-gram
WINDOW = 8              # winnowing window: a shared run of K + WINDOW - 1 tokens is always found
COMMON = 0.5            # a fingerprint in more than this fraction of the submissions is common knowledge
DEFAULT_THRESHOLD = 0.3
DEFAULT_TOP = 10
MAX_FILE_BYTES = 1 << 20
MAX_FILES = 200         # .py files read per submission
GIVEN = frozenset({"util.py"})      # handed out whole by the handout
SKIPPED_DIRS = frozenset({"__pycache__", "__MACOSX", "site-packages", "node_modules", "venv", "env"})
POSITIONS_KEPT = 4      # occurrences of one fingerprint per side used to find regions
REGION_GAP = 4 * K      # shared fingerprints at the same offset this close are one region

_BUILTINS = frozenset(dir(builtins)) - {"__doc__", "__name__", "__spec__", "__loader__", "__package__"}
_SKIP = {tokenize.COMMENT, tokenize.NL, tokenize.INDENT, tokenize.DEDENT, tokenize.ENCODING, tokenize.ENDMARKER}
_FSTRING_START = getattr(tokenize, "FSTRING_START", None)   # Python 3.12+: f-strings come in parts
_FSTRING_END = getattr(tokenize, "FSTRING_END", None)


@dataclass
class Region:
    """A run of shared fingerprints at the same offset in both files: lines are 1-based, inclusive."""
    a_file: str
    a_lines: tuple
    b_file: str
    b_lines: tuple
    fingerprints: int
    a_span: tuple = field(default=(0, 0), repr=False)   # character offsets in the files' text
    b_span: tuple = field(default=(0, 0), repr=False)

    def to_json(self):
        return {"a_file": self.a_file, "a_lines": list(self.a_lines), "b_file": self.b_file,
                "b_lines": list(self.b_lines), "fingerprints": self.fingerprints}


@dataclass
class FileMatch:
    """What one file of A shares with one file of B: the tokens of each covered by their shared
    fingerprints, and the regions shown."""
    a_file: str
    b_file: str
    a_tokens: int
    b_tokens: int
    regions: int

    def to_json(self):
        return {"a_file": self.a_file, "b_file": self.b_file, "a_tokens": self.a_tokens,
                "b_tokens": self.b_tokens, "regions": self.regions}


@dataclass
class Pair:
    """Two submissions and how alike their code is (a < b by name)."""
    a: str
    b: str
    score: float                 # Dice coefficient of the fingerprint sets, 0..1
    a_share: float               # fraction of A's fingerprints found in B
    b_share: float
    shared_fingerprints: int
    a_tokens: int = 0            # A's tokens that count (not boilerplate, not common)
    b_tokens: int = 0
    a_matched_tokens: int = 0    # of those, covered by a fingerprint that B has too
    b_matched_tokens: int = 0
    files: list = field(default_factory=list)      # FileMatch, most tokens first
    matches: list = field(default_factory=list)    # Region, largest first
    sources: tuple = field(default=None, repr=False, compare=False)   # the two Submissions (texts), for the report

    @property
    def regions(self):
        return len(self.matches)

    def to_json(self):
        return {"a": self.a, "b": self.b, "score": round(self.score, 4), "a_share": round(self.a_share, 4),
                "b_share": round(self.b_share, 4), "shared_fingerprints": self.shared_fingerprints,
                "regions": self.regions, "a_tokens": self.a_tokens, "b_tokens": self.b_tokens,
                "a_matched_tokens": self.a_matched_tokens, "b_matched_tokens": self.b_matched_tokens,
                "files": [f.to_json() for f in self.files], "matches": [m.to_json() for m in self.matches]}


@dataclass
class SourceFile:
    """One .py file of a submission: its text, each token's character span, its fingerprints."""
    path: str                    # relative to the module folder, with /
    text: str
    spans: np.ndarray = field(repr=False)          # (tokens, 2) int32: start and end offset of each token
    hashes: np.ndarray = field(repr=False)         # uint64: the winnowed k-grams' hashes
    positions: np.ndarray = field(repr=False)      # int32: ... and the token each starts at
    line_starts: np.ndarray = field(repr=False)

    def line_of(self, offset):
        return int(np.searchsorted(self.line_starts, offset, side="right"))


@dataclass
class Submission:
    """A submission's files and its fingerprints (boilerplate left out), one entry per occurrence."""
    name: str
    files: list = field(default_factory=list)
    hashes: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.uint64), repr=False)
    file_index: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int32), repr=False)
    positions: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int32), repr=False)
    notices: list = field(default_factory=list)


# ---------------------------------------------------------------- tokens and fingerprints

def normalised_tokens(text):
    """(tokens, spans, segments, problem): the normalised tokens of Python source text, each
    token's (start, end) character offsets, the token indices where segments begin (a segment ends
    before each def, class or decorator and where module-level code resumes after a block, so that
    no k-gram spans two functions and reordering them changes no fingerprint), and None or why the
    text was cut with the rough lexer (text that `tokenize` refuses, e.g. a stray indent, is
    still compared)."""
    starts = [0] + [m.end() for m in re.finditer("\n", text)]
    raw = []
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            raw.append(tok)
    except (tokenize.TokenError, SyntaxError) as exc:
        where = exc.args[1] if len(exc.args) > 1 else None
        line = getattr(exc, "lineno", None) or (where[0] if isinstance(where, tuple) and where else "?")
        return (*_rough_tokens(text), f"not valid Python near line {line}: compared with a rough lexer")
    items = []          # [kind, text, start, end], f-strings folded into one STRING, BREAK between segments
    depth = level = 0
    statement = _Statements(items)
    for tok in raw:
        if tok.type == tokenize.INDENT:
            level += 1
        elif tok.type == tokenize.DEDENT:
            level -= 1
        if tok.type in _SKIP:
            continue
        start = starts[tok.start[0] - 1] + tok.start[1] if tok.start[0] - 1 < len(starts) else len(text)
        end = starts[tok.end[0] - 1] + tok.end[1] if tok.end[0] - 1 < len(starts) else len(text)
        if depth:
            items[-1][3] = end
            depth += (tok.type == _FSTRING_START) - (tok.type == _FSTRING_END)
            continue
        kind = {tokenize.NAME: "NAME", tokenize.NUMBER: "NUMBER", tokenize.STRING: "STRING",
                tokenize.NEWLINE: "NEWLINE", tokenize.OP: "OP"}.get(tok.type, "OTHER")
        if _FSTRING_START is not None and tok.type == _FSTRING_START:
            kind, depth = "STRING", 1
        elif kind == "OTHER" and not tok.string.strip():
            continue
        statement.token(kind, tok.string, start, end, level)
    return (*_normalise(items), None)


class _Statements:
    """Appends tokens to items, with a BREAK before each statement that opens a segment."""

    def __init__(self, items):
        self.items, self.at_start, self.decorated, self.level = items, True, False, 0

    def token(self, kind, text, start, end, level):
        if kind == "NEWLINE":
            self.at_start = True
        elif self.at_start:
            self.at_start = False
            opens = (kind == "NAME" and text in ("def", "class", "async")) or (kind == "OP" and text == "@")
            if (opens and not self.decorated) or (level == 0 and self.level > 0):
                self.items.append(["BREAK", "", start, start])
            self.decorated, self.level = text == "@", level
        self.items.append([kind, text, start, end])


_ROUGH = re.compile(r'''
    (?P<comment>\#[^\n]*)
  | (?P<string>[rRbBuUfF]{0,2}(?:"""[\s\S]*?(?:"""|\Z)|\'\'\'[\s\S]*?(?:\'\'\'|\Z)|"(?:\\.|[^"\\\n])*"?|'(?:\\.|[^'\\\n])*'?))
  | (?P<number>\d[\w.]*|\.\d\w*)
  | (?P<name>[^\W\d]\w*)
  | (?P<newline>\n)
  | (?P<space>[ \t\f\r\\]+)
  | (?P<op>\*\*=?|//=?|>>=?|<<=?|->|:=|\.\.\.|[-+*/%@&|^=<>!]=|\S)
''', re.VERBOSE)


def _rough_tokens(text):
    """A regular-expression lexer for text that tokenize refuses: the same normalisation, the
    indentation read from each line's first token."""
    items = []
    statement = _Statements(items)
    line_start = 0
    for m in _ROUGH.finditer(text):
        kind = m.lastgroup
        if kind == "newline":
            line_start = m.end()
            if items and items[-1][0] != "NEWLINE":
                statement.token("NEWLINE", "\n", m.start(), m.end(), 0)
            continue
        if kind not in ("comment", "space"):
            statement.token(kind.upper(), m.group(), m.start(), m.end(), int(m.start() > line_start))
    return _normalise(items)


def _normalise(items):
    """(tokens, spans, segments): statement strings (docstrings) dropped; names written as V,
    numbers as N and strings as S; keywords, operators, builtins and attribute names kept."""
    tokens, spans, segments = [], [], [0]
    n = len(items)
    i = 0
    previous = "NEWLINE"     # the last kept token's kind
    previous_text = ""
    while i < n:
        kind, text, start, end = items[i]
        if kind == "BREAK":
            if len(tokens) > segments[-1]:
                segments.append(len(tokens))
            i += 1
            continue
        if kind == "STRING" and previous == "NEWLINE":
            j = i
            while j < n and items[j][0] == "STRING":
                j += 1
            if j == n or items[j][0] == "NEWLINE":      # a string standing alone: a docstring or a comment
                i = j + 1
                continue
        if kind == "NEWLINE":
            if previous != "NEWLINE":
                tokens.append(";")
                spans.append((start, start))
            previous, previous_text = "NEWLINE", ";"
            i += 1
            continue
        if kind == "NAME":
            word = text if keyword.iskeyword(text) or text in _BUILTINS or previous_text == "." else "V"
        elif kind == "NUMBER":
            word = "N"
        elif kind == "STRING":
            word = "S"
        else:
            word = ";" if text == ";" else text
        tokens.append(word)
        spans.append((start, end))
        previous, previous_text = ("NEWLINE" if word == ";" else kind), word
        i += 1
    return tokens, spans, segments


@cache
def _token_id(token):
    return zlib.crc32(token.encode("utf-8")) | (len(token) << 32)


def kgram_hashes(tokens, k=K):
    """The stable 64-bit hash of every run of k tokens (uint64 array of len(tokens) - k + 1)."""
    if len(tokens) < k:
        return np.zeros(0, dtype=np.uint64)
    ids = np.fromiter((_token_id(t) for t in tokens), dtype=np.uint64, count=len(tokens))
    count = len(tokens) - k + 1
    h = np.zeros(count, dtype=np.uint64)
    prime = np.uint64(0x100000001B3)
    with np.errstate(over="ignore"):
        for j in range(k):
            h = h * prime + ids[j:j + count]
        # splitmix64's finaliser: a well-mixed order for winnowing's minima
        h ^= h >> np.uint64(30)
        h *= np.uint64(0xBF58476D1CE4E5B9)
        h ^= h >> np.uint64(27)
        h *= np.uint64(0x94D049BB133111EB)
        h ^= h >> np.uint64(31)
    return h


def winnow(hashes, window=WINDOW):
    """Positions kept by winnowing: the rightmost smallest hash of every window of consecutive ones."""
    n = len(hashes)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    if n <= window:
        return np.array([n - 1 - int(np.argmin(hashes[::-1]))])
    windows = np.lib.stride_tricks.sliding_window_view(hashes, window)
    rightmost = window - 1 - np.argmin(windows[:, ::-1], axis=1)
    return np.unique(np.arange(n - window + 1) + rightmost)


def fingerprints(tokens, segments, k=K, window=WINDOW):
    """(positions, hashes, every hash): the winnowed k-grams of each segment (token positions and
    hashes), and the hashes of all k-grams."""
    bounds = [*segments, len(tokens)]
    positions, chosen, every = [], [], []
    for start, end in pairwise(bounds):
        hashes = kgram_hashes(tokens[start:end], k)
        if len(hashes):
            kept = winnow(hashes, window)
            positions.append(kept + start)
            chosen.append(hashes[kept])
            every.append(hashes)
    if not positions:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.uint64)
    return np.concatenate(positions), np.concatenate(chosen), np.concatenate(every)


def _source_file(path, text, k, window):
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    tokens, spans, segments, problem = normalised_tokens(text)
    positions, hashes, _ = fingerprints(tokens, segments, k, window)
    return SourceFile(path, text, np.array(spans, dtype=np.int32).reshape(-1, 2), hashes, positions.astype(np.int32),
                      np.array([0] + [m.end() for m in re.finditer("\n", text)])), problem


@cache
def starter_fingerprints(k=K):
    """Every k-gram hash of the starter kit (all its modules): boilerplate."""
    with tempfile.TemporaryDirectory(prefix="starter-") as tmp:
        found = set()
        for path in write_starter(tmp):
            tokens, _, segments, _ = normalised_tokens(path.read_text(encoding="utf-8").replace("\r\n", "\n"))
            found.update(fingerprints(tokens, segments, k)[2].tolist())
    return np.array(sorted(found), dtype=np.uint64)


# ---------------------------------------------------------------- reading submissions

def _python_files(directory, notices):
    """(relative path, text) of the .py files under directory that are compared."""
    found = []
    directory = Path(directory)
    for root, dirs, files in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in SKIPPED_DIRS
                         and not (Path(root) / d).is_symlink())
        for name in sorted(files):
            if not name.endswith(".py") or name in GIVEN or name.startswith("."):   # ._nn.py: macOS metadata
                continue
            path = Path(root) / name
            relative = path.relative_to(directory).as_posix()
            if path.is_symlink() or not path.is_file():
                notices.append(f"skipped {relative}: a link or not a plain file")
                continue
            found.append((len(Path(relative).parts), relative, path))
    found.sort()
    if len(found) > MAX_FILES:
        notices.append(f"read the first {MAX_FILES} of its {len(found)} .py files")
        found = found[:MAX_FILES]
    for _, relative, path in found:
        try:
            size = path.stat().st_size
            if size > MAX_FILE_BYTES:
                notices.append(f"skipped {relative}: {size >> 10} KB, over the {MAX_FILE_BYTES >> 10} KB limit")
                continue
            text = path.read_bytes().decode("utf-8-sig")
        except UnicodeDecodeError:
            notices.append(f"skipped {relative}: not UTF-8 text")
            continue
        except OSError as exc:
            notices.append(f"skipped {relative}: {exc.strerror or exc}")
            continue
        yield relative, text


def read_submission(path, *, k=K, window=WINDOW, boilerplate=None):
    """Fingerprint one submission (a folder or a .zip); boilerplate: a sorted uint64 array of
    hashes to leave out. Raises SubmissionError for a path that is neither, or a zip the intake
    refuses."""
    submission = Submission(name_of(path))
    with opened_submission(path) as (directory, notice):
        if notice:
            submission.notices.append(notice.replace("graded the modules", "read the modules", 1))
        for relative, text in _python_files(directory, submission.notices):
            source, problem = _source_file(relative, text, k, window)
            if problem:
                submission.notices.append(f"{relative}: {problem}")
            submission.files.append(source)
    if submission.files:
        hashes = np.concatenate([f.hashes for f in submission.files])
        keep = ~np.isin(hashes, boilerplate) if boilerplate is not None and len(boilerplate) else np.ones(len(hashes), bool)
        submission.hashes = hashes[keep]
        submission.file_index = np.concatenate([np.full(len(f.hashes), i, dtype=np.int32)
                                                for i, f in enumerate(submission.files)])[keep]
        submission.positions = np.concatenate([f.positions for f in submission.files])[keep]
    return submission


_POOL_KIT = None


def _pool_start(kit):
    global _POOL_KIT
    _POOL_KIT = kit


def _read_in_pool(path, k, window):
    try:
        return read_submission(path, k=k, window=window, boilerplate=_POOL_KIT), None
    except (SubmissionError, OSError) as exc:
        return None, str(exc)
    except Exception as exc:   # one odd submission must not stop the comparison of the others
        return None, f"could not be read ({type(exc).__name__}: {exc})"


def read_submissions(paths, *, k=K, window=WINDOW, boilerplate=True, notices=None, jobs=1):
    """Fingerprint each path (read_submission), in `jobs` processes; a submission that cannot be
    read is left out, and notices (a list) receives (name, message) for it and for each remark."""
    kit = starter_fingerprints(k) if boilerplate else None
    notices = [] if notices is None else notices
    paths = list(paths)
    if jobs > 1 and len(paths) > 2 * jobs:
        # fork when this process runs no other thread (the command), else forkserver or spawn
        methods = multiprocessing.get_all_start_methods()
        method = next(m for m in (("fork",) if threading.active_count() == 1 else ()) + ("forkserver", "spawn")
                      if m in methods)
        with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context(method), initializer=_pool_start,
                                 initargs=(kit,)) as pool:
            done = list(pool.map(_read_in_pool, paths, [k] * len(paths), [window] * len(paths), chunksize=4))
    else:
        _pool_start(kit)
        done = [_read_in_pool(path, k, window) for path in paths]
    submissions = []
    for path, (submission, error) in zip(paths, done, strict=True):
        if submission is None:
            notices.append((name_of(path), f"left out: {error}"))
            continue
        notices.extend((submission.name, message) for message in submission.notices)
        submissions.append(submission)
    return submissions


# ---------------------------------------------------------------- comparing

def compare_submissions(submissions, *, threshold=DEFAULT_THRESHOLD, k=K, common=COMMON, stats=None):
    """The pairs of submissions (fingerprinted by read_submission) scoring at least threshold,
    most similar first (ties by name). threshold <= 0 lists every pair. stats, a dict, receives
    the number of pairs compared and the median and 99th percentile of all their scores.

    Scores come from one sparse product (submissions x distinct fingerprints); the regions and the
    per-file breakdown are worked out for the pairs listed only."""
    from scipy import sparse  # imported here, not at the top: it would cost every `autograde` run 0.2 s

    n = len(submissions)
    distinct = [np.unique(s.hashes) for s in submissions]
    rows = np.repeat(np.arange(n), [len(d) for d in distinct])
    every = np.concatenate(distinct) if n else np.zeros(0, dtype=np.uint64)
    values, column, found_in = np.unique(every, return_inverse=True, return_counts=True)
    too_common = (found_in >= 3) & (found_in > common * n)
    common_hashes = values[too_common]
    keep = ~too_common[column]
    matrix = sparse.csr_matrix((np.ones(int(keep.sum()), dtype=np.int32), (rows[keep], column[keep])),
                               shape=(n, max(1, len(values))))
    sizes = np.bincount(rows[keep], minlength=n)
    shared = sparse.triu(matrix @ matrix.T, k=1).tocoo()
    counted = [~np.isin(s.hashes, common_hashes) for s in submissions]
    tokens = [_counted_tokens(s, mask, k) for s, mask in zip(submissions, counted, strict=True)]
    found = dict(zip(zip(shared.row.tolist(), shared.col.tolist(), strict=True), shared.data.tolist(), strict=True))
    if stats is not None:
        every_pair = n * (n - 1) // 2
        scores = np.zeros(every_pair)
        scores[:len(shared.data)] = 2 * shared.data / np.maximum(1, sizes[shared.row] + sizes[shared.col])
        stats.update(pairs=every_pair, median=float(np.median(scores)) if every_pair else 0.0,
                     p99=float(np.percentile(scores, 99)) if every_pair else 0.0)
    wanted = [(i, j) for i in range(n) for j in range(i + 1, n)] if threshold <= 0 else list(found)
    pairs = []
    for i, j in wanted:
        count = found.get((i, j), 0)
        total = int(sizes[i] + sizes[j])
        score = 2 * count / total if total else 0.0
        if score < threshold:
            continue
        if submissions[i].name > submissions[j].name:
            i, j = j, i
        pair = Pair(submissions[i].name, submissions[j].name, float(score), count / sizes[i] if sizes[i] else 0.0,
                    count / sizes[j] if sizes[j] else 0.0, int(count), a_tokens=tokens[i], b_tokens=tokens[j],
                    sources=(submissions[i], submissions[j]))
        if count:
            _explain(pair, counted[i], counted[j], k)
        pairs.append(pair)
    pairs.sort(key=lambda p: (-p.score, p.a, p.b))
    return pairs


def _counted_tokens(submission, mask, k):
    """Tokens covered by the submission's counted fingerprints (not boilerplate, not common)."""
    total = 0
    for index, source in enumerate(submission.files):
        starts = submission.positions[mask & (submission.file_index == index)]
        total += _covered(starts, starts + k, len(source.spans))
    return total


def _covered(starts, ends, length):
    """How many of 0..length-1 the intervals [starts, ends) cover."""
    if len(starts) == 0:
        return 0
    depth = np.zeros(length + 1, dtype=np.int32)
    np.add.at(depth, np.asarray(starts), 1)
    np.add.at(depth, np.minimum(np.asarray(ends), length), -1)
    return int((np.cumsum(depth)[:length] > 0).sum())


def _occurrences(submission, mask, shared):
    """{hash: [(file index, token position), ...]} for the submission's counted fingerprints in shared."""
    take = mask & np.isin(submission.hashes, shared)
    found = {}
    for h, index, position in zip(submission.hashes[take].tolist(), submission.file_index[take].tolist(),
                                  submission.positions[take].tolist(), strict=True):
        found.setdefault(h, []).append((index, position))
    return found


def _explain(pair, a_mask, b_mask, k):
    """Fill in the pair's matched regions, per-file breakdown and matched tokens.

    A region is a run of shared fingerprints at the same offset in a file of each, fewer than
    REGION_GAP tokens apart (a gap is code both share but do not count: boilerplate, common
    code). Regions are taken largest first, each only where it is mostly new on both sides, so a
    block found twice in the other submission is shown once. Matched tokens: those covered by a
    shared fingerprint."""
    a, b = pair.sources
    shared = np.intersect1d(a.hashes[a_mask], b.hashes[b_mask])
    in_a, in_b = _occurrences(a, a_mask, shared), _occurrences(b, b_mask, shared)
    hits = sorted({(fa, fb, pb - pa, pa, pb) for h in in_a for fa, pa in in_a[h][:POSITIONS_KEPT]
                   for fb, pb in in_b[h][:POSITIONS_KEPT]})
    runs = []    # [a file, b file, a first, a last, b first, b last, fingerprints]
    for fa, fb, diagonal, pa, pb in hits:
        last = runs[-1] if runs else None
        if last and last[:2] == [fa, fb] and last[5] - last[3] == diagonal and pa - last[3] <= REGION_GAP:
            last[3], last[5], last[6] = pa, pb, last[6] + 1
        else:
            runs.append([fa, fb, pa, pa, pb, pb, 1])
    runs.sort(key=lambda r: (-r[6], r[0], r[2], r[1], r[4]))
    a_taken, b_taken, per_files = {}, {}, {}
    for fa, fb, a0, a1, b0, b1, count in runs:
        a_span, b_span = (a0, a1 + k), (b0, b1 + k)
        if _overlap(a_span, a_taken.get(fa, ())) * 2 > k + a1 - a0 or _overlap(b_span, b_taken.get(fb, ())) * 2 > k + b1 - b0:
            continue        # shown already: the same code found again elsewhere in the other submission
        a_taken.setdefault(fa, []).append(a_span)
        b_taken.setdefault(fb, []).append(b_span)
        source_a, source_b = a.files[fa], b.files[fb]
        a_chars = (int(source_a.spans[a0][0]), int(source_a.spans[a1 + k - 1][1]))
        b_chars = (int(source_b.spans[b0][0]), int(source_b.spans[b1 + k - 1][1]))
        pair.matches.append(Region(source_a.path, (source_a.line_of(a_chars[0]), source_a.line_of(max(a_chars[0], a_chars[1] - 1))),
                                   source_b.path, (source_b.line_of(b_chars[0]), source_b.line_of(max(b_chars[0], b_chars[1] - 1))),
                                   count, a_chars, b_chars))
        per_files[(fa, fb)] = per_files.get((fa, fb), 0) + 1
    a_by_files, b_by_files, a_all, b_all = {}, {}, {}, {}
    for fa, fb, _, pa, pb in hits:
        a_by_files.setdefault((fa, fb), set()).add((pa, pa + k))
        b_by_files.setdefault((fa, fb), set()).add((pb, pb + k))
        a_all.setdefault(fa, set()).add((pa, pa + k))
        b_all.setdefault(fb, set()).add((pb, pb + k))
    pair.files = sorted((FileMatch(a.files[fa].path, b.files[fb].path, _union_length(a_by_files[(fa, fb)]),
                                   _union_length(b_by_files[(fa, fb)]), regions) for (fa, fb), regions in per_files.items()),
                        key=lambda f: (-(f.a_tokens + f.b_tokens), f.a_file, f.b_file))
    pair.a_matched_tokens = sum(_union_length(spans) for spans in a_all.values())
    pair.b_matched_tokens = sum(_union_length(spans) for spans in b_all.values())


def _overlap(span, spans):
    return sum(max(0, min(span[1], end) - max(span[0], start)) for start, end in spans)


def _union_length(intervals):
    total, reach = 0, None
    for start, end in sorted(intervals):
        if reach is None or start > reach:
            total += end - start
            reach = end
        elif end > reach:
            total += end - reach
            reach = end
    return total


def find_similar(folder, *, threshold=DEFAULT_THRESHOLD, k=K, window=WINDOW, common=COMMON, boilerplate=True,
                 notices=None, jobs=1):
    """The pairs of submissions in folder (one subfolder or .zip each, batch.submissions_in) scoring
    at least threshold, most similar first. notices, a list, receives (submission, message) for
    each file or submission left out and each other remark; jobs: processes reading submissions.
    Raises NotADirectoryError when folder is not a folder."""
    folder = Path(folder)
    if not folder.is_dir():
        raise NotADirectoryError(f"{folder}: not a folder of submissions")
    submissions = read_submissions(submissions_in(folder), k=k, window=window, boilerplate=boilerplate,
                                   notices=notices, jobs=jobs)
    return compare_submissions(submissions, threshold=threshold, k=k, common=common)


# ---------------------------------------------------------------- the HTML report

_COLOURS = ("#ffd6d6", "#d6f5d6", "#d6e4ff", "#fff2b3", "#f0d6ff", "#d6fff7", "#ffe3c4", "#e6e6e6")

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.15em; margin-top: 2em; border-top: 2px solid #888; padding-top: .6em; }
h3 { font-size: .95em; margin: .8em 0 .3em; font-family: monospace; }
table.pairs { border-collapse: collapse; } table.pairs td, table.pairs th { border: 1px solid #ccc; padding: .2em .6em; }
table.pairs td.num { text-align: right; font-variant-numeric: tabular-nums; }
.sides { display: grid; grid-template-columns: 1fr 1fr; gap: 1em; }
.side { min-width: 0; }
pre { background: #fafafa; border: 1px solid #ddd; padding: .5em; overflow: auto; max-height: 75vh;
      font-size: 12px; line-height: 1.35; margin: 0; }
mark { color: inherit; border-radius: 2px; }
.n { color: #999; background: #fafafa; user-select: none; }
.tag { font-size: 9px; vertical-align: super; color: #444; padding-right: 1px; user-select: none; }
.who { font-weight: bold; font-size: 1.05em; margin: .4em 0; }
.note { color: #555; font-size: .9em; }
"""


def write_html_report(pairs, out, *, top=DEFAULT_TOP, title="Code similarity", about=""):
    """Write one self-contained HTML page: the top pairs side by side, matched regions highlighted
    (one colour per region, the same on both sides). Every piece of submission text is escaped."""
    e = html.escape
    shown = pairs[:top]
    parts = ["<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>",
             # No script, style sheet or image may load from anywhere: the page shows untrusted text.
             "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; style-src 'unsafe-inline'\">",
             f"<title>{e(title)}</title><style>{_STYLE}</style></head><body>",
             f"<h1>{e(title)}</h1>", f"<p class='note'>{e(about)}</p>" if about else ""]
    if not shown:
        parts.append("<p>No pair reached the threshold.</p>")
    else:
        parts.append("<table class='pairs'><tr><th>#</th><th>A</th><th>B</th><th>score</th><th>A in B</th>"
                     "<th>B in A</th><th>regions</th><th>files</th></tr>")
        for rank, pair in enumerate(shown, 1):
            files = ", ".join(f"{f.a_file} ~ {f.b_file}" for f in pair.files[:3]) + (" ..." if len(pair.files) > 3 else "")
            parts.append(f"<tr><td class='num'><a href='#pair-{rank}'>{rank}</a></td><td>{e(pair.a)}</td><td>{e(pair.b)}</td>"
                         f"<td class='num'>{pair.score:.2f}</td><td class='num'>{pair.a_share:.0%}</td>"
                         f"<td class='num'>{pair.b_share:.0%}</td><td class='num'>{pair.regions}</td><td>{e(files)}</td></tr>")
        parts.append("</table>")
    for rank, pair in enumerate(shown, 1):
        parts.append(f"<h2 id='pair-{rank}'>#{rank}: {e(pair.a)} ~ {e(pair.b)} &mdash; score {pair.score:.2f}</h2>")
        parts.append(f"<p class='note'>{pair.shared_fingerprints} shared fingerprints, {pair.regions} matched regions; "
                     f"{pair.a_matched_tokens} of {e(pair.a)}'s {pair.a_tokens} counted tokens and {pair.b_matched_tokens} "
                     f"of {e(pair.b)}'s {pair.b_tokens} are covered by shared fingerprints.</p>")
        parts.append("<div class='sides'>")
        for side in (0, 1):
            parts.append(f"<div class='side'>{_side_html(pair, side)}</div>")
        parts.append("</div>")
    parts.append("</body></html>\n")
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text("".join(parts), encoding="utf-8")


def _side_html(pair, side):
    e = html.escape
    submission = pair.sources[side]
    name = pair.a if side == 0 else pair.b
    marks = {}      # file path -> [(start, end, region number, counterpart)]
    for number, region in enumerate(pair.matches):
        if side == 0:
            path, span, other = region.a_file, region.a_span, f"{pair.b}: {region.b_file} lines {region.b_lines[0]}-{region.b_lines[1]}"
        else:
            path, span, other = region.b_file, region.b_span, f"{pair.a}: {region.a_file} lines {region.a_lines[0]}-{region.a_lines[1]}"
        marks.setdefault(path, []).append((span[0], span[1], number, other))
    parts = [f"<div class='who'>{e(name)}</div>"]
    for source in submission.files:
        if source.path not in marks:
            continue
        parts.append(f"<h3>{e(source.path)}</h3><pre>{_highlighted(source.text, marks[source.path])}</pre>")
    unmatched = [s.path for s in submission.files if s.path not in marks]
    if unmatched:
        parts.append(f"<p class='note'>No match in: {e(', '.join(unmatched))}</p>")
    return "".join(parts)


def _highlighted(text, marks):
    """text, escaped, with line numbers and each (start, end, region, counterpart) wrapped in a
    coloured <mark> tagged with its region's number; overlaps go to the region that starts first."""
    e = html.escape
    out, at = [], 0
    for start, end, number, other in sorted(marks):
        start = max(start, at)
        if end <= start:
            continue
        out.append(e(text[at:start]))
        out.append(f"<mark style='background:{_COLOURS[number % len(_COLOURS)]}' title='{e(f'region {number + 1}: {other}')}'>"
                   f"<span class='tag'>{number + 1}</span>{e(text[start:end])}</mark>")
        at = end
    out.append(e(text[at:]))
    lines = "".join(out).split("\n")
    if lines and not lines[-1]:
        lines.pop()
    return "\n".join(f"<span class='n'>{i:4d} </span>{line}" for i, line in enumerate(lines, 1))


# ---------------------------------------------------------------- the command

def add_similarity_arguments(parser):
    parser.add_argument("folder", type=Path, help="folder holding one subfolder or .zip per submission")
    parser.add_argument("--json", type=Path, help="write every pair at or above the threshold here (a JSON list, most similar first)")
    parser.add_argument("--report", type=Path, help="write a self-contained HTML page showing the top pairs side by side")
    parser.add_argument("--top", type=int, default=DEFAULT_TOP, help=f"pairs printed and shown in the report (default {DEFAULT_TOP})")
    parser.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD,
                        help=f"least score listed, 0..1 (default {DEFAULT_THRESHOLD}); 0 lists every pair")
    parser.add_argument("--common", type=float, default=COMMON, help="a fingerprint found in more than this fraction of "
                        f"the submissions (and in 3 or more) is common knowledge, not evidence (default {COMMON}; 1 keeps all)")
    parser.add_argument("-j", "--jobs", type=int, default=min(8, os.cpu_count() or 1),
                        help="processes reading the submissions (default: CPU count, at most 8)")


def similarity_main(args):
    """`autograde similarity DIR`: print the most alike pairs, write --json and --report. Returns 0,
    or 2 on bad input (DIR not a folder, fewer than 2 readable submissions, a bad option)."""
    folder = args.folder
    if not folder.is_dir():
        print(f"autograde similarity: {folder}: not a folder of submissions (one subfolder or .zip each)", file=sys.stderr)
        return 2
    if args.top < 0 or args.jobs < 1 or not 0 <= args.threshold <= 1 or not 0 < args.common <= 1:
        print("autograde similarity: --top must be 0 or more, --jobs 1 or more, --threshold between 0 and 1 and "
              "--common above 0 and at most 1", file=sys.stderr)
        return 2
    paths = submissions_in(folder)
    if len(paths) < 2:
        print(f"autograde similarity: {folder}: {len(paths)} submission(s) found; comparing needs at least 2 "
              "(one subfolder or .zip each)", file=sys.stderr)
        return 2
    began = time.perf_counter()
    notices = []
    submissions = read_submissions(paths, notices=notices, jobs=args.jobs)
    for name, message in notices:
        print(f"  {name}: {message}", file=sys.stderr)
    if len(submissions) < 2:
        print(f"autograde similarity: {folder}: only {len(submissions)} of {len(paths)} submissions could be read; "
              "comparing needs at least 2", file=sys.stderr)
        return 2
    stats = {}
    pairs = compare_submissions(submissions, threshold=args.threshold, common=args.common, stats=stats)
    elapsed = time.perf_counter() - began
    files = sum(len(s.files) for s in submissions)
    about = (f"{len(submissions)} submissions ({files} files) from {folder}; {len(pairs)} pairs scored "
             f"{args.threshold:g} or more (of all {stats['pairs']} pairs: median {stats['median']:.2f}, 99th percentile "
             f"{stats['p99']:.2f}). Tokens normalised (names V, numbers N, strings S; comments and docstrings dropped), "
             f"{K}-token fingerprints winnowed over windows of {WINDOW}; the starter kit's fingerprints and any found in "
             f"more than {args.common:.0%} of the submissions are not counted. Score: 2|A&B| / (|A|+|B|) over fingerprints.")
    try:
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps([p.to_json() for p in pairs], indent=1), encoding="utf-8")
        if args.report:
            write_html_report(pairs, args.report, top=args.top, title=f"Code similarity: {folder.name}", about=about)
    except OSError as exc:
        print(f"autograde similarity: cannot write {exc.filename or ''}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    console = Console()
    shown = pairs[:args.top]
    table = Table(title=f"most alike pairs (score >= {args.threshold:g})", title_justify="left")
    for column in ("#", "A", "B", "score", "shared", "regions", "files"):
        numeric = column not in ("A", "B", "files")
        table.add_column(column, justify="right" if numeric else "left", no_wrap=numeric, overflow="fold",
                         ratio=None if numeric else 2 if column in ("A", "B") else 1)
    for rank, pair in enumerate(shown, 1):
        matched = ", ".join(f.a_file if f.a_file == f.b_file else f"{f.a_file}~{f.b_file}" for f in pair.files[:2])
        table.add_row(str(rank), Text(pair.a), Text(pair.b), f"{pair.score:.2f}", f"{pair.a_share:.0%}|{pair.b_share:.0%}",
                      str(pair.regions), Text(matched + (" ..." if len(pair.files) > 2 else "")))
    if shown:
        console.print(table)
    written = [f"{what}: {path}" for what, path in (("json", args.json), ("report", args.report)) if path]
    print(f"compared {len(submissions)} submissions ({files} files) in {elapsed:.1f} s; {len(pairs)} pairs scored "
          f"{args.threshold:g} or more" + (f"; {'; '.join(written)}" if written else ""))
    print(f"scores of all {stats['pairs']} pairs: median {stats['median']:.2f}, 99th percentile {stats['p99']:.2f}")
    return 0
