"""Where data lives: the user's NIST36 folder, the shared real-handwriting folder, and the cache."""
import json
import os
from importlib import metadata
from pathlib import Path
from urllib.parse import unquote, urlparse

PROJECT_DIR = Path(__file__).resolve().parents[1]   # a source checkout, or site-packages for a wheel
DISTRIBUTION = "hw5-autograde"
SHARED_DATA = Path("shared") / "data"
DATA_DIR_ENV = "HW5_DATA_DIR"        # folder holding the handout's nist36_{train,valid,test}.mat
SHARED_DATA_ENV = "HW5_SHARED_DATA"  # folder laid out like ../shared/data (see its PROVENANCE.md)
CACHE_DIR_ENV = "HW5_CACHE_DIR"      # where built data sets are cached (never inside the repository)


def nist36_dir(explicit=None):
    """The folder with the real NIST36 .mat files: `explicit`, else $HW5_DATA_DIR, else None."""
    chosen = explicit or os.environ.get(DATA_DIR_ENV)
    return Path(chosen).expanduser() if chosen else None


def shared_data_dir():
    """The shared real-data folder: $HW5_SHARED_DATA; else the first shared/data found beside (in or
    up to three folders above) the source checkout this code runs from, the folder a wheel of it was
    installed from (pip records it: PEP 610's direct_url.json), or the current folder. Where none
    exists: the checkout's ../shared/data, for messages that say where it was looked for."""
    if os.environ.get(SHARED_DATA_ENV):
        return Path(os.environ[SHARED_DATA_ENV]).expanduser()
    for start in (PROJECT_DIR, _installed_from(), Path.cwd()):
        for folder in [start, *start.parents][:4] if start is not None else ():
            if (folder / SHARED_DATA).is_dir():
                return folder / SHARED_DATA
    return PROJECT_DIR.parent / SHARED_DATA


def _installed_from():
    """The local folder (or wheel file) this package was pip-installed from, or None."""
    try:
        record = json.loads(metadata.distribution(DISTRIBUTION).read_text("direct_url.json") or "null")
        url = urlparse(record["url"])
    except (metadata.PackageNotFoundError, ValueError, TypeError, KeyError):
        return None
    return Path(unquote(url.path)) if url.scheme == "file" else None


def cache_dir():
    """The cache folder for built data sets: $HW5_CACHE_DIR, else ~/.cache/hw5-autograde."""
    return Path(os.environ.get(CACHE_DIR_ENV) or Path.home() / ".cache" / "hw5-autograde").expanduser()
