"""The review web app (`autograde review GRADED_DIR`): where teaching assistants grade the questions a
person grades, question by question, over a batch folder made by `autograde batch`.

Pages (the URLs are the design's, docs and browser tests rely on them): the course overview (/), a
question's summary (/q/<qid>), its next ungraded submission (/q/<qid>/next), the grading page
(/q/<qid>/s/<submission>: the handout's question, the student's figures beside the reference's,
the evidence checks, the write-up's page, the rubric items), the editors' item points
(/q/<qid>/items), the write-up PDF, the figures, /login and a small JSON API.

Grades go to the review store (review_store.py, GRADED_DIR/review.sqlite) only: the app writes no
other file, imports nothing of the sandbox and runs no submission code. Every path parameter is
checked against the batch's submissions, the rubric's questions or the record's figure names.
"""
import hmac
import ipaddress
import math
import threading
from pathlib import Path
from urllib.parse import urlsplit

from flask import Flask, abort, jsonify, redirect, render_template, request, send_file, url_for

from autograde.course.review_data import BatchData, histogram_svg, paired_figures
from autograde.course.review_store import ReviewStore, suggested_items
from autograde.rubric import load_rubric

TOKEN_COOKIE, GRADER_COOKIE, NAMES_COOKIE = "review_token", "review_grader", "review_names"
TOKEN_HEADER = "X-Review-Token"
MAX_NAME = 80


def create_app(graded_dir, rubric=None, *, grader=None, editors=(), token=None):
    """The Flask app over graded_dir (a batch folder). rubric: a rubric.Rubric (None: the bundled
    one); grader: the grader's name for every request (else each browser names itself at /login);
    editors: graders allowed to change items' points; token: when set, every request must carry it
    (?token= once, then a cookie, or the X-Review-Token header). app.config["STORE"] is the ReviewStore."""
    rubric = rubric or load_rubric()
    app = Flask(__name__, template_folder="templates", static_folder="static", static_url_path="/static")
    app.config.update(STORE=ReviewStore(graded_dir, rubric), DATA=BatchData(graded_dir, rubric), RUBRIC=rubric,
                      GRADER=grader, TOKEN=token, GRADED_DIR=Path(graded_dir), WRITEUPS=_WriteupIndexes())
    for name in editors:
        app.config["STORE"].add_editor(name)
    app.jinja_env.autoescape = True   # .html templates are escaped anyway; every other one too
    app.jinja_env.globals.update(fmt=_fmt)
    _install_guards(app)
    _install_pages(app)
    _install_api(app)
    return app


def warm_up(app):
    """Read every submission's record, then search every write-up, so pages need not wait for either
    (minutes for a thousand write-ups; run it on a thread: a page asks for what it needs first)."""
    data, indexes = app.config["DATA"], app.config["WRITEUPS"]
    names = data.submissions()
    for name in names:
        data.digest(name)
    questions = [q.id for q in app.config["RUBRIC"].questions if q.by_person]
    for name in names:
        pdf = data.writeup(name)
        if pdf is not None:
            indexes.get(pdf, questions)


# --- helpers shared by the routes ---------------------------------------------------------------
def _fmt(value):
    """A number as short text: 2, 1.5, -0.25 (None: '–')."""
    return "–" if value is None else format(float(value), ".4g")


def _store():
    from flask import current_app
    return current_app.config["STORE"]


def _data():
    from flask import current_app
    return current_app.config["DATA"]


def _config(key):
    from flask import current_app
    return current_app.config[key]


def _grader():
    """The grader's name: --grader, else the browser's /login cookie, else None."""
    return _config("GRADER") or _valid_name(request.cookies.get(GRADER_COOKIE, ""))


def _valid_name(name):
    name = " ".join(str(name).split())
    return name if 0 < len(name) <= MAX_NAME and name.isprintable() else None


def _names_shown():
    """True when the grader asked for names (?names=1 now, or earlier: the cookie), not pseudonyms."""
    wanted = request.args.get("names")
    return wanted == "1" if wanted in ("0", "1") else request.cookies.get(NAMES_COOKIE) == "1"


def _shown_name(submission):
    """The submission's folder name when names are shown, else its pseudonym."""
    return submission if _names_shown() else _store().pseudonym(submission)


