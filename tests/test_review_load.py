"""The review app under load, through its JSON API over real HTTP: 8 graders saving at once, often the
same grades, some from a stale version; and a server killed (SIGKILL) while saves arrive. Nothing a
grader was told is saved may be missing from the log afterwards, and nothing may be in it twice.

Bounded: 2,000 saves against one served app, a kill after some hundred; the file runs in under a minute.
"""
import http.client
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from autograde.course.review_store import ReviewStore
from autograde.rubric import load_rubric
from tests.support.review_batch import make_graded_batch, submission_names
from tests.support.review_server import call_json, served

review_app = pytest.importorskip("autograde.course.review_app", reason="the review app is not written yet")

GRADERS = 8
SAVES = 2000
SUBMISSIONS = 40
QUESTIONS = ("3.1.2", "3.1.3")
STALE = 0.3           # the share of saves sent from the version a grader saw last, without reloading
TIME_LIMIT = 40       # seconds for the 2,000 saves: a save taking ~100 ms under load is a bug


@pytest.fixture(scope="module")
def rubric():
    return load_rubric()


@pytest.fixture
def batch(tmp_path):
    return make_graded_batch(tmp_path / "graded", SUBMISSIONS, writeups=False, reference=False, similarity=False)


def grade_url(base, qid, name):
    return f"{base}/api/grade/{qid}/{urllib.parse.quote(name, safe='')}"


def test_eight_graders_saving_at_once_lose_and_double_nothing(batch, rubric):
    names = submission_names(SUBMISSIONS)
    pairs = [(name, qid) for name in names for qid in QUESTIONS]
    items = {qid: [item.id for item in rubric[qid].items] for qid in QUESTIONS}
    responses, errors = [], []
    app = review_app.create_app(batch, grader="nobody")
    store = app.config["STORE"]

    def grader(number):
        rng = random.Random(number)
        seen = {}   # the version this grader last saw of each pair: a stale page when another saved since
        for k in range(SAVES // GRADERS):
            name, qid = pairs[rng.randrange(len(pairs))] if rng.random() < 0.5 else pairs[rng.randrange(8)]
            if (name, qid) not in seen or rng.random() > STALE:
                status, body = call_json(grade_url(base, qid, name))
                if status != 200:
                    errors.append((number, "GET", status, body))
                    continue
                seen[name, qid] = body["version"]
            save = {"submission": name, "question": qid, "items": rng.sample(items[qid], rng.randrange(3)),
                    "adjustment": rng.choice([0, 0, 0.25, -0.5]), "comment": f"grader {number} save {k}",
                    "based_on": seen[name, qid], "grader": f"ta-{number}"}
            status, body = call_json(f"{base}/api/grade", save)
            if status != 200:
                errors.append((number, "POST", status, body))
                continue
            responses.append((save, body))
            seen[name, qid] = body["current_version"]

    start = time.monotonic()
    with served(app) as base:
        threads = [threading.Thread(target=grader, args=(n,)) for n in range(GRADERS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(TIME_LIMIT * 2)
    elapsed = time.monotonic() - start
    assert not errors, errors[:5]
    assert len(responses) == SAVES and elapsed < TIME_LIMIT, (len(responses), elapsed)
    store.close()

    fresh = ReviewStore(batch, rubric)
    assert fresh.events() == SAVES
    told = {body["version"]: (save, body) for save, body in responses}
    assert len(told) == SAVES, "two saves were told the same version"
    contended = 0
    for name, qid in pairs:
        history = fresh.history(name, qid)
        current = 0
        for event in history:
            save, body = told.pop(event.version)
            assert (event.submission, event.question, event.comment, event.based_on) == (
                save["submission"], save["question"], save["comment"], save["based_on"])
            assert event.applied == body["applied"], f"the log and the response disagree on {event.version}"
            # Saves are serialised: one applies exactly when it was based on the grade then in force.
            assert event.applied == (event.based_on == current), f"event {event.version} of {name} Q{qid}"
            current = event.version if event.applied else current
            contended += not event.applied
        latest = max((e.version for e in history if e.applied), default=None)
        in_force = fresh.current(name, qid)
        assert (in_force.version if in_force else None) == latest, f"{name} Q{qid}'s grade is not its last applied"
    assert not told, f"saves answered but not in the log: {sorted(told)[:5]}"
    assert contended > 50, f"only {contended} stale saves: the test did not make the graders collide"
    fresh.close()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


SERVE = """
import sys
from werkzeug.serving import make_server
from autograde.course.review_app import create_app
make_server("127.0.0.1", int(sys.argv[2]), create_app(sys.argv[1], grader="killed"), threaded=True).serve_forever()
"""


def server_command(folder, port):
    """`autograde review DIR --port P` where the CLI has the verb; else the same app served by a script."""
    usage = subprocess.run([sys.executable, "-m", "autograde", "review", "--help"], capture_output=True, text=True,
                           timeout=60)
    if usage.returncode == 0 and "--port" in usage.stdout:
        return [sys.executable, "-m", "autograde", "review", str(folder), "--port", str(port), "--grader", "killed"]
    return [sys.executable, "-c", SERVE, str(folder), str(port)]


def test_a_killed_server_keeps_every_save_it_acknowledged(batch, rubric, tmp_path):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    names = submission_names(SUBMISSIONS)
    with open(tmp_path / "server.log", "wb") as log:
        server = subprocess.Popen(server_command(batch, port), stdout=log, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{base}/api/grade/3.1.2/{urllib.parse.quote(names[0], safe='')}", timeout=2)
                break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                assert server.poll() is None and time.monotonic() < deadline, (tmp_path / "server.log").read_text()
                time.sleep(0.2)
        acknowledged, failures = [], []

        def saver():
            for k in range(100_000):
                save = {"submission": names[k % len(names)], "question": "3.1.2", "items": [], "adjustment": 0,
                        "comment": f"save {k}", "based_on": 0, "grader": "ta-kill"}
                try:
                    status, body = call_json(f"{base}/api/grade", save, timeout=5)
                # A kill mid-answer can cut the response short (http.client.IncompleteRead): a failed save too.
                except (urllib.error.URLError, OSError, http.client.HTTPException, ValueError) as exc:
                    failures.append(exc)
                    if len(failures) > 5:
                        return
                    continue
                if status == 200 and "applied" in body:
                    acknowledged.append((save, body))

        thread = threading.Thread(target=saver)
        thread.start()
        deadline = time.monotonic() + 20
        while len(acknowledged) < 300 and time.monotonic() < deadline:
            time.sleep(0.01)
        server.send_signal(signal.SIGKILL)
        server.wait(10)
        thread.join(30)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(10)
    assert len(acknowledged) >= 300, f"only {len(acknowledged)} saves answered: {(tmp_path / 'server.log').read_text()}"
    assert failures, "the saves never failed: the server was not killed mid-way"
    store = ReviewStore(batch, rubric)
    logged = {g.version: g for name in names for g in store.history(name, "3.1.2")}
    for save, body in acknowledged:
        event = logged.get(body["version"])
        assert event is not None, f"acknowledged save {body} is not in the log after the kill"
        assert (event.comment, event.applied) == (save["comment"], body["applied"])
    assert store.events() >= len(acknowledged)
    store.close()
