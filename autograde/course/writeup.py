"""A submission's PDF write-up: find it, keep a copy beside the report, and find the page(s) that
answer each question a person grades.

The PDF is untrusted input. Its text is read by a child process (`python -m autograde.course.writeup
PDF QID...`) under limits on memory, CPU time, wall-clock time and file writes, so that a
decompression bomb, a 5,000-page file or a malformed one is reported, never stops the app. The child
prints one JSON object; the parent checks it before trusting any of it.
"""
import json
import os
import re
import signal
import stat
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

WRITEUP_NAME = "writeup.pdf"          # the kept copy, in the submission's folder of the batch
INDEX_NAME = "writeup-pages.json"     # its locate_pages answer, written when it is kept (the app reads it)
MAX_WRITEUP_BYTES = 64 << 20          # a write-up larger than this is not kept
MAX_DEPTH = 5                         # how deep in a submission a write-up is looked for
MAX_PAGES = 2000                      # a write-up with more pages is refused unread
MAX_TEXT_CHARS = 2_000_000            # text extraction stops after this much text in all
MIN_TEXT_CHARS = 20                   # fewer non-space characters in all: a scan
MAX_PAGES_PER_QUESTION = 5
SCANNED_NOTICE = "no text found (a scanned write-up?): opened at page 1"
_QID = re.compile(r"\d+(\.\d+)*[a-z]?")
_COPY_CHUNK = 1 << 20


@dataclass(frozen=True)
class WriteupIndex:
    """What the write-up's text says: where each question's answer is."""
    pages: int                # the page count (0 when unknown)
    has_text: bool            # False for a scan (or a file that could not be read)
    found: dict               # {question id: [1-based page numbers, first = the best]}
    problem: str              # "" or why the file could not be read


# --- finding and keeping the write-up --------------------------------------------------------------

def _hidden_or_mac(name):
    return name.startswith(".") or name == "__MACOSX"


def find_writeup(directory):
    """The one PDF write-up in a submission folder, looked for at most MAX_DEPTH folders deep
    (hidden folders and __MACOSX skipped; a symbolic link is never followed).

    Returns (path, None) when there is exactly one, (None, notice) when none can be kept (several, or
    only links), (None, None) when there is none.
    """
    root = Path(directory)
    found, links = [], []
    for folder, dirs, files in os.walk(root, followlinks=False):
        depth = len(Path(folder).relative_to(root).parts)
        # Pruned in place so os.walk does not descend; a link to a folder is listed in dirs but never entered.
        dirs[:] = [] if depth >= MAX_DEPTH else sorted(d for d in dirs if not _hidden_or_mac(d))
        for name in files:
            if _hidden_or_mac(name) or not name.lower().endswith(".pdf"):
                continue
            path = Path(folder, name)
            (links if path.is_symlink() else found).append(path)
    if len(found) == 1:
        return found[0], None
    if len(found) > 1:
        names = ", ".join(sorted(_shown(p.relative_to(root).as_posix()) for p in found))
        return None, f"several PDFs: {names}; none kept: submit one write-up"
    if links:
        names = ", ".join(sorted(_shown(p.relative_to(root).as_posix()) for p in links))
        return None, f"the PDF {names} is a symbolic link; none kept: submit the file itself"
    return None, None


def keep_writeup(submission, target_dir):
    """Copy the write-up of a submission (a folder, or a .zip read member by member, never unpacked)
    to target_dir/writeup.pdf.

    Returns a notice for the report ("kept the write-up report.pdf (2.1 MB)", or why it was not
    kept), or None when the submission has no PDF. A copy kept by an earlier grading into the same
    target_dir is removed unless a new one replaces it, so the copy always belongs to this submission.
    """
    submission, target = Path(submission), Path(target_dir) / WRITEUP_NAME
    try:
        if submission.is_file() and zipfile.is_zipfile(submission):
            kept, notice = _keep_from_zip(submission, target)
        elif submission.is_dir():
            kept, notice = _keep_from_folder(submission, target)
        else:
            kept, notice = False, None
    except OSError as error:
        kept, notice = False, f"the write-up could not be kept: {error.strerror or error}"
    if not kept:
        target.unlink(missing_ok=True)
    return notice


def _keep_from_folder(folder, target):
    path, notice = find_writeup(folder)
    if path is None:
        return False, notice
    shown = _shown(path.relative_to(folder).as_posix())
    # O_NOFOLLOW: a file swapped for a link after find_writeup looked is still not followed.
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd, "rb") as source:
        info = os.fstat(source.fileno())
        if not stat.S_ISREG(info.st_mode):
            return False, f"the write-up {shown} is not a regular file; not kept"
        if info.st_size > MAX_WRITEUP_BYTES:
            return False, _too_big(shown, info.st_size)
        size = _copy_capped(source, target)
    if size is None:
        return False, _too_big(shown)
    return True, _kept(shown, size)


