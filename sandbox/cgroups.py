"""cgroups for the workers: made, and removed, here only.

Where the grader runs as root and may make cgroups (not in a container whose cgroup file system is
read-only), each worker runs in cgroups of its own: pids (RLIMIT_NPROC does not bind root) and
memory, which caps all its processes together. A group is named after the process that made it,
so the supervisor of that process can remove what it left behind when it had to be killed
(`remove_left_by`).
"""
import itertools
import os
import signal
import time
from pathlib import Path

PREFIX = "sandbox-worker-"
HIERARCHIES = (("pids", Path("/sys/fs/cgroup/pids")), ("memory", Path("/sys/fs/cgroup/memory")),
               ("", Path("/sys/fs/cgroup")))  # v1 controllers' own hierarchies, then v2's unified one
_numbers = itertools.count()


def make(memory_bytes, processes=None, prefix=PREFIX):
    """Fresh cgroups, each inside this process's own (so what joins them stays under the limits the
    grader runs under): the memory of all their processes together (page cache included, no swap)
    capped at memory_bytes, and their tasks at `processes` where given. cgroup v1 has one hierarchy
    per controller, v2 one for all. Returns the groups made (Paths): none where the hierarchies are
    read-only (a container) or missing, and then only the rlimits bind. prefix: the groups' names
    start with it (remove_left_by finds only the default's)."""
    pids = [("pids.max", processes)] if processes else []
    limits = {"pids": pids,
              "memory": [("memory.limit_in_bytes", memory_bytes), ("memory.memsw.limit_in_bytes", memory_bytes)],
              "": [*pids, ("memory.max", memory_bytes), ("memory.swap.max", 0)]}
    groups = []
    for controller, root in HIERARCHIES:
        parent = _own_group(controller, root)
        if parent is None or not (parent / "cgroup.procs").exists() or not os.access(parent, os.W_OK):
            continue
        if not limits[controller]:
            continue
        group = parent / f"{prefix}{os.getpid()}-{next(_numbers)}"
        try:
            group.mkdir()
        except OSError:
            continue
        capped = False
        for name, value in limits[controller]:
            try:  # the order matters: v1's memsw limit may not be set below the memory limit
                (group / name).write_text(str(value))
                capped = True
            except OSError:  # a controller this parent does not delegate, or no swap accounting
                pass
        if capped:
            groups.append(group)
        else:
            _remove(group)
    return groups


def remove(groups):
    """Kill what is left in each group (the worker's children) and remove the groups."""
    for group in groups:
        _remove(group)


def remove_left_by(pid):
    """Remove the cgroups that process `pid` made (and kill what is in them): a process killed at
    its time limit cannot clean up after itself."""
    for controller, root in HIERARCHIES:
        parent = _own_group(controller, root)
        if parent is not None:
            for group in parent.glob(f"{PREFIX}{pid}-*"):
                _remove(group)


def _own_group(controller, root):
    """This process's cgroup folder for a v1 controller ('pids'), or in the v2 hierarchy (''), or None."""
    try:
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            if (controller and controller in controllers.split(",")) or (not controller and controllers == ""):
                return root / path.lstrip("/")
    except (OSError, ValueError):
        pass
    return None


def _remove(group):
    """Kill whatever is left in the cgroup and remove it. A killed process can take seconds to go
    from a cgroup at its memory limit: it waits up to 10 s for that."""
    deadline = time.monotonic() + 10
    while True:
        try:
            for pid in (group / "cgroup.procs").read_text().split():
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (ProcessLookupError, ValueError):
                    pass
            group.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            if time.monotonic() > deadline:
                return
            time.sleep(0.02)
