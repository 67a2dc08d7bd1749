"""Start the submission's worker process (spec_tests/_worker.py) inside a sandbox.

With bubblewrap (`bwrap`): no network, its own process/IPC/UTS namespaces, a private /tmp, and a
file system that holds only what Python needs (the system's libraries, the interpreter and its
site-packages), the grader's spec_tests package, the submission (read-only) and the test's own
temporary folder (writable: figures go there). The reference solution, the fixtures' expected
scores, home directories and other submissions are simply not there. Without bubblewrap it falls
back to a plain process, and says so (HW5_SANDBOX=none, or `auto` when bwrap cannot run).

Either way the worker gets rlimits: address space, file size, core dumps, CPU time when asked, and
a cap on processes (RLIMIT_NPROC, or a pids cgroup where the grader runs as root, which
RLIMIT_NPROC does not bind). It dies with the test process (PR_SET_PDEATHSIG / --die-with-parent).
"""
import ctypes
import functools
import itertools
import os
import resource
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

SANDBOX_VARIABLE = "HW5_SANDBOX"          # bwrap | none | auto (default: bwrap where it runs)
MEMORY_VARIABLE = "HW5_WORKER_MEMORY_MB"  # address-space cap of the worker, MB
CPU_VARIABLE = "HW5_WORKER_CPU_SECONDS"   # CPU-time cap of the worker, seconds (default: none)
DEFAULT_MEMORY_MB = 4096
MAX_PROCESSES = 64
MAX_FILE_BYTES = 64 << 20                 # largest file (or stdout) the submission may write
PACKAGE_DIR = Path(__file__).resolve().parent
SYSTEM_PATHS = ("/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin", "/etc/ld.so.cache", "/etc/alternatives",
                "/etc/fonts", "/etc/localtime", "/etc/passwd", "/etc/group", "/etc/nsswitch.conf")
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
_cgroups = itertools.count()


class SandboxUnavailable(RuntimeError):
    """HW5_SANDBOX=bwrap was asked for and bubblewrap cannot run here."""


