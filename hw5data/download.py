"""Fetch and unpack the handout's data archives (section 3: `scripts/get_data.sh`), checked.

Each archive is streamed to disk with a progress bar, its members' CRC-32s are checked
(zipfile.testzip), members are unpacked without leaving the target folder, and every expected
file is checked: the NIST36 files by their published sizes, the four images by their MD5s.
"""
import hashlib
import shutil
import tempfile
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn


class DownloadError(RuntimeError):
    """A download or an archive failed a check; the message names the file and the check."""


@dataclass(frozen=True)
class Archive:
    url: str
    folder: str                 # unpacked into <target>/<folder>/
    sizes: dict                 # expected file name -> size in bytes (None: any)
    md5s: dict                  # expected file name -> md5 hex digest


ARCHIVES = {
    "data": Archive("https://cmu.box.com/shared/static/ebklocte1t2wl4dja61dg1ct285l65md.zip", "data",
                    {"nist36_train.mat": 81_169_904, "nist36_valid.mat": 27_082_371, "nist36_test.mat": 13_541_540}, {}),
    "images": Archive("https://cmu.box.com/shared/static/147jyd6uewh1fff96yfh6e11s98v11xm.zip", "images", {}, {
        "01_list.jpg": "de2c5936b570936b640b35115f57c29f", "02_letters.jpg": "77ba3540db390c4bfbd6857400f9a2e9",
        "03_haiku.jpg": "2873d807344a7878ffd73316e9717479", "04_deep.jpg": "f41eab794019df82ee7b8df1f4324c7d"}),
}


def fetch(url, destination, chunk=1 << 20):
    """Stream url to destination (via a .part file) with a progress bar. Returns destination."""
    destination = Path(destination)
    partial = destination.with_name(destination.name + ".part")
    try:
        with urllib.request.urlopen(url, timeout=60) as response, open(partial, "wb") as out, \
                Progress("[progress.description]{task.description}", BarColumn(), DownloadColumn(),
                         TransferSpeedColumn(), transient=True) as bar:
            total = int(response.headers.get("Content-Length") or 0) or None
            task = bar.add_task(destination.name, total=total)
            while block := response.read(chunk):
                out.write(block)
                bar.advance(task, len(block))
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise DownloadError(f"{url}: download failed: {exc}") from exc
    partial.replace(destination)
    return destination


def unpack(archive_path, target, archive):
    """Check and unpack a downloaded zip into target/<archive.folder>/. Returns that folder.

    Members are found by file name wherever they sit in the zip (the handout's zips hold a top folder).
    """
    folder = Path(target) / archive.folder
    try:
        zf = zipfile.ZipFile(archive_path)
    except (OSError, zipfile.BadZipFile) as exc:
        raise DownloadError(f"{archive_path}: not a zip archive: {exc}") from exc
    with zf, tempfile.TemporaryDirectory(dir=target) as scratch:
        bad = zf.testzip()
        if bad is not None:
            raise DownloadError(f"{archive_path}: member {bad} fails its CRC-32 check (a damaged download: fetch it again)")
        for member in zf.infolist():
            if not (Path(scratch) / member.filename).resolve().is_relative_to(Path(scratch).resolve()):
                raise DownloadError(f"{archive_path}: member {member.filename!r} would unpack outside the target folder")
        zf.extractall(scratch)
        found = {p.name: p for p in Path(scratch).rglob("*") if p.is_file() and "__MACOSX" not in p.parts}
        missing = sorted((set(archive.sizes) | set(archive.md5s)) - set(found))
        if missing:
            raise DownloadError(f"{archive_path}: the archive lacks {', '.join(missing)}")
        for name, size in archive.sizes.items():
            if size is not None and found[name].stat().st_size != size:
                raise DownloadError(f"{archive_path}: {name} has {found[name].stat().st_size} bytes; the handout's has {size}")
        for name, digest in archive.md5s.items():
            if _md5(found[name]) != digest:
                raise DownloadError(f"{archive_path}: {name} has MD5 {_md5(found[name])}; the handout's is {digest}")
        folder.mkdir(parents=True, exist_ok=True)
        for name in (*archive.sizes, *archive.md5s):
            shutil.move(found[name], folder / name)
    return folder


def download(target, names=tuple(ARCHIVES)):
    """Fetch, check and unpack the named archives into target. Returns {name: folder}."""
    target = Path(target)
    target.mkdir(parents=True, exist_ok=True)
    folders = {}
    for name in names:
        archive = ARCHIVES[name]
        zipped = fetch(archive.url, target / f"{name}.zip")
        folders[name] = unpack(zipped, target, archive)
        zipped.unlink()
    return folders


def _md5(path):
    digest = hashlib.md5()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()