def _manual_question(qid):
    """The rubric's question a person grades with id qid; 404 otherwise."""
    try:
        question = _config("RUBRIC")[qid]
    except KeyError:
        abort(404, f"no question {qid} in the rubric")
    if not question.by_person:
        abort(404, f"Q{qid} is graded by its tests, not by a person")
    return question


def _submission(name):
    if not _data().known(name):
        abort(404, "no such submission in this batch")
    return name


def _manual_questions():
    return [q for q in _config("RUBRIC").questions if q.by_person]


def _next_ungraded(question, after=None):
    """The first submission in the question's stable shuffled order without a grade (skipping `after`)."""
    graded = {s for (s, _) in _store().all_current(question.id)}
    for name in _store().queue(question.id, list(_data().submissions())):
        if name not in graded and name != after:
            return name
    return None


def _login_needed():
    return redirect(url_for("login", next=request.full_path if request.query_string else request.path))


# --- write-up pages -----------------------------------------------------------------------------
class _WriteupIndexes:
    """locate_pages results per (pdf, mtime), computed once each (a child process: slow), maybe ahead
    of time on a thread for the next submission in the queue."""

    def __init__(self):
        self._lock = threading.Lock()
        self._done = {}
        self._running = {}

    def get(self, pdf, question_ids):
        key = (str(pdf), pdf.stat().st_mtime_ns)
        with self._lock:
            if key in self._done:
                return self._done[key]
            event = self._running.get(key)
            if event is None:
                event = self._running[key] = threading.Event()
                mine = True
            else:
                mine = False
        if not mine:
            event.wait(120)
            with self._lock:
                return self._done.get(key)
        index = None
        try:
            index = _locate(pdf, question_ids)
        finally:
            with self._lock:
                self._done[key] = index
                self._running.pop(key, None)
            event.set()
        return index

    def prefetch(self, pdf, question_ids):
        threading.Thread(target=self.get, args=(pdf, question_ids), daemon=True).start()


def _locate(pdf, question_ids):
    """writeup.locate_pages, or None when the PDF could not be searched (the page then shows page 1)."""
    from autograde.course.writeup import locate_pages, stored_index
    try:
        return stored_index(pdf, question_ids) or locate_pages(pdf, question_ids)
    except (OSError, ValueError, RuntimeError):
        return None


def _writeup_view(submission, question):
    """(pdf present, page shown, a note on how the page was chosen) for a submission's question."""
    pdf = _data().writeup(submission)
    if pdf is None:
        return False, 1, "no write-up (writeup.pdf) in this submission's folder"
    moved = _store().writeup_page(submission, question.id)
    if moved:
        return True, int(moved), "the page a grader chose"
    index = _config("WRITEUPS").get(pdf, [q.id for q in _manual_questions()])
    if index is None:
        return True, 1, "the write-up could not be searched; showing page 1"
    found = (getattr(index, "found", None) or {}).get(question.id) or []
    if found:
        return True, int(found[0]), f"where the write-up mentions Q{question.id}"
    if getattr(index, "problem", ""):
        return True, 1, f"showing page 1: {index.problem}"
    if not getattr(index, "has_text", True):
        return True, 1, "showing page 1: the PDF has no text to search (a scan?)"
    return True, 1, f"showing page 1: Q{question.id} was not found in the text"


