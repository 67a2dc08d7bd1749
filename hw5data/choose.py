"""Pick the NIST36 data a run uses: the real files when the user has them, else nist36-lite."""
from hw5data import nist36, nist36_lite
from hw5data.paths import DATA_DIR_ENV, nist36_dir


def nist36_data(data_dir=None, seed=0):
    """Returns (splits {'train': (x, y), ...}, description naming the data set and its folder).

    Real NIST36 from data_dir or $HW5_DATA_DIR when given (a DataError if its files are wrong);
    otherwise nist36-lite, built from the shared real handwriting and cached.
    """
    folder = nist36_dir(data_dir)
    if folder is not None:
        return nist36.load(folder), f"NIST36 (the handout's files in {folder})"
    splits, cache = nist36_lite.cached(seed=seed)
    sizes = "/".join(str(len(x)) for x, _ in splits.values())
    return splits, (f"nist36-lite ({sizes} train/valid/test, built from real handwriting, cached in {cache}); "
                    f"set {DATA_DIR_ENV} to grade on the handout's NIST36")
