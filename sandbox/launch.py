"""Start a worker process (sandbox/worker.py) on an untrusted folder, inside a sandbox.

With bubblewrap (`bwrap`): no network, its own process/IPC/UTS namespaces, a private /tmp, and a
file system that holds only what Python needs (the system's libraries, the interpreter and its
site-packages), the code folders the caller names (read-only), the untrusted folder (read-only)
and one writable folder. The folders the caller hides (answers, oracles) are empty there, even
where they lie inside site-packages. Without bubblewrap it falls back to a plain process (mode
"none", or "auto" where bwrap cannot run), and the caller should say so.

Either way the worker gets rlimits: address space, file size, core dumps, CPU time when asked, and
a cap on processes (RLIMIT_NPROC). Where this process runs as root and may make cgroups, the
worker also runs in cgroups of its own (sandbox/cgroups.py). It dies with the process that started
it (PR_SET_PDEATHSIG / --die-with-parent). Its oom_score_adj is 1000: where the machine or
container runs out of memory, the kernel kills the worker, not the process that judges its answers.
"""
import ctypes
import functools
import os
import resource
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sandbox import cgroups

SANDBOX_PACKAGE = Path(__file__).resolve().parent
MODES = ("auto", "bwrap", "none")
OOM_SCORE_ADJ = 1000                      # the worker is the OOM killer's first choice
SYSTEM_PATHS = ("/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin", "/etc/ld.so.cache", "/etc/alternatives",
                "/etc/fonts", "/etc/localtime", "/etc/passwd", "/etc/group", "/etc/nsswitch.conf")
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")  # passed on: the caller's caps
_LIBC = ctypes.CDLL(None, use_errno=True)  # loaded now: dlopen between fork and exec can deadlock


@dataclass(frozen=True)
class Sandbox:
    """How a worker starts. The defaults suit any untrusted Python code; a caller adds its own code
    folders, hidden folders, modules to load first and set-up functions."""
    mode: str = "auto"                 # "bwrap", "none" (a plain process) or "auto" (bwrap where it runs)
    memory_mb: int = 4096              # address space of each process; with cgroups, of all together
    cpu_seconds: int | None = None     # CPU-time cap (None: none)
    processes: int = 64                # tasks the worker may add
    file_bytes: int = 64 << 20         # largest file (or stdout) the untrusted code may write
    code: tuple = ()                   # package folders the worker imports from: bound read-only, parents on PYTHONPATH
    hidden: tuple = ()                 # folders the worker must not see (answers): empty there
    preload: tuple = ()                # modules the worker imports before the untrusted folder joins sys.path
    setup: tuple = ()                  # "module:function" names, each called with the untrusted folder first
    env: tuple = ()                    # (name, value) pairs added to the worker's clean environment


class SandboxUnavailable(RuntimeError):
    """mode "bwrap" was asked for and bubblewrap cannot run here."""


