"""Reading back what untrusted code wrote, without following it anywhere else."""
import os
import stat
from pathlib import Path

MAX_FILE_READ = 20 << 20        # the largest file read back by default


def read_file_under(path, root, max_bytes=MAX_FILE_READ):
    """The bytes of a regular file at `path` (a path the untrusted code gave or wrote), read only if
    what actually opens is a regular file inside `root`: a symlink or a renamed folder that points
    elsewhere, a FIFO or a device is refused (OSError), so this process never reads or waits on
    anything the untrusted code aims it at. Reads at most max_bytes (ValueError beyond)."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        where = Path(os.readlink(f"/proc/self/fd/{fd}"))  # what was opened, after every link
        if not stat.S_ISREG(os.fstat(fd).st_mode) or not where.is_relative_to(Path(root).resolve()):
            raise OSError(f"{path} is not a file in the folder the grader gave")
        if os.fstat(fd).st_size > max_bytes:
            raise ValueError(f"{path} is larger than {max_bytes >> 20} MB")
        with os.fdopen(fd, "rb", closefd=False) as f:
            return f.read(max_bytes + 1)[:max_bytes]
    finally:
        os.close(fd)