def _keep_from_zip(archive, target):
    try:
        with zipfile.ZipFile(archive) as zf:
            members = []
            for info in zf.infolist():
                parts = PurePosixPath(info.filename).parts
                if info.is_dir() or not info.filename.lower().endswith(".pdf") or len(parts) > MAX_DEPTH + 1 \
                        or any(_hidden_or_mac(p) for p in parts):
                    continue
                members.append(info)
            regular = [m for m in members if not stat.S_ISLNK(m.external_attr >> 16)]
            if len(regular) > 1:
                names = ", ".join(sorted(_shown(m.filename) for m in regular))
                return False, f"several PDFs: {names}; none kept: submit one write-up"
            if not regular:
                if members:
                    return False, f"the PDF {_shown(members[0].filename)} is a symbolic link; none kept: " \
                                  "submit the file itself"
                return False, None
            member, shown = regular[0], _shown(regular[0].filename)
            if member.file_size > MAX_WRITEUP_BYTES:
                return False, _too_big(shown, member.file_size)
            if member.flag_bits & 0x1:
                return False, f"the write-up {shown} is encrypted in the zip; not kept"
            with zf.open(member) as source:
                # The header's size may lie: the copy itself stops at the cap.
                size = _copy_capped(source, target)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError, RuntimeError,
            ValueError) as error:
        return False, f"the write-up could not be read from {archive.name}: {error}"
    if size is None:
        return False, _too_big(shown)
    return True, _kept(shown, size)


def _copy_capped(source, target):
    """Copy source to target (through a temporary file, replaced at once); the bytes copied, or None
    (nothing written) when there were more than MAX_WRITEUP_BYTES."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=".writeup-", suffix=".part")
    try:
        size = 0
        with os.fdopen(fd, "wb") as out:
            while chunk := source.read(_COPY_CHUNK):
                size += len(chunk)
                if size > MAX_WRITEUP_BYTES:
                    return None
                out.write(chunk)
        os.replace(temporary, target)
        return size
    finally:
        Path(temporary).unlink(missing_ok=True)


def _size(n):
    return f"{n / (1 << 20):.1f} MB" if n >= 1 << 20 else f"{max(1, round(n / 1024))} KB"


def _kept(shown, size):
    return f"kept the write-up {shown} ({_size(size)})"


def _too_big(shown, size=None):
    """size None: the copy passed the cap (the zip's header said less)."""
    limit = f"{MAX_WRITEUP_BYTES >> 20} MB"
    return f"the write-up {shown} is not kept: {_size(size) if size else 'over ' + limit}, more than the " \
           f"{limit} a write-up may have"


def _shown(name):
    """A file name as the report may show it: control characters replaced, at most 120 characters."""
    clean = "".join(c if c.isprintable() else "?" for c in name)
    return clean if len(clean) <= 120 else clean[:117] + "..."


# --- finding the pages (the parent side) -----------------------------------------------------------

def locate_pages(pdf_path, question_ids, *, timeout=20.0, memory_mb=768):
    """Find the page(s) of the write-up pdf_path that answer each question of question_ids
    (e.g. ["3.1.2", "1.1"]).

    The PDF is read in a child process under memory_mb of address space, about timeout seconds of CPU
    and wall-clock time, and no file writes. Returns a WriteupIndex; never raises for a bad PDF: a
    file that cannot be read gives has_text False, no pages found and `problem` saying why.
    """
    qids = [str(q) for q in question_ids]
    bad = [q for q in qids if not _QID.fullmatch(q)]
    if bad:
        raise ValueError(f"question ids must look like 3.1.2; got {', '.join(map(repr, bad))}")
    path = Path(pdf_path)
    if not path.is_file():
        return WriteupIndex(0, False, {}, f"{path.name}: no such file")
    command = [sys.executable, "-s", "-m", __name__, str(path.resolve()), *qids,
               "--memory-mb", str(int(memory_mb)), "--cpu-seconds", str(max(1, int(timeout + 0.999)))]
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONIOENCODING": "utf-8",
           # the checkout holding this package first, whether or not it is installed
           "PYTHONPATH": os.pathsep.join(filter(None, [str(Path(__file__).resolve().parents[2]),
                                                       os.environ.get("PYTHONPATH")]))}
    with tempfile.TemporaryDirectory(prefix="writeup-") as cwd:
        child = subprocess.Popen(command, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, start_new_session=True)
        try:
            out, err = child.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(child)
            return WriteupIndex(0, False, {}, f"could not be read within {timeout:g} s "
                                              "(a decompression bomb or an overly complex file?)")
        except BaseException:   # an interrupt: the child goes with the caller
            _kill_group(child)
            raise
    return _parse_answer(child.returncode, out, err, qids, timeout, memory_mb)


