"""The review app served over real HTTP for the tests that need sockets (a browser, concurrent
graders): werkzeug's threaded server on a free loopback port, in a thread of the test process."""
import json
import threading
import urllib.error
import urllib.request
from contextlib import contextmanager

from werkzeug.serving import make_server


@contextmanager
def served(app):
    """Serve the WSGI app on 127.0.0.1 (a free port) while the block runs; yields its base URL
    ('http://127.0.0.1:PORT')."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="review-app", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def call_json(url, body=None, timeout=30):
    """(HTTP status, parsed JSON body) of a GET (body None) or a JSON POST to url; an HTTP error
    status is returned, not raised."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"} if data else {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        text = exc.read()
        try:
            return exc.code, json.loads(text)
        except ValueError:
            return exc.code, {"error": text.decode("utf-8", "replace")}
