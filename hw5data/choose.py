"""Pick the NIST36 data a run uses: the real files when the user has them, else nist36-lite."""
from typing import NamedTuple

from hw5data import nist36, nist36_lite
from hw5data.paths import DATA_DIR_ENV, nist36_dir

REAL, LITE = "NIST36", "nist36-lite"


class Nist36Data(NamedTuple):
    splits: dict        # {'train': (x (N, 1024), y (N, 36)), 'valid': ..., 'test': ...}
    name: str           # REAL or LITE
    description: str    # the name, where the files are, and how to switch: for reports


def nist36_data(data_dir=None, seed=0):
    """Real NIST36 from data_dir or $HW5_DATA_DIR when given (a DataError if its files are wrong);
    otherwise nist36-lite, built from the shared real handwriting and cached. Returns Nist36Data.
    """
    folder = nist36_dir(data_dir)
    if folder is not None:
        return Nist36Data(nist36.load(folder), REAL, f"{REAL} (the handout's files in {folder})")
    splits, cache = nist36_lite.cached(seed=seed)
    sizes = "/".join(str(len(x)) for x, _ in splits.values())
    return Nist36Data(splits, LITE, f"{LITE} ({sizes} train/valid/test, built from real handwriting, cached in "
                                    f"{cache}); set {DATA_DIR_ENV} to grade on the handout's NIST36")
