"""`autograde batch --scheduler local|ADDRESS|slurm|pbs|sge`: each grading as a task on a Dask cluster.

`local` starts a LocalCluster of worker processes on this machine (one grading at a time each); an
address (tcp://host:8786) joins a running scheduler whose workers have this package installed;
`slurm`, `pbs` and `sge` start workers as batch jobs through dask-jobqueue (options --cluster-*;
`--print-job-script` shows the job script and submits nothing).

A task carries its submission as a path (`local`, or `--ship path` on a shared filesystem) or as
the bytes of a zip, runs `autograde grade` on the worker exactly as the thread pool does (batch.py:
run_grading), and returns the exit status and the files it wrote (results.json, the report, the
grading record); batch.py installs them in OUT/<name>/ as it does its own. On Ctrl-C every worker
stops its gradings (each grading kills its test processes), then the cluster closes.

On one machine the thread pool is the default: it starts nothing and measured faster
(docs/usage.md gives the figures); a cluster pays off across machines.
"""
import io
import math
import os
import signal
import sys
import tempfile
import threading
import zipfile
from pathlib import Path

from autograde.course.batch import LOG, name_of, run_grading
from autograde.grading import available_cpus
from sandbox.processes import Supervisor

JOBQUEUE = ("slurm", "pbs", "sge")
SCHEDULERS = ("local", *JOBQUEUE)
DEFAULT_CORES = 4                 # per jobqueue job: one grading each
MAX_SHIPPED_BYTES = 256 * 2**20   # what autograde.intake accepts from a zip
_running = set()                  # this worker process's supervisors, for stop_gradings
_lock = threading.Lock()


class ClusterError(RuntimeError):
    """The cluster cannot be started or joined; the message says which and how to fix it."""


