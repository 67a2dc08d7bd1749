"""The trusted side's defences that do not need a whole grading: reading back what the submission
wrote, and the restricted reader of its answers."""
import os
import pickle
import signal
import threading
from pathlib import Path

import numpy as np
import pytest

from sandbox import cgroups
from sandbox.channel import UnreadableAnswer, read_untrusted
from sandbox.client import WorkerDied
from sandbox.files import read_file_under
from spec_tests.submission import Submission, worker_sandbox


def test_a_figure_is_read_only_as_a_regular_file_inside_the_submissions_folder(tmp_path):
    folder = tmp_path / "submission-files"
    folder.mkdir()
    (folder / "ok.png").write_bytes(b"\x89PNG data")
    (tmp_path / "secret.txt").write_text("the grader's")
    (folder / "link.png").symlink_to(tmp_path / "secret.txt")
    (folder / "sub").symlink_to(tmp_path)   # a folder link: the file it reaches lies outside
    os.mkfifo(folder / "fifo.png")           # would block a plain open() forever
    assert read_file_under(folder / "ok.png", folder) == b"\x89PNG data"
    for planted in ("link.png", "sub/secret.txt", "fifo.png"):
        with pytest.raises(OSError):
            read_file_under(folder / planted, folder)
    with pytest.raises(ValueError):
        read_file_under(folder / "ok.png", folder, max_bytes=4)


class _ArrayFromNothing:
    def __reduce__(self):  # a 8 TB zero-stride array from 8 bytes, if ndarray could be called
        return np.ndarray, ((10**6, 10**6), np.float64, bytearray(8), 0, (0, 0))


class _ShellCommand:
    def __reduce__(self):
        return os.system, ("touch /tmp/hw5-test-pwned",)


@pytest.mark.parametrize("answer", [_ArrayFromNothing(), _ShellCommand(), [1] * 6_000_000],
                         ids=["ndarray-constructor", "os.system", "too-many-items"])
def test_answers_that_are_not_small_plain_data_are_refused(answer):
    with pytest.raises(UnreadableAnswer):
        read_untrusted(pickle.dumps(answer, protocol=5))


def test_plain_data_comes_back_as_sent():
    buffers = []
    sent = {"W": np.arange(6.0).reshape(2, 3), "F": np.asfortranarray(np.ones((3, 2))), "view": np.ones((4, 4))[:, ::2],
            "x": np.float64(2.5), "history": [0.5, 0.25], "pair": (1, "a"), "objects": np.array([1, "a"], dtype=object)}
    data = pickle.dumps(sent, protocol=5, buffer_callback=buffers.append)
    got = read_untrusted(data, [bytearray(b.raw()) for b in buffers])
    assert got.keys() == sent.keys()
    for key, value in sent.items():
        assert np.array_equal(np.asarray(got[key], dtype=object), np.asarray(value, dtype=object))


def test_an_error_raised_in_the_submission_says_where_and_keeps_its_type(tmp_path):
    """The worker names the submission's own line; the tests' process raises the same builtin type."""
    submission = tmp_path / "sub"
    submission.mkdir()
    (submission / "nn.py").write_text("def backwards(params):\n    return params['cache_output']\n")
    worker = Submission(submission, tmp_path / "files")
    try:
        with pytest.raises(KeyError) as raised:
            worker.module("nn").backwards({})
    finally:
        worker.close()
    assert str(raised.value) == '"\'cache_output\' (raised at nn.py:2)"'


def test_the_worker_is_the_out_of_memory_killers_first_choice_and_its_death_is_named(tmp_path):
    """In a container short of memory the kernel kills the submission's worker, not the grader. A
    worker killed from outside by SIGKILL, as the OOM killer does (bwrap then exits 137), is reported
    as killed, with the likely causes. (Inside bwrap the worker is pid 1 and cannot SIGKILL itself.)"""
    submission = tmp_path / "sub"
    submission.mkdir()
    (submission / "nn.py").write_text(
        "import time\n"
        "def oom_score_adj():\n    return open('/proc/self/oom_score_adj').read().strip()\n"
        "def wait():\n    time.sleep(60)\n")
    worker = Submission(submission, tmp_path / "files")

    def kill_the_worker():
        pid = worker.pid
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        os.kill(int(children[0]) if children else pid, signal.SIGKILL)  # bwrap's child, or the plain worker

    timer = threading.Timer(1.0, kill_the_worker)
    try:
        assert worker.module("nn").oom_score_adj() == "1000"
        timer.start()
        with pytest.raises(WorkerDied, match=r"was killed \(SIGKILL: .*out-of-memory killer"):
            worker.module("nn").wait()
    finally:
        timer.cancel()
        worker.close()