# --- guards -------------------------------------------------------------------------------------
def is_loopback(host):
    """True for an address or name only this machine reaches (127.0.0.0/8, ::1, localhost)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _install_guards(app):
    @app.before_request
    def require_token():
        token = app.config["TOKEN"]
        if not token and not is_loopback(urlsplit("//" + request.host).hostname or ""):
            # Served on loopback without a token: a name other than a loopback one in Host is a page of
            # another site that rebound its DNS name to this machine (DNS rebinding), not a grader.
            abort(403, "this review server answers only to 127.0.0.1, localhost or [::1] (or needs its token)")
        if token:
            offered = request.args.get("token") or request.headers.get(TOKEN_HEADER) or request.cookies.get(TOKEN_COOKIE) or ""
            if not hmac.compare_digest(offered.encode(), token.encode()):
                abort(403, "this review server needs its token: open the URL it printed at start")
        if request.method == "POST":   # a page of another site cannot post grades through the grader's browser
            origin = request.headers.get("Origin")
            if origin and origin != "null" and urlsplit(origin).netloc != request.host:
                abort(403, "a form from another site")
            if origin == "null":
                abort(403, "a form from an opaque origin")

    @app.after_request
    def headers(response):
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers.setdefault("X-Frame-Options", "SAMEORIGIN")
        # same-origin, not no-referrer: with no-referrer a browser sends `Origin: null` on the app's own forms.
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if response.mimetype == "text/html":
            response.headers["Content-Security-Policy"] = (
                "default-src 'self'; img-src 'self'; style-src 'self'; script-src 'self'; frame-src 'self'; "
                "object-src 'self'; form-action 'self'; frame-ancestors 'self'; base-uri 'none'")
        token = app.config["TOKEN"]
        if token and request.args.get("token") and hmac.compare_digest(request.args["token"].encode(), token.encode()):
            response.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="Strict")
        return response

    @app.errorhandler(400)
    @app.errorhandler(403)
    @app.errorhandler(404)
    def error(exc):
        if request.path.startswith("/api/"):
            return jsonify(error=exc.description), exc.code
        return render_template("review/error.html", code=exc.code, message=exc.description), exc.code


# --- pages --------------------------------------------------------------------------------------
def _install_pages(app):
    @app.get("/login")
    def login():
        name = _valid_name(request.args.get("name", ""))
        target = request.args.get("next", "/")
        parts = urlsplit(target)
        if (not target.startswith("/") or target.startswith("//") or "\\" in target or parts.scheme or parts.netloc
                or any(ord(c) < 33 or ord(c) == 127 for c in target)):   # only a path of this app
            target = "/"
        if not name:
            return render_template("review/login.html", target=target, fixed=app.config["GRADER"])
        response = redirect(target)
        response.set_cookie(GRADER_COOKIE, name, httponly=True, samesite="Strict", max_age=180 * 86400)
        return response

    @app.get("/")
    def overview():
        data, store, rubric = _data(), _store(), app.config["RUBRIC"]
        auto, _, _ = data.auto_scores()
        manual = {}
        for (_, qid), grade in store.all_current().items():
            manual.setdefault(qid, []).append(store.score(grade))
        failing = data.failing_checks()
        submissions = data.submissions()
        rows = []
        for q in rubric.questions:
            scores = manual.get(q.id, []) if q.by_person else auto.get(q.id, [])
            rows.append({"question": q, "scores": scores,
                         "svg": histogram_svg(scores, 0, q.points, label=f"Q{q.id} scores"),
                         "mean": sum(scores) / len(scores) if scores else None,
                         "failing": failing.get(q.id, []), "manual": q.by_person})
        pairs, similarity_problem = data.similar_pairs()
        response = app.make_response(render_template(
            "review/overview.html", rows=rows, count=len(submissions), troubled=data.troubled_runs(),
            pairs=pairs, similarity_problem=similarity_problem, shown=_shown_name, grader=_grader(),
            names=_names_shown()))
        return _with_names_cookie(response)

    @app.get("/q/<qid>")
    def summary(qid):
        question = _manual_question(qid)
        store, data = _store(), _data()
        submissions = set(data.submissions())
        grades = {s: g for (s, _), g in store.all_current(qid).items() if s in submissions}
        scores = [store.score(g) for g in grades.values()]
        stats = store.suggestion_stats(qid)
        checks = [{"test": test, **counts, "rate": counts["removed"] / counts["suggested"] if counts["suggested"] else None}
                  for test, counts in sorted(stats.items())]
        shown_by = data.submissions()[:1] or [None]   # the checks' titles, as a grading recorded them
        titles = {e.name: e.title for e in data.question(shown_by[0], qid).evidence}
        return render_template("review/summary.html", question=question, graded=len(grades), total=len(submissions),
                               left=len(submissions) - len(grades), svg=histogram_svg(scores, 0, question.points,
                                                                                      label=f"Q{qid} grades"),
                               checks=checks, titles=titles, scores=scores, grader=_grader(),
                               editor=_grader() in store.editors(), names=_names_shown(), points=store.points(qid))

    @app.get("/q/<qid>/next")
    def next_ungraded(qid):
        question = _manual_question(qid)
        name = _next_ungraded(question)
        if name is None:
            return redirect(url_for("summary", qid=qid))
        return redirect(url_for("grading", qid=qid, submission=name))

    @app.get("/q/<qid>/s/<submission>")
    def grading(qid, submission):
        question, submission = _manual_question(qid), _submission(submission)
        if not _grader():
            return _login_needed()
        response = app.make_response(_grading_page(question, submission))
        # The next submission's write-up is searched while this one is graded.
        following = _next_ungraded(question, after=submission)
        if following and _data().writeup(following):
            app.config["WRITEUPS"].prefetch(_data().writeup(following), [q.id for q in _manual_questions()])
        return _with_names_cookie(response)

    @app.post("/q/<qid>/s/<submission>")
    def save(qid, submission):
        question, submission = _manual_question(qid), _submission(submission)
        grader = _grader()
        if not grader:
            abort(403, "name yourself first (/login)")
        form = request.form
        items = form.getlist("item")
        suggested = [s for s in form.get("suggested", "").split(",") if s]
        adjustment = _number(form.get("adjustment", "") or "0", "adjustment")
        based_on = int(_number(form.get("based_on", "") or "0", "based_on"))
        comment = form.get("comment", "")
        try:
            result = _store().save(submission, qid, items, adjustment, comment, grader, based_on, suggested)
        except ValueError as exc:
            abort(400, str(exc))
        page = form.get("writeup_page", "").strip()
        if page and page != form.get("writeup_page_shown", "").strip():
            _set_page(submission, qid, page, grader)
        if result.applied:
            return redirect(url_for("next_ungraded", qid=qid), code=303)
        return render_template("review/conflict.html", question=question, submission=submission,
                               shown=_shown_name(submission), mine=result.grade, current=result.current,
                               score=_store().score, grader=grader, names=_names_shown(),
                               texts={i.id: i.text for i in question.items})

    @app.post("/q/<qid>/s/<submission>/writeup-page")
    def move_writeup_page(qid, submission):
        _manual_question(qid)
        submission = _submission(submission)
        grader = _grader()
        if not grader:
            abort(403, "name yourself first (/login)")
        _set_page(submission, qid, request.form.get("writeup_page", "") or "1", grader)
        return redirect(url_for("grading", qid=qid, submission=submission), code=303)

    @app.route("/q/<qid>/items", methods=["GET", "POST"])
    def items(qid):
        question = _manual_question(qid)
        grader, store = _grader(), _store()
        if not grader:
            return _login_needed()
        if grader not in store.editors():
            abort(403, f"{grader} may not change the items' points: ask for --editor {grader}")
        changed = []
        if request.method == "POST":
            points = store.points(qid)
            for item in question.items:
                value = request.form.get(f"points-{item.id}")
                if value is None or value.strip() == "":
                    continue
                number = _number(value, f"points-{item.id}")
                if number != points.get(item.id):
                    try:
                        store.set_item_points(qid, item.id, number, grader)
                    except PermissionError as exc:
                        abort(403, str(exc))
                    except ValueError as exc:
                        abort(400, str(exc))
                    changed.append(item.id)
        return render_template("review/items.html", question=question, points=store.points(qid), changed=changed,
                               grader=grader, names=_names_shown())

    @app.get("/writeup/<submission>")
    def writeup(submission):
        pdf = _data().writeup(_submission(submission))
        if pdf is None:
            abort(404, "this submission has no write-up")
        response = send_file(pdf, mimetype="application/pdf", conditional=True, max_age=0)
        response.headers["Content-Disposition"] = 'inline; filename="writeup.pdf"'   # no name in the viewer's title
        # The student's PDF runs in an opaque origin: its scripts (if a viewer ran any) reach nothing of
        # the app. Chromium 156's viewer renders it so, in the page's frame, at #page=N (checked).
        response.headers["Content-Security-Policy"] = "sandbox"
        return response

    @app.get("/favicon.ico")
    def favicon():
        return "", 204

    @app.get("/figure/<submission>/<file>")
    def figure(submission, file):
        return _send_figure(_submission(submission), file)

    @app.get("/reference-figure/<file>")
    def reference_figure(file):
        return _send_figure(None, file)


def _send_figure(submission, file):
    path = _data().figure_path(submission, file)
    if path is None:
        abort(404, "no such figure")
    return send_file(path, mimetype="image/png", max_age=3600)


def _set_page(submission, qid, text, grader):
    """Keep the write-up page a grader chose (400 for one that is not a page number)."""
    try:
        _store().set_writeup_page(submission, qid, int(_number(text, "writeup_page")), grader)
    except ValueError as exc:
        abort(400, str(exc))


def _number(text, what):
    try:
        value = float(text)
    except (TypeError, ValueError):
        abort(400, f"{what}: {text!r} is not a number")
    if not math.isfinite(value):
        abort(400, f"{what}: {text!r} is not a finite number")
    return value


def _with_names_cookie(response):
    wanted = request.args.get("names")
    if wanted in ("0", "1"):
        response.set_cookie(NAMES_COOKIE, wanted, httponly=True, samesite="Strict")
    return response


def _grading_page(question, submission):
    store, data = _store(), _data()
    view = data.question(submission, question.id)
    reference = data.question(None, question.id) if data.has_reference() else None
    current = store.current(submission, question.id)
    reasons = suggested_items(question, view.outcomes) if view.outcomes else {}
    checked = set(current.items) if current else set(reasons)
    has_pdf, page, page_note = _writeup_view(submission, question)
    points = store.points(question.id)
    return render_template(
        "review/grade.html", question=question, submission=submission, shown=_shown_name(submission), view=view,
        figures=paired_figures(view.evidence, reference.evidence if reference else ()),
        has_reference=reference is not None and not reference.problem, current=current, reasons=reasons,
        suggested=[i.id for i in question.items if i.id in reasons] if current is None else [],
        checked=checked, points=points, score=store.score(current) if current else None,
        conflicts=store.conflicts(submission, question.id), has_pdf=has_pdf, page=page, page_note=page_note,
        grader=_grader(), names=_names_shown(), editor=_grader() in store.editors(),
        left=len(data.submissions()) - len(store.all_current(question.id)))


# --- JSON API -----------------------------------------------------------------------------------
def _install_api(app):
    @app.post("/api/grade")
    def api_save():
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            abort(400, "expected a JSON object (Content-Type: application/json)")
        qid, submission = str(body.get("question", "")), str(body.get("submission", ""))
        try:
            question = app.config["RUBRIC"][qid]
        except KeyError:
            abort(400, f"no question {qid!r} in the rubric")
        if not question.by_person:
            abort(400, f"Q{qid} is graded by its tests, not by a person")
        if not _data().known(submission):
            abort(400, f"no submission {submission!r} in this batch")
        grader = _grader() if app.config["GRADER"] else _valid_name(body.get("grader") or "") or _grader()
        if not grader:
            abort(400, "no grader: give \"grader\" or name yourself at /login")
        items, suggested = body.get("items", []), body.get("suggested", [])
        if not isinstance(items, list) or not all(isinstance(i, str) for i in items) or \
                not isinstance(suggested, list) or not all(isinstance(i, str) for i in suggested):
            abort(400, "\"items\" and \"suggested\" must be lists of item ids")
        adjustment, based_on = body.get("adjustment", 0), body.get("based_on", 0)
        if isinstance(adjustment, bool) or not isinstance(adjustment, (int, float)) or not math.isfinite(adjustment):
            abort(400, "\"adjustment\" must be a finite number")
        if isinstance(based_on, bool) or not isinstance(based_on, int):
            abort(400, "\"based_on\" must be the version the grade was based on (0: none)")
        comment = body.get("comment", "")
        if not isinstance(comment, str):
            abort(400, "\"comment\" must be text")
        try:
            result = _store().save(submission, qid, items, float(adjustment), comment, grader, based_on,
                                   suggested)
        except ValueError as exc:
            abort(400, str(exc))
        return jsonify(applied=result.applied, version=result.grade.version,
                       current_version=result.current.version if result.current else 0)

    @app.get("/api/grade/<qid>/<submission>")
    def api_grade(qid, submission):
        _manual_question(qid)
        submission = _submission(submission)
        grade = _store().current(submission, qid)
        if grade is None:
            return jsonify(version=0, items=[], score=None, adjustment=0, comment="", grader=None, at=None, suggested=[])
        return jsonify(version=grade.version, items=list(grade.items), score=_store().score(grade),
                       adjustment=grade.adjustment, comment=grade.comment, grader=grade.grader, at=grade.at,
                       suggested=list(grade.suggested), rubric_version=grade.rubric_version)
