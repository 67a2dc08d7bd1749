"""Where data lives: the user's NIST36 folder, the shared real-handwriting folder, and the cache."""
import os
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[1]
DATA_DIR_ENV = "HW5_DATA_DIR"        # folder holding the handout's nist36_{train,valid,test}.mat
SHARED_DATA_ENV = "HW5_SHARED_DATA"  # folder laid out like ../shared/data (see its PROVENANCE.md)
CACHE_DIR_ENV = "HW5_CACHE_DIR"      # where built data sets are cached (never inside the repository)


def nist36_dir(explicit=None):
    """The folder with the real NIST36 .mat files: `explicit`, else $HW5_DATA_DIR, else None."""
    chosen = explicit or os.environ.get(DATA_DIR_ENV)
    return Path(chosen).expanduser() if chosen else None


def shared_data_dir():
    """The shared real-data folder: $HW5_SHARED_DATA, else ../shared/data beside the project."""
    return Path(os.environ.get(SHARED_DATA_ENV) or PROJECT_DIR.parent / "shared" / "data").expanduser()


def cache_dir():
    """The cache folder for built data sets: $HW5_CACHE_DIR, else ~/.cache/hw5-autograde."""
    return Path(os.environ.get(CACHE_DIR_ENV) or Path.home() / ".cache" / "hw5-autograde").expanduser()