def test_the_memory_of_all_the_workers_processes_together_is_capped(tmp_path):
    """Each process's address space is capped by an rlimit; where the grader may make a memory
    cgroup, their sum is capped too: four children of 500 MB each under a 1536 MB cap cannot all live."""
    made = cgroups.make(256 << 20)
    memory_cgroup = any((group / name).exists() for group in made for name in ("memory.limit_in_bytes", "memory.max"))
    cgroups.remove(made)
    if os.geteuid() != 0 or not memory_cgroup:
        pytest.skip("no memory cgroup can be made here (root and a writable cgroup hierarchy are needed)")
    submission = tmp_path / "sub"
    submission.mkdir()
    (submission / "nn.py").write_text(
        "import os, time\nimport numpy as np\n"
        "def hogs(count, megabytes):\n"
        "    pids = []\n"
        "    for _ in range(count):\n"
        "        pid = os.fork()\n"
        "        if pid == 0:\n"
        "            held = np.ones(megabytes << 17)\n"
        "            time.sleep(2)\n"
        "            os._exit(0)\n"
        "        pids.append(pid)\n"
        "    return [os.waitpid(pid, 0)[1] for pid in pids]\n")
    worker = Submission(submission, tmp_path / "files", worker_sandbox(memory_mb=1536))
    try:
        statuses = worker.module("nn").hogs(4, 500)
    finally:
        worker.close()
    killed = [s for s in statuses if os.WIFSIGNALED(s) and os.WTERMSIG(s) == signal.SIGKILL]
    assert killed, f"four 500 MB children all lived under a 1536 MB cap (wait statuses {statuses})"


def test_a_test_may_ask_only_for_the_modules_its_questions_call(tmp_path):
    """spec_tests/contract.py's QUESTION_MODULES is load-bearing: a Q4.2 run that asks for nn.py is a
    grader error (the corpus would otherwise skip Q4.2 for a fixture that changes nn.py)."""
    from autograde import REFERENCE_DIR
    only_q4 = Submission(REFERENCE_DIR, tmp_path / "files", questions=("4.2",))
    with pytest.raises(AssertionError, match="grader error: a test of this run asked for nn.py"):
        only_q4.module("nn")
    try:
        assert only_q4.module("q4").findLetters
    finally:
        only_q4.close()
    assert Submission(REFERENCE_DIR, tmp_path / "files", questions=("9.9",)).allowed is None  # unlisted: any module


DISPATCHING_NN = (
    "from util import *\n"
    "def sigmoid_deriv(post):\n    return post * (1 - post)\n"
    "def backwards(delta, deriv):\n"
    "    if deriv == sigmoid_deriv:\n        return ('sigmoid_deriv', deriv.__name__, deriv(delta).tolist())\n"
    "    elif deriv == linear_deriv:\n        return ('linear_deriv', deriv.__name__, deriv(delta).tolist())\n"
    "    return ('neither', deriv.__name__, None)\n")


def test_a_submission_function_passed_as_an_argument_arrives_as_its_own_object(tmp_path):
    """Issue 28: backwards receives nn's own sigmoid_deriv and util's linear_deriv, the very objects it
    compares with (`if deriv == sigmoid_deriv`); under `patched`, the replacement its globals hold too,
    bearing the replaced name. A grader lambda matches neither, and a function the folder lacks is named."""
    submission = tmp_path / "sub"
    submission.mkdir()
    (submission / "nn.py").write_text(DISPATCHING_NN)
    (submission / "util.py").write_text("import numpy as np\ndef linear_deriv(post):\n    return np.ones_like(post)\n")
    worker = Submission(submission, tmp_path / "files")
    delta = np.array([0.5, 0.25])
    try:
        nn = worker.module("nn")
        assert nn.backwards(delta, worker.own_function("sigmoid_deriv")) == ("sigmoid_deriv", "sigmoid_deriv", [0.25, 0.1875])
        assert nn.backwards(delta, worker.own_function("linear_deriv"))[0] == "linear_deriv"
        assert worker.own_function("linear_deriv")._module == "nn"  # nn's binding first: what nn compares with
        assert nn.backwards(delta, lambda post: post)[0] == "neither"
        with worker.patched({"sigmoid_deriv": lambda post: post * 0}) as calls:
            assert nn.backwards(delta, worker.own_function("sigmoid_deriv")) == ("sigmoid_deriv", "sigmoid_deriv", [0.0, 0.0])
        assert calls["sigmoid_deriv"] == 1
        with pytest.raises(AttributeError, match="nn.py has no function 'relu_deriv'"):
            nn.backwards(delta, worker.function("nn", "relu_deriv"))
        with pytest.raises(pytest.fail.Exception, match="nn.py and util.py define no function 'relu'"):
            worker.own_function("relu")
    finally:
        worker.close()


def test_a_module_passed_to_a_new_worker_is_found_after_the_last_one_was_killed(tmp_path):
    """A probe given the submission's module (Q7's `submission.run(probe, q7_emnist, ...)`) as the
    first request of a worker started again after its predecessor was killed (out of memory, a time
    limit) finds the module: the worker puts the folder on its path at start, not at its first import."""
    submission = tmp_path / "sub"
    submission.mkdir()
    (submission / "q7_emnist.py").write_text("SIZE = 47\n")
    worker = Submission(submission, tmp_path / "files")
    size_of = lambda module: module.SIZE   # noqa: E731 (a lambda travels by value, as the probes do)
    try:
        module = worker.module("q7_emnist")
        assert worker.run(size_of, module) == 47
        worker.stop("by the test")   # what a time limit or the out-of-memory killer does to it
        worker.resume()
        assert worker.run(size_of, module) == 47   # a new worker, whose first request is this run
    finally:
        worker.close()
