"""Taking in a submission path: a folder, a folder holding the modules in a subfolder, or a .zip.

A zip is unpacked under caps on its size and entries (a zip bomb is refused) and never outside its
folder; the graded folder is always a private copy, so gradings never see each other's side effects.
"""
import shutil
import tempfile
import zipfile
from contextlib import contextmanager
from pathlib import Path

CONTRACT_MARKER = "nn.py"   # the file that tells a submission's module directory apart
MAX_ZIP_BYTES = 256 << 20  # a submission's zip may unpack to this many bytes at most
MAX_ZIP_FILES = 5000       # ... and this many entries


class SubmissionError(ValueError):
    """The path given cannot be graded at all; the message says why and what was expected."""


@contextmanager
def opened_submission(path):
    """Yield (directory holding the submission's modules, notice or None).

    Accepts the directory itself, a directory with the modules in a subfolder (e.g. python/), or
    a .zip of either. Where nn.py sits in several folders the shallowest one is graded and the
    notice says so. Raises SubmissionError when the path is neither a folder nor a zip.
    """
    path = Path(path)
    if path.is_file() and zipfile.is_zipfile(path):
        with tempfile.TemporaryDirectory(prefix="submission-") as tmp:
            _safe_extract(path, Path(tmp))
            yield _module_dir(Path(tmp), shown=path)
        return
    if not path.is_dir():
        raise SubmissionError(f"{path}: not a directory or a .zip file; expected a folder laid out "
                              "like the handout's python/ folder (nn.py, util.py, run_q2.py, ...)")
    yield _module_dir(path, shown=path)


def _module_dir(root, shown):
    found = sorted((len(p.relative_to(root).parts), p.parent) for p in root.rglob(CONTRACT_MARKER)
                   if "__MACOSX" not in p.parts and len(p.relative_to(root).parts) <= 5)
    if not found:
        return root, None  # grade it anyway: every question will say what is missing
    shallowest = [folder for depth, folder in found if depth == found[0][0]]
    if len(shallowest) > 1:
        listed = ", ".join(f"{f.relative_to(root)}/" for f in shallowest)
        raise SubmissionError(f"{shown}: {CONTRACT_MARKER} appears in several folders at the same depth "
                              f"({listed}); submit one folder laid out like the handout's python/")
    chosen = shallowest[0]
    ignored = [f"{f.relative_to(root)}/" for _, f in found[1:]]
    notice = None
    if chosen != root or ignored:
        where = "the top folder" if chosen == root else f"{chosen.relative_to(root)}/"
        notice = f"graded the modules in {where} of the submission"
        if ignored:
            notice += f"; ignored other copies of {CONTRACT_MARKER} in {', '.join(ignored)}"
    return chosen, notice


def _safe_extract(archive, target):
    """Unpack a submission's zip into target, refusing entries that point outside it and archives
    that unpack to more than MAX_ZIP_BYTES or MAX_ZIP_FILES (sizes as the archive declares them;
    extraction stops at the declared size too)."""
    with zipfile.ZipFile(archive) as zf:
        members = zf.infolist()
        if len(members) > MAX_ZIP_FILES:
            raise SubmissionError(f"{archive}: {len(members)} entries; a submission may hold at most {MAX_ZIP_FILES}")
        total = sum(member.file_size for member in members)
        if total > MAX_ZIP_BYTES:
            raise SubmissionError(f"{archive}: it unpacks to {total >> 20} MB; a submission may unpack to at most "
                                  f"{MAX_ZIP_BYTES >> 20} MB (leave data and results out: the grader brings its own)")
        for member in members:
            destination = (target / member.filename).resolve()
            if not destination.is_relative_to(target.resolve()):
                raise SubmissionError(f"{archive}: entry {member.filename!r} points outside the archive")
        written = 0
        for member in members:
            if member.is_dir():
                zf.extract(member, target)
                continue
            destination = target / member.filename
            destination.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(member) as source, open(destination, "wb") as out:
                while chunk := source.read(1 << 20):
                    written += len(chunk)
                    if written > MAX_ZIP_BYTES:   # a header that lies about its size
                        raise SubmissionError(f"{archive}: it unpacks to more than {MAX_ZIP_BYTES >> 20} MB")
                    out.write(chunk)


@contextmanager
def private_copy(directory):
    """Each grading run works on its own copy, so runs never see each other's side effects."""
    with tempfile.TemporaryDirectory(prefix="graded-") as tmp:
        copy = Path(tmp) / "submission"
        shutil.copytree(directory, copy, symlinks=True, ignore=shutil.ignore_patterns("__pycache__", ".git"))
        yield copy