class DaskEngine:
    """Grade submissions as Dask tasks. scheduler: 'local', 'slurm', 'pbs', 'sge' or an address;
    jobs: gradings at once (LocalCluster workers, or the cores that jobqueue jobs add up to);
    ship: 'path' or 'bytes' (default: path for local, bytes otherwise); cluster_options: the
    dask-jobqueue keyword arguments (cores, memory, queue, account, walltime, python,
    job_script_prologue). Use as a context manager: the cluster it started closes on the way out."""

    def __init__(self, scheduler, jobs=1, *, ship=None, cluster_options=None):
        self.scheduler, self.jobs = scheduler, max(1, jobs)
        self.ship = ship or ("path" if scheduler == "local" else "bytes")
        self.cluster_options = dict(cluster_options or {})
        self.cluster = self.client = None
        self._futures = []

    def __enter__(self):
        try:
            from distributed import Client
        except ImportError:
            raise ClusterError("--scheduler needs Dask: pip install 'hw5-autograde[cluster]'") from None
        if self.scheduler == "local":
            from distributed import LocalCluster
            # One single-threaded worker process per grading; no memory limit of Dask's own (each
            # grading's processes have theirs) and no dashboard port to collide with another batch.
            self.cluster = LocalCluster(n_workers=self.jobs, threads_per_worker=1, processes=True, memory_limit=0,
                                        dashboard_address=None, silence_logs=40)
        elif self.scheduler in JOBQUEUE:
            self.cluster = jobqueue_cluster(self.scheduler, **self.cluster_options)
            self.cluster.scale(jobs=math.ceil(self.jobs / (self.cluster_options.get("cores") or DEFAULT_CORES)))
        try:
            self.client = Client(self.cluster if self.cluster is not None else self.scheduler, timeout="30s")
        except OSError as exc:
            self.__exit__(None, None, None)
            raise ClusterError(f"cannot reach the Dask scheduler at {self.scheduler}: {exc}") from None
        return self

    def __exit__(self, exc_type, *rest):
        if self.client is not None:
            if exc_type is not None:   # an interrupt: no task starts, and those in flight stop, on every worker
                try:
                    self.client.cancel(self._futures)
                    self.client.run(stop_gradings, wait=True)
                except Exception:  # noqa: BLE001  (a worker already gone: nothing left to stop there)
                    pass
            self.client.close()
        if self.cluster is not None:
            self.cluster.close()

    def job_script(self):
        """The batch job script a jobqueue scheduler would submit (nothing is submitted)."""
        if self.scheduler not in JOBQUEUE:
            raise ClusterError("a job script exists only for --scheduler slurm, pbs or sge")
        cluster = jobqueue_cluster(self.scheduler, **self.cluster_options)
        try:
            return cluster.job_script()
        finally:
            cluster.close()

    def grade(self, todo, arguments):
        """Grade each submission with arguments(submission) (`autograde grade` options). Yields
        (submission, exit status, {relative path: bytes}) as each finishes."""
        from distributed import as_completed
        cpus = max(1, available_cpus() // self.jobs) if self.scheduler == "local" else None
        futures = {}
        for submission in todo:
            payload = {"name": name_of(submission), "options": list(arguments(submission)), "cpus": cpus}
            try:
                payload.update({"path": str(Path(submission).resolve())} if self.ship == "path" else {"zip": zipped(submission)})
            except (ClusterError, OSError) as exc:   # this one cannot be sent; the others still go
                yield submission, 2, {LOG: f"autograde batch: {exc}\n".encode()}
                continue
            future = self.client.submit(grade_task, payload, key=f"grade-{payload['name']}-{id(payload)}", pure=False)
            futures[future] = submission
            self._futures.append(future)
        for future in as_completed(futures):
            try:
                status, files = future.result()
            except Exception as exc:  # noqa: BLE001  (a worker lost mid-task: that grading has no result)
                status, files = 1, {LOG: f"autograde batch: the Dask task failed: {type(exc).__name__}: {exc}\n".encode()}
            yield futures[future], status, files


def grade_task(payload):
    """On a Dask worker: grade one submission (payload: name, options, cpus or None, and path or
    zip bytes) in a private folder. Returns (exit status, {relative path: bytes of each file written})."""
    cpus = payload["cpus"] or _worker_share()
    with tempfile.TemporaryDirectory(prefix="autograde-task-") as tmp:
        tmp = Path(tmp)
        submission = Path(payload["path"]) if "path" in payload else tmp / f"{payload['name']}.zip"
        if "zip" in payload:
            submission.write_bytes(payload["zip"])
        staging = tmp / "staging"
        supervisor = Supervisor(interrupt=signal.SIGINT)
        with _lock:
            _running.add(supervisor)
        try:
            # The grading also ends if this worker process dies (a cluster closed under it).
            status = run_grading(supervisor, submission, staging, payload["options"], cpus, preexec_fn=_die_with_parent)
        finally:
            with _lock:
                _running.discard(supervisor)
        files = {str(p.relative_to(staging)): p.read_bytes() for p in sorted(staging.rglob("*")) if p.is_file()}
    return status, files


def stop_gradings():
    """On a worker (client.run): stop every grading in flight; each kills its own test processes."""
    with _lock:
        supervisors = list(_running)
    for supervisor in supervisors:
        supervisor.stop()
    return len(supervisors)


def jobqueue_cluster(kind, **options):
    """A dask-jobqueue cluster of `kind` (slurm, pbs, sge), workers running this Python, one
    grading per core. options: cores, memory, queue, account (SGE: project), walltime, python,
    job_script_prologue. Raises ClusterError when dask-jobqueue is missing."""
    try:
        import dask_jobqueue
    except ImportError:
        raise ClusterError(f"--scheduler {kind} needs dask-jobqueue: pip install 'hw5-autograde[cluster]'") from None
    cls = {"slurm": dask_jobqueue.SLURMCluster, "pbs": dask_jobqueue.PBSCluster, "sge": dask_jobqueue.SGECluster}[kind]
    options = {key: value for key, value in options.items() if value is not None}
    if kind == "sge" and "account" in options:
        options["project"] = options.pop("account")
    cores = options.setdefault("cores", DEFAULT_CORES)
    options.setdefault("memory", f"{4 * cores}GB")          # a grading's worker may hold 4 GB (the rubric's cap)
    options.setdefault("walltime", "02:00:00")
    options.setdefault("python", sys.executable)
    # One worker process per job, `cores` threads: one grading per core (each gets one core's share).
    return cls(processes=1, **options)


def zipped(submission):
    """A submission (folder or .zip) as zip bytes for a worker that cannot read this filesystem.
    Raises ClusterError over MAX_SHIPPED_BYTES."""
    submission = Path(submission)
    if submission.is_file():
        data = submission.read_bytes()
    else:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(submission.rglob("*")):
                if path.is_file() and not path.is_symlink():
                    archive.write(path, path.relative_to(submission))
        data = buffer.getvalue()
    if len(data) > MAX_SHIPPED_BYTES:
        raise ClusterError(f"{submission}: {len(data) / 2**20:.0f} MB zipped, over the {MAX_SHIPPED_BYTES // 2**20} MB "
                           "a grading accepts")
    return data


def _worker_share():
    """This worker's cores divided among its threads (one grading each)."""
    try:
        from distributed import get_worker
        threads = get_worker().state.nthreads
    except (ImportError, ValueError, AttributeError):
        threads = 1
    return max(1, len(os.sched_getaffinity(0)) // max(1, threads))


def _die_with_parent():
    """In the grading's process, before exec: SIGTERM (a clean stop) when the worker process dies."""
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)   # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