def index_writeup(pdf_path, question_ids, **limits):
    """locate_pages for the kept write-up, its answer stored beside it (INDEX_NAME) with the PDF's size
    and modification time, so the review app opens a grading page without reading the PDF.
    Returns the WriteupIndex."""
    pdf = Path(pdf_path)
    index = locate_pages(pdf, question_ids, **limits)
    stat_ = pdf.stat()
    entry = {"size": stat_.st_size, "mtime_ns": stat_.st_mtime_ns, "questions": [str(q) for q in question_ids],
             "pages": index.pages, "has_text": index.has_text, "found": index.found, "problem": index.problem}
    (pdf.parent / INDEX_NAME).write_text(json.dumps(entry), encoding="utf-8")
    return index


def stored_index(pdf_path, question_ids):
    """The WriteupIndex index_writeup stored for this very PDF (same size and modification time) and
    for all of question_ids, else None."""
    pdf = Path(pdf_path)
    try:
        entry = json.loads((pdf.parent / INDEX_NAME).read_text(encoding="utf-8"))
        stat_ = pdf.stat()
        if (entry["size"], entry["mtime_ns"]) != (stat_.st_size, stat_.st_mtime_ns) or \
                not {str(q) for q in question_ids} <= set(entry["questions"]):
            return None
        found = {str(q): [int(p) for p in pages] for q, pages in entry["found"].items()}
        return WriteupIndex(int(entry["pages"]), bool(entry["has_text"]), found, str(entry["problem"]))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def _kill_group(child):
    """Kill the child's process group (it leads a session of its own) and reap it; only while it is
    not yet reaped, so the group id cannot belong to anyone else."""
    try:
        os.killpg(child.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    if child.returncode is None:
        child.communicate()


def _parse_answer(returncode, out, err, qids, timeout, memory_mb):
    if returncode != 0:
        if returncode in (-signal.SIGXCPU, -signal.SIGKILL):
            why = f"could not be read within {timeout:g} s of CPU time (a decompression bomb or an overly complex file?)"
        elif b"MemoryError" in err[-4000:]:
            why = _memory_problem(memory_mb)
        else:
            why = f"the PDF reader failed (exit status {returncode})"
        return WriteupIndex(0, False, {}, why)
    try:
        answer = json.loads(out.decode("utf-8"))
        pages, has_text, found, problem = (answer["pages"], answer["has_text"], answer["found"], answer["problem"])
        valid = (type(pages) is int and 0 <= pages <= 10**7 and type(has_text) is bool and isinstance(problem, str)
                 and isinstance(found, dict) and set(found) <= set(qids)
                 and all(isinstance(v, list) and len(v) <= MAX_PAGES_PER_QUESTION
                         and all(type(p) is int and 1 <= p <= pages for p in v) for v in found.values()))
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        valid = False
    if not valid:
        return WriteupIndex(0, False, {}, "the PDF reader gave a malformed answer")
    if problem == "memory":
        problem = _memory_problem(memory_mb)
    return WriteupIndex(pages, has_text and not problem, {} if problem else found, problem[:300])


def _memory_problem(memory_mb):
    return f"could not be read within {memory_mb} MB of memory (a decompression bomb or an overly complex file?)"


# --- finding the pages (the child side) ------------------------------------------------------------

def label_pattern(qid):
    """The regular expression of a question's label in the write-up's text: "Q3.1.2", "Q 3.1.2",
    "Q.3.1.2", "3.1.2", "Question 3.1.2", "Problem 3.1.2" (any case), not part of a longer number
    ("13.1.2", "3.1.21", "3.1.2.1", "Q2.1.1" for 1.1); "Q3.1.2." ending a sentence matches."""
    number = re.escape(qid)
    return re.compile(rf"(?:\b(?:question|problem|q)\s*\.?\s*|(?<![\d.])){number}(?!\.?\d)", re.IGNORECASE)


def _is_heading(text, start):
    """Whether the label at text[start] begins its line (only spaces or list marks before it)."""
    line_start = text.rfind("\n", 0, start) + 1
    return text[line_start:start].strip(" \t#*-\u2022\u2013([") == ""


def rank_pages(page_texts, qids):
    """{qid: [1-based pages]} from the pages' texts: pages where the label starts a line first, then
    other pages that mention it, each group in page order, at most MAX_PAGES_PER_QUESTION."""
    found = {}
    for qid in qids:
        pattern, headings, mentions = label_pattern(qid), [], []
        for number, text in enumerate(page_texts, 1):
            matches = [m.start() for m in pattern.finditer(text)]
            if any(_is_heading(text, s) for s in matches):
                headings.append(number)
            elif matches:
                mentions.append(number)
        if headings or mentions:
            found[qid] = (headings + mentions)[:MAX_PAGES_PER_QUESTION]
    return found


def _set_limits(memory_mb, cpu_seconds):
    """Set before the untrusted file is opened: the code that runs before it (the interpreter's start,
    argparse) is ours. Limits set here rather than in a preexec_fn, which may deadlock when the
    parent is a threaded web server."""
    import resource
    as_bytes = memory_mb << 20
    resource.setrlimit(resource.RLIMIT_AS, (as_bytes, as_bytes))          # a decompression bomb's output
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))   # a file that takes forever
    if not stat.S_ISREG(os.fstat(sys.stdout.fileno()).st_mode):
        # The reader writes no file. (Left off when a person runs this with stdout sent to a file:
        # the limit would stop the answer too. The parent always reads a pipe.)
        resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def read_writeup(path, qids):
    """The child's work: {"pages", "has_text", "found", "problem"} for the PDF at path."""
    import logging
    import warnings

    logging.getLogger("pypdf").setLevel(logging.CRITICAL)   # a malformed file logs thousands of warnings
    warnings.simplefilter("ignore")
    answer = {"pages": 0, "has_text": False, "found": {}, "problem": ""}
    with open(path, "rb") as f:
        head = f.read(1024)
    if b"%PDF-" not in head:
        answer["problem"] = "not a PDF (no %PDF- header)"
        return answer

    from pypdf import PdfReader
    from pypdf.errors import LimitReachedError, PyPdfError

    try:
        reader = PdfReader(path)
        if reader.is_encrypted:
            try:
                if not reader.decrypt(""):   # many "protected" PDFs only restrict printing
                    raise PyPdfError("needs a password")
            except Exception:   # noqa: BLE001 - a cipher pypdf cannot do (AES without cryptography) is the same
                answer["problem"] = "encrypted (it needs a password): submit an unprotected PDF"
                return answer
        pages = len(reader.pages)
        answer["pages"] = pages
        if pages > MAX_PAGES:
            answer["problem"] = f"{pages} pages: more than the {MAX_PAGES} a write-up may have"
            return answer
        texts, total, unreadable = [], 0, []
        for number, page in enumerate(reader.pages, 1):
            if total >= MAX_TEXT_CHARS:
                break
            try:
                text = page.extract_text() or ""
            except LimitReachedError as error:
                answer["problem"] = (f"page {number} is past the PDF reader's limits ({error}): "
                                     "a decompression bomb or an overly complex page?")
                return answer
            except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, IndexError) as error:
                # One unreadable page does not hide the others.
                text = ""
                unreadable.append(f"page {number}: {type(error).__name__}")
            text = text[:MAX_TEXT_CHARS - total]
            total += len(text)
            texts.append(text)
    except MemoryError:
        answer["problem"] = "memory"
        return answer
    except Exception as error:   # noqa: BLE001 - any failure of the parser on untrusted bytes is reported
        answer["problem"] = f"not a readable PDF ({type(error).__name__}: {str(error)[:200]})"
        return answer
    answer["has_text"] = sum(len("".join(t.split())) for t in texts) >= MIN_TEXT_CHARS
    if answer["has_text"]:
        answer["found"] = rank_pages(texts, qids)
    elif unreadable:
        # Without this it would pass for a scan.
        answer["problem"] = f"the text of {len(unreadable)} of {pages} pages could not be read ({unreadable[0]})"
    return answer


def main(argv=None):
    """The child: print one JSON object for the PDF and question ids given."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m autograde.course.writeup",
                                     description="Find the pages of a PDF write-up that answer each question.")
    parser.add_argument("pdf")
    parser.add_argument("qids", nargs="*")
    parser.add_argument("--memory-mb", type=int, default=768)
    parser.add_argument("--cpu-seconds", type=int, default=20)
    args = parser.parse_args(argv)
    _set_limits(args.memory_mb, args.cpu_seconds)
    try:
        answer = read_writeup(args.pdf, args.qids)
    except MemoryError:
        answer = {"pages": 0, "has_text": False, "found": {}, "problem": "memory"}
    except OSError as error:
        answer = {"pages": 0, "has_text": False, "found": {}, "problem": f"cannot open: {error.strerror}"}
    sys.stdout.write(json.dumps(answer) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
