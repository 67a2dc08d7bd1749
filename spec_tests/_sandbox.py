"""Start the submission's worker process (spec_tests/_worker.py) inside a sandbox.

With bubblewrap (`bwrap`): no network, its own process/IPC/UTS namespaces, a private /tmp, and a
file system that holds only what Python needs (the system's libraries, the interpreter and its
site-packages), the grader's spec_tests package, the submission (read-only) and the test's own
temporary folder (writable: figures go there). The reference solution, the fixtures' expected
scores, home directories and other submissions are simply not there. Without bubblewrap it falls
back to a plain process, and says so (HW5_SANDBOX=none, or `auto` when bwrap cannot run).

Either way the worker gets rlimits: address space, file size, core dumps, CPU time when asked, and
a cap on processes (RLIMIT_NPROC). Where the grader runs as root and may make cgroups (not in a
container whose cgroup file system is read-only), the worker also runs in cgroups of its own: pids
(RLIMIT_NPROC does not bind root) and memory, which caps all its processes together at the same
figure as each one's address space. It dies with the test process (PR_SET_PDEATHSIG /
--die-with-parent). Its oom_score_adj is 1000: where the machine or container runs out of memory
(a Gradescope container has 768 MB), the kernel kills the submission's worker, not the test
process or autograde, so the report is still written.
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
import tempfile
import time
from pathlib import Path

from spec_tests._compat import ENABLED_VARIABLE as COMPAT_VARIABLE  # "0": removed APIs are not translated

SANDBOX_VARIABLE = "HW5_SANDBOX"          # bwrap | none | auto (default: bwrap where it runs)
MEMORY_VARIABLE = "HW5_WORKER_MEMORY_MB"  # address-space cap of the worker, MB
CPU_VARIABLE = "HW5_WORKER_CPU_SECONDS"   # CPU-time cap of the worker, seconds (default: none)
DEFAULT_MEMORY_MB = 4096
MAX_PROCESSES = 64
MAX_FILE_BYTES = 64 << 20                 # largest file (or stdout) the submission may write
OOM_SCORE_ADJ = 1000                      # the worker is the OOM killer's first choice
PACKAGE_DIR = Path(__file__).resolve().parent
SYSTEM_PATHS = ("/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin", "/etc/ld.so.cache", "/etc/alternatives",
                "/etc/fonts", "/etc/localtime", "/etc/passwd", "/etc/group", "/etc/nsswitch.conf")
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
_cgroups = itertools.count()
CGROUP_PREFIX = "hw5-worker-"
CGROUP_HIERARCHIES = (("pids", Path("/sys/fs/cgroup/pids")), ("memory", Path("/sys/fs/cgroup/memory")),
                      ("", Path("/sys/fs/cgroup")))  # v1 controllers' own hierarchies, then v2's unified one
_LIBC = ctypes.CDLL(None, use_errno=True)  # loaded now: dlopen between fork and exec can deadlock


class SandboxUnavailable(RuntimeError):
    """HW5_SANDBOX=bwrap was asked for and bubblewrap cannot run here."""


@functools.cache
def bwrap_problem():
    """None when the worker's real bubblewrap command line starts Python here, else why not."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return "bubblewrap (bwrap) is not installed"
    with tempfile.TemporaryDirectory(prefix="hw5-sandbox-probe-") as tmp:
        folder = Path(tmp).resolve()
        command = _bwrap_command(folder, folder, _worker_env(folder))
        try:
            done = subprocess.run([*command, sys.executable, "-c", "import numpy, spec_tests._worker"],
                                  capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"bwrap could not start: {exc}"
    if done.returncode != 0:
        return f"bwrap cannot run the worker here: {done.stderr.strip()[-300:]}"
    return None


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
    env = _worker_env(writable)
    mode = sandbox_mode()
    python = [sys.executable, "-m", "spec_tests._worker"]
    command = python if mode == "none" else _bwrap_command(submission, writable, env) + python
    root = os.geteuid() == 0
    memory = int(os.environ.get(MEMORY_VARIABLE) or DEFAULT_MEMORY_MB) << 20
    cgroups = make_cgroups(memory, MAX_PROCESSES) if root else []
    # Counted here, not in the child: between fork and exec only async-signal-safe work is safe.
    processes = None if root else _tasks_of_this_user() + MAX_PROCESSES
    to_worker_r, to_worker_w = os.pipe()
    from_worker_r, from_worker_w = os.pipe()
    try:
        process = subprocess.Popen([*command, str(to_worker_r), str(from_worker_w), str(submission)], cwd=writable,
                                   env=env, stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT,
                                   pass_fds=(to_worker_r, from_worker_w),
                                   preexec_fn=functools.partial(_limit_child, memory, cgroups, processes))
    except BaseException:
        for fd in (to_worker_w, from_worker_r):
            os.close(fd)
        _remove_cgroups(cgroups)
        raise
    finally:
        os.close(to_worker_r)
        os.close(from_worker_w)
    return process, (from_worker_r, to_worker_w), functools.partial(_remove_cgroups, cgroups)


def _worker_env(writable):
    """A clean environment: nothing of the grader's (tokens, paths) reaches the submission.
    matplotlib's font cache lives in the writable folder, so later workers of this test run reuse it."""
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": "/tmp", "LANG": "C.UTF-8", "MPLBACKEND": "Agg",
            "MPLCONFIGDIR": str(writable / ".matplotlib"), "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONPATH": str(PACKAGE_DIR.parent),
            **{name: os.environ[name] for name in (*THREAD_VARIABLES, COMPAT_VARIABLE) if name in os.environ}}