@functools.cache
def bwrap_problem():
    """None when a worker's bubblewrap command line starts Python here, else why not."""
    if shutil.which("bwrap") is None:
        return "bubblewrap (bwrap) is not installed"
    with tempfile.TemporaryDirectory(prefix="sandbox-probe-") as tmp:
        folder = Path(tmp).resolve()
        command = _bwrap_command(Sandbox(), folder, folder, _worker_env(Sandbox(), folder))
        try:
            done = subprocess.run([*command, sys.executable, "-c", "import numpy, sandbox.worker"],
                                  capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"bwrap could not start: {exc}"
    if done.returncode != 0:
        return f"bwrap cannot run the worker here: {done.stderr.strip()[-300:]}"
    return None


def resolve_mode(wanted="auto"):
    """'bwrap' or 'none' for a wanted mode (auto: bwrap where it runs). Raises SandboxUnavailable
    when bwrap is required and cannot run, ValueError for an unknown mode."""
    wanted = (wanted or "auto").strip().lower()
    if wanted not in MODES:
        raise ValueError(f"sandbox mode {wanted!r}: expected one of {', '.join(MODES)}")
    if wanted == "none":
        return "none"
    problem = bwrap_problem()
    if wanted == "bwrap" and problem:
        raise SandboxUnavailable(f"the bwrap sandbox was asked for but {problem}")
    return "none" if problem else "bwrap"


def start_worker(sandbox, directory, writable, output):
    """Start `python -m sandbox.worker` on the untrusted `directory`.

    writable: the one host folder it may write, also its cwd. output: where its stdout and stderr
    go (a binary file, or subprocess.PIPE). The BLAS/OpenMP thread caps of this process pass on.
    Returns: (Popen, (read fd, write fd) of this side's ends of the pipes, cleanup callable that
    removes its cgroups once it has ended).
    """
    directory, writable = Path(directory).resolve(), Path(writable).resolve()
    env = _worker_env(sandbox, writable)
    python = [sys.executable, "-m", "sandbox.worker"]
    command = python if resolve_mode(sandbox.mode) == "none" else _bwrap_command(sandbox, directory, writable, env) + python
    root = os.geteuid() == 0
    memory = sandbox.memory_mb << 20
    groups = cgroups.make(memory, sandbox.processes) if root else []
    # Counted here, not in the child: between fork and exec only async-signal-safe work is safe.
    processes = None if root else _tasks_of_this_user() + sandbox.processes
    options = [arg for name in sandbox.preload for arg in ("--preload", name)]
    options += [arg for name in sandbox.setup for arg in ("--setup", name)]
    to_worker_r, to_worker_w = os.pipe()
    from_worker_r, from_worker_w = os.pipe()
    try:
        process = subprocess.Popen([*command, str(to_worker_r), str(from_worker_w), str(directory), *options],
                                   cwd=writable, env=env, stdin=subprocess.DEVNULL, stdout=output,
                                   stderr=subprocess.STDOUT, pass_fds=(to_worker_r, from_worker_w),
                                   preexec_fn=functools.partial(_limit_child, sandbox, memory, groups, processes))
    except BaseException:
        for fd in (to_worker_w, from_worker_r):
            os.close(fd)
        cgroups.remove(groups)
        raise
    finally:
        os.close(to_worker_r)
        os.close(from_worker_w)
    return process, (from_worker_r, to_worker_w), functools.partial(cgroups.remove, groups)


def _code_folders(sandbox):
    return tuple(dict.fromkeys([SANDBOX_PACKAGE, *(Path(p).resolve() for p in sandbox.code)]))


def _worker_env(sandbox, writable):
    """A clean environment: nothing of the caller's (tokens, paths) reaches the untrusted code.
    matplotlib's font cache lives in the writable folder, so later workers on it reuse it."""
    pythonpath = ":".join(dict.fromkeys(str(folder.parent) for folder in _code_folders(sandbox)))
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": "/tmp", "LANG": "C.UTF-8", "MPLBACKEND": "Agg",
            "MPLCONFIGDIR": str(writable / ".matplotlib"), "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONPATH": pythonpath, **{name: os.environ[name] for name in THREAD_VARIABLES if name in os.environ},
            **dict(sandbox.env)}


def _bwrap_command(sandbox, directory, writable, env):
    python_dirs = {sys.prefix, sys.base_prefix, sys.exec_prefix, str(Path(sys.executable).resolve().parent.parent),
                   *(sysconfig.get_paths()[k] for k in ("stdlib", "platstdlib", "purelib", "platlib"))}
    # --as-pid-1: when the worker ends, the kernel ends everything it left behind in its namespace,
    # so a forked child cannot keep the pipe open (bwrap's own pid 1 would wait for it).
    command = ["bwrap", "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL", "--as-pid-1"]
    command += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]  # first: later binds may lie under /tmp
    for path in (*SYSTEM_PATHS, *sorted(python_dirs)):
        command += ["--ro-bind-try", path, path]
    for folder in _code_folders(sandbox):
        command += ["--ro-bind", str(folder), str(folder)]
    command += ["--ro-bind", str(directory), str(directory), "--bind", str(writable), str(writable)]
    for folder in map(Path, sandbox.hidden):  # after the binds that hold them; never the graded folder itself
        folder = folder.resolve()
        if folder.is_dir() and not directory.is_relative_to(folder) and not writable.is_relative_to(folder):
            command += ["--tmpfs", str(folder), "--remount-ro", str(folder)]
    command += ["--chdir", str(writable), "--clearenv"]
    for name, value in env.items():
        command += ["--setenv", name, value]
    return command


def _limit_child(sandbox, memory, groups, processes):
    """In the child before exec: rlimits, die with the parent, join its cgroups, and be the first
    process the kernel's out-of-memory killer picks."""
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_FSIZE, (sandbox.file_bytes, sandbox.file_bytes))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if sandbox.cpu_seconds:
        resource.setrlimit(resource.RLIMIT_CPU, (sandbox.cpu_seconds, sandbox.cpu_seconds + 5))
    if processes is not None:
        resource.setrlimit(resource.RLIMIT_NPROC, (processes, processes))
    for group in groups:
        fd = os.open(group / "cgroup.procs", os.O_WRONLY)
        os.write(fd, str(os.getpid()).encode())
        os.close(fd)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the file-size cap fails instead of killing
    try:  # in a container short of memory the kernel's OOM killer then picks the worker
        fd = os.open("/proc/self/oom_score_adj", os.O_WRONLY)
        os.write(fd, str(OOM_SCORE_ADJ).encode())
        os.close(fd)
    except OSError:
        pass
    _LIBC.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _tasks_of_this_user():
    """Threads of this uid now: RLIMIT_NPROC counts threads, not processes."""
    uid, count = os.getuid(), 0
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                if entry.stat().st_uid == uid:
                    count += len(os.listdir(f"/proc/{entry.name}/task"))
            except OSError:
                pass
    return count
