"""Process bookkeeping for tests that check the grader leaves no process behind."""
import ctypes
import os
from pathlib import Path

PR_SET_CHILD_SUBREAPER = 36


def set_subreaper(on):
    """Orphans of this process's descendants (a setsid'd sleeper included) are re-parented to this
    process instead of to init, so the teardown can find every process the grading left behind."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, int(on), 0, 0, 0)


def living_descendants():
    """{pid: command line} of this process's descendants that are not zombies (a zombie runs no code;
    an orphan that died here waits to be reaped by this process)."""
    children, commands = {}, {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            state, ppid = stat[stat.rindex(")") + 2:].split()[:2]
            commands[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ")[:200]
        except (OSError, ValueError):
            continue
        if state == "Z":
            try:
                os.waitpid(int(entry.name), os.WNOHANG)   # an orphan re-parented here
            except ChildProcessError:
                pass
        else:
            children.setdefault(int(ppid), []).append(int(entry.name))
    found, todo = {}, [os.getpid()]
    while todo:
        for child in children.get(todo.pop(), []):
            found[child] = commands.get(child, b"").decode(errors="replace")
            todo.append(child)
    return found