def _bwrap_command(submission, writable, env):
    python_dirs = {sys.prefix, sys.base_prefix, sys.exec_prefix, str(Path(sys.executable).resolve().parent.parent),
                   *(sysconfig.get_paths()[k] for k in ("stdlib", "platstdlib", "purelib", "platlib"))}
    # --as-pid-1: when the worker ends, the kernel ends everything it left behind in its namespace,
    # so a forked child cannot keep the pipe open (bwrap's own pid 1 would wait for it).
    command = ["bwrap", "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL", "--as-pid-1"]
    command += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]  # first: later binds may lie under /tmp
    for path in (*SYSTEM_PATHS, *sorted(python_dirs)):
        command += ["--ro-bind-try", path, path]
    command += ["--ro-bind", str(PACKAGE_DIR), str(PACKAGE_DIR),
                "--ro-bind", str(submission), str(submission),
                "--bind", str(writable), str(writable), "--chdir", str(writable), "--clearenv"]
    for name, value in env.items():
        command += ["--setenv", name, value]
    return command


def _limit_child(memory, cgroups, processes):
    """In the child before exec: rlimits, die with the test process, join its cgroups, and be
    the first process the kernel's out-of-memory killer picks."""
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_FSIZE, (MAX_FILE_BYTES, MAX_FILE_BYTES))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if os.environ.get(CPU_VARIABLE):
        seconds = int(float(os.environ[CPU_VARIABLE]))
        resource.setrlimit(resource.RLIMIT_CPU, (seconds, seconds + 5))
    if processes is not None:
        resource.setrlimit(resource.RLIMIT_NPROC, (processes, processes))
    for group in cgroups:
        fd = os.open(group / "cgroup.procs", os.O_WRONLY)
        os.write(fd, str(os.getpid()).encode())
        os.close(fd)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the file-size cap fails instead of killing
    try:  # in a container short of memory the kernel's OOM killer then picks the worker, not the grader
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


def make_cgroups(memory_bytes, processes=None, prefix=CGROUP_PREFIX):
    """Fresh cgroups, each inside this process's own (so what joins them stays under the limits the
    grader runs under): the memory of all their processes together (page cache included, no swap)
    capped at memory_bytes, and their tasks at `processes` where given. cgroup v1 has one hierarchy
    per controller, v2 one for all. Returns the groups made: none where the hierarchies are
    read-only (a container) or missing, and then only the rlimits bind."""
    pids = [("pids.max", processes)] if processes else []
    limits = {"pids": pids,
              "memory": [("memory.limit_in_bytes", memory_bytes), ("memory.memsw.limit_in_bytes", memory_bytes)],
              "": [*pids, ("memory.max", memory_bytes), ("memory.swap.max", 0)]}
    groups = []
    for controller, root in CGROUP_HIERARCHIES:
        own = _own_cgroup(controller)
        parent = root / own.lstrip("/") if own is not None else None
        if parent is None or not (parent / "cgroup.procs").exists() or not os.access(parent, os.W_OK):
            continue
        if not limits[controller]:
            continue
        group = parent / f"{prefix}{os.getpid()}-{next(_cgroups)}"
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
            _remove_cgroup(group)
    return groups


def _own_cgroup(controller):
    """This process's cgroup path for a v1 controller ('pids'), or in the v2 hierarchy (''), or None."""
    try:
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            if (controller and controller in controllers.split(",")) or (not controller and controllers == ""):
                return path
    except (OSError, ValueError):
        pass
    return None


def remove_worker_cgroups(pid):
    """Remove the cgroups the test process `pid` made, killing what is left in them: a test process
    killed at its time limit cannot clean up after itself (autograde calls this)."""
    for controller, root in CGROUP_HIERARCHIES:
        own = _own_cgroup(controller)
        if own is not None:
            for group in (root / own.lstrip("/")).glob(f"{CGROUP_PREFIX}{pid}-*"):
                _remove_cgroup(group)


def _remove_cgroups(groups):
    for group in groups:
        _remove_cgroup(group)


def _remove_cgroup(group):
    """Kill whatever is left in the cgroup (the worker's children) and remove it. A killed process
    can take seconds to go from a cgroup at its memory limit: it waits up to 10 s for that."""
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
