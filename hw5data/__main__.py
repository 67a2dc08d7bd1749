"""python -m hw5data build-lite [--seed N] [--montage PNG]: build (or read) the cached nist36-lite.
python -m hw5data download --to DIR [--only data|images]: fetch the handout's archives, checked."""
import argparse
import sys

import numpy as np

from hw5data import download, nist36_lite
from hw5data.montage import save_montage


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m hw5data", description=__doc__)
    parser.add_argument("command", choices=["build-lite", "download"])
    parser.add_argument("--seed", type=int, default=0, help="build-lite: split seed (default 0)")
    parser.add_argument("--montage", help="build-lite: also write a PNG montage of the training split here")
    parser.add_argument("--to", default="hw5-data", help="download: target folder (default ./hw5-data)")
    parser.add_argument("--only", choices=sorted(download.ARCHIVES), action="append", help="download: one archive only")
    args = parser.parse_args(argv)
    if args.command == "download":
        try:
            folders = download.download(args.to, args.only or tuple(download.ARCHIVES))
        except download.DownloadError as exc:
            print(f"hw5data: {exc}", file=sys.stderr)
            return 1
        for name, folder in folders.items():
            print(f"{name}: {folder}")
        print(f"grade on the real NIST36 with: export HW5_DATA_DIR={folders.get('data', '<folder>')}")
        return 0
    try:
        splits, folder = nist36_lite.cached(seed=args.seed)
    except nist36_lite.MissingSourceData as exc:
        print(f"hw5data: {exc}", file=sys.stderr)
        return 2
    for split, (x, y) in splits.items():
        print(f"{split:5s} {x.shape[0]:5d} rows, {int(np.min(y.sum(0)))} per class")
    print(f"cached in {folder}")
    if args.montage:
        print(save_montage(*splits["train"], args.montage, per_class=12, title=f"nist36-lite train, seed {args.seed}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