@functools.cache
def bwrap_problem():
    """None when bubblewrap runs here, else why not (one line)."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return "bubblewrap (bwrap) is not installed"
    try:
        done = subprocess.run([bwrap, "--ro-bind", "/", "/", "--unshare-all", "--die-with-parent", "true"],
                              capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bwrap could not start: {exc}"
    return None if done.returncode == 0 else f"bwrap cannot create namespaces here: {done.stderr.strip()[:200]}"


def sandbox_mode():
    """'bwrap' or 'none', from $HW5_SANDBOX (auto: bwrap where it runs). Raises SandboxUnavailable
    when bwrap is required and cannot run."""
    wanted = os.environ.get(SANDBOX_VARIABLE, "auto").strip().lower() or "auto"
    if wanted == "none":
        return "none"
    problem = bwrap_problem()
    if wanted == "bwrap" and problem:
        raise SandboxUnavailable(f"{SANDBOX_VARIABLE}=bwrap but {problem}")
    return "none" if problem else "bwrap"


def start_worker(submission, writable, output):
    """Start `python -m spec_tests._worker` on the submission directory.

    writable: the one host folder it may write (the test's temporary folder), also its cwd.
    output: where its stdout and stderr go (a binary file, or subprocess.PIPE).
    The BLAS/OpenMP thread caps of this process (autograde sets them) pass on to the worker.
    Returns: (Popen, (read fd, write fd) of the grader's ends of the pipes, cleanup callable).
    """
    submission, writable = Path(submission).resolve(), Path(writable).resolve()
    to_worker_r, to_worker_w = os.pipe()
    from_worker_r, from_worker_w = os.pipe()
    python = [sys.executable, "-m", "spec_tests._worker", str(to_worker_r), str(from_worker_w), str(submission)]
    env = _worker_env(writable)
    mode = sandbox_mode()
    command = python if mode == "none" else _bwrap_command(submission, writable, env) + python
    cgroup = _pids_cgroup() if os.geteuid() == 0 else None
    try:
        process = subprocess.Popen(command, cwd=writable, env=env, stdin=subprocess.DEVNULL, stdout=output,
                                   stderr=subprocess.STDOUT, pass_fds=(to_worker_r, from_worker_w),
                                   preexec_fn=functools.partial(_limit_child, cgroup))
    finally:
        os.close(to_worker_r)
        os.close(from_worker_w)
    return process, (from_worker_r, to_worker_w), functools.partial(_remove_cgroup, cgroup)


def _worker_env(writable):
    """A clean environment: nothing of the grader's (tokens, paths) reaches the submission.
    matplotlib's font cache lives in the writable folder, so later workers of this test run reuse it."""
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": "/tmp", "LANG": "C.UTF-8", "MPLBACKEND": "Agg",
            "MPLCONFIGDIR": str(writable / ".matplotlib"), "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONPATH": str(PACKAGE_DIR.parent),
            **{name: os.environ[name] for name in THREAD_VARIABLES if name in os.environ}}


def _bwrap_command(submission, writable, env):
    python_dirs = {sys.prefix, sys.base_prefix, sys.exec_prefix, str(Path(sys.executable).resolve().parent.parent),
                   *(sysconfig.get_paths()[k] for k in ("stdlib", "platstdlib", "purelib", "platlib"))}
    command = ["bwrap", "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL"]
    for path in (*SYSTEM_PATHS, *sorted(python_dirs)):
        command += ["--ro-bind-try", path, path]
    command += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp",
                "--ro-bind", str(PACKAGE_DIR), str(PACKAGE_DIR),
                "--ro-bind", str(submission), str(submission),
                "--bind", str(writable), str(writable), "--chdir", str(writable), "--clearenv"]
    for name, value in env.items():
        command += ["--setenv", name, value]
    return command


def _limit_child(cgroup):
    """In the child before exec: rlimits, die with the test process, join the pids cgroup."""
    memory = int(os.environ.get(MEMORY_VARIABLE) or DEFAULT_MEMORY_MB) << 20
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_FSIZE, (MAX_FILE_BYTES, MAX_FILE_BYTES))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if os.environ.get(CPU_VARIABLE):
        seconds = int(float(os.environ[CPU_VARIABLE]))
        resource.setrlimit(resource.RLIMIT_CPU, (seconds, seconds + 5))
    if os.geteuid() != 0:
        processes = _processes_of_this_user() + MAX_PROCESSES
        resource.setrlimit(resource.RLIMIT_NPROC, (processes, processes))
    elif cgroup is not None:
        (cgroup / "cgroup.procs").write_text(str(os.getpid()))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the file-size cap fails instead of killing
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _processes_of_this_user():
    uid = os.getuid()
    count = 0
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                count += entry.stat().st_uid == uid
            except OSError:
                pass
    return count


def _pids_cgroup():
    """A fresh pids cgroup capped at MAX_PROCESSES (root only: RLIMIT_NPROC does not bind root), or None."""
    for root in (Path("/sys/fs/cgroup/pids"), Path("/sys/fs/cgroup")):
        if not (root / "cgroup.procs").exists() or not os.access(root, os.W_OK):
            continue
        group = root / f"hw5-worker-{os.getpid()}-{next(_cgroups)}"
        try:
            group.mkdir()
            (group / "pids.max").write_text(str(MAX_PROCESSES))
            return group
        except OSError:
            _remove_cgroup(group)
    return None


def _remove_cgroup(group):
    """Kill whatever is left in the cgroup (the worker's children) and remove it."""
    if group is None:
        return
    for _ in range(50):
        try:
            for pid in (group / "cgroup.procs").read_text().split():
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (ProcessLookupError, ValueError):
                    pass
            group.rmdir()
            return
        except OSError:
            time.sleep(0.02)
