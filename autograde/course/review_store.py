"""The grades people give to the questions the tests cannot grade: an append-only event log in
SQLite (GRADED_DIR/review.sqlite, WAL), from which every current grade is derived.

Every save is an event (who, when, the submission, the question, the applied rubric items, an
adjustment, a comment, the rubric version, and the version of the grade it was based on). A save
based on a version that is no longer current (another grader saved first) is kept in the log but
not applied: the grader is shown both and chooses, and the choice is a new save. The current grade
of a (submission, question) is its newest applied event.

An item's points are the rubric's (rubric.toml) unless an editor changed them here (also an event,
which records the rubric's points it replaced: once rubric.toml gives the item other points, the
file's newer value is in force again). A grade stores which items it applied, never their points,
so a change of points applies to every grade that used the item, as Gradescope and PrairieLearn
do. The rubric version (a hash of every item's points in force) is recorded with each save.

Writes are transactions (BEGIN IMMEDIATE: the stale-version check and the insert are one step
under several graders and processes). WAL with synchronous=NORMAL keeps every committed save
through a killed server (a power cut may lose the last ones).
"""
import hashlib
import hmac
import json
import math
import secrets
import sqlite3
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from autograde.results import ManualGrade

DB_NAME = "review.sqlite"
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL, grader TEXT NOT NULL, submission TEXT NOT NULL, question TEXT NOT NULL,
    items TEXT NOT NULL, adjustment REAL NOT NULL, comment TEXT NOT NULL,
    rubric_version TEXT NOT NULL, based_on INTEGER NOT NULL, applied INTEGER NOT NULL, suggested TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS events_by_pair ON events (question, submission, applied, id);
CREATE TABLE IF NOT EXISTS item_points (
    id INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, grader TEXT NOT NULL,
    question TEXT NOT NULL, item TEXT NOT NULL, points REAL NOT NULL, base REAL NOT NULL);
CREATE TABLE IF NOT EXISTS editors (name TEXT PRIMARY KEY, at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS writeup_pages (
    id INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, grader TEXT NOT NULL,
    submission TEXT NOT NULL, question TEXT NOT NULL, page INTEGER NOT NULL);
"""
EVENT_COLUMNS = "id, at, grader, submission, question, items, adjustment, comment, rubric_version, based_on, applied, suggested"
MAX_COMMENT = 20_000


@dataclass(frozen=True)
class Grade:
    """One save of a (submission, question)'s grade: applied (in force until a newer one) or refused as stale."""
    submission: str
    question: str
    items: tuple            # applied item ids
    adjustment: float       # points added to full marks less the items
    comment: str
    grader: str
    at: str                 # ISO-8601 UTC
    version: int            # the event's id
    rubric_version: str
    suggested: tuple = ()   # item ids pre-selected as suggestions when it was saved
    applied: bool = True
    based_on: int = 0


@dataclass(frozen=True)
class SaveResult:
    applied: bool
    grade: Grade            # the event just recorded
    current: Grade | None   # the grade in force after the save


def now():
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def suggested_items(question, outcomes):
    """{item id: [(check title, first line of its message), ...]}: the question's items whose
    suggested_by names an evidence check among outcomes (TestOutcome) that did not pass."""
    failed = {o.name: o for o in outcomes if not o.passed}
    found = {}
    for item in question.items:
        reasons = [(failed[name].title or name, (failed[name].message.splitlines() or ["failed"])[0])
                   for name in item.suggested_by if name in failed]
        if reasons:
            found[item.id] = reasons
    return found


class ReviewStore:
    """The review database of a batch folder. Safe to share between threads (a connection per thread)
    and between processes (SQLite's locking)."""

    def __init__(self, graded_dir, rubric, editors=(), readonly=False):
        """readonly: read an existing review (the gradebook, the export) without writing to the folder,
        which may be a read-only copy; the database must exist then."""
        self.path = Path(graded_dir) / DB_NAME
        self.rubric = rubric
        self.readonly = readonly
        self._manual = {q.id: q for q in rubric.by_person}
        self._local = threading.local()
        self._connections = []
        self._lock = threading.Lock()
        db = self._db()
        if not readonly:
            db.executescript(SCHEMA)
            with self._write() as db:
                db.execute("INSERT OR IGNORE INTO meta VALUES ('salt', ?)", (secrets.token_hex(16),))
        self._salt = db.execute("SELECT value FROM meta WHERE key = 'salt'").fetchone()[0].encode()
        for name in editors:
            self.add_editor(name)

    # ---- connections -----------------------------------------------------------------------------
    def _db(self):
        db = getattr(self._local, "db", None)
        if db is None:
            if self.readonly:
                db = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True, timeout=30,
                                     isolation_level=None, check_same_thread=False)
                try:
                    db.execute("SELECT 1 FROM meta LIMIT 1")
                except sqlite3.OperationalError:   # a read-only folder, where a reader cannot add the WAL's index:
                    db.close()                     # read the file as it is, as no server is writing it there
                    db = sqlite3.connect(f"{self.path.resolve().as_uri()}?immutable=1", uri=True,
                                         isolation_level=None, check_same_thread=False)
            else:
                db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA busy_timeout=30000")
            self._local.db = db
            with self._lock:
                self._connections.append(db)
        return db

    def _write(self):
        return _Transaction(self._db())

    def close(self):
        with self._lock:
            for db in self._connections:
                db.close()
            self._connections.clear()
        self._local = threading.local()

    # ---- the questions a person grades ----------------------------------------------------------
    def question(self, qid):
        """The rubric Question a person grades with that id; ValueError naming the known ones."""
        try:
            return self._manual[str(qid)]
        except KeyError:
            raise ValueError(f"no question {qid} for a person to grade (they are: {', '.join(self._manual)})") from None

    def points(self, qid):
        """{item id: points in force}: the last an editor set here while the rubric still gives the item
        the points that change replaced; else the rubric's."""
        return self._points_in_force()[self.question(qid).id]

    def _points_in_force(self):
        """{question id: {item id: points in force}} of every question people grade."""
        changed = {(q, i): (p, base) for q, i, p, base in
                   self._db().execute("SELECT question, item, points, base FROM item_points ORDER BY id")}
        found = {}
        for q in self._manual.values():
            found[q.id] = {}
            for item in q.items:
                points, base = changed.get((q.id, item.id), (item.points, item.points))
                found[q.id][item.id] = points if base == item.points else item.points
        return found

    def rubric_version(self):
        """A short hash of every manual item's points in force: grades saved under another version
        were scored with other points."""
        entries = sorted((qid, item, p) for qid, items in self._points_in_force().items() for item, p in items.items())
        return hashlib.sha256(json.dumps(entries).encode()).hexdigest()[:12]

    def score(self, grade):
        """The grade's points now: full marks + the applied items' points in force + the adjustment,
        clamped to [0, the question's points]. Items no longer in the rubric count nothing."""
        points = self.points(grade.question)
        return self.question(grade.question).manual_score([points[i] for i in grade.items if i in points], grade.adjustment)

    # ---- grades ------------------------------------------------------------------------------------
    def save(self, submission, question, items, adjustment, comment, grader, based_on, suggested=()):
        """Record a save. based_on: the version the grader's page showed (0: it showed no grade). Applied
        when it is the current version; otherwise kept, refused. suggested: the item ids pre-selected
        (or suggested_items' dict). Returns SaveResult; ValueError for an unknown question or item, an
        adjustment that is not a finite number, or a missing grader name."""
        q = self.question(question)
        known = {item.id for item in q.items}
        items = tuple(dict.fromkeys(str(i) for i in items))
        unknown = [i for i in items if i not in known]
        if unknown:
            raise ValueError(f"Q{q.id} has no rubric item {', '.join(map(repr, unknown))} (it has: {', '.join(known)})")
        try:
            adjustment = float(adjustment or 0)
        except (TypeError, ValueError):
            raise ValueError(f"adjustment {adjustment!r} is not a number") from None
        if not math.isfinite(adjustment) or abs(adjustment) > 1000:
            raise ValueError(f"adjustment {adjustment!r} must be a finite number of points")
        grader = str(grader or "").strip()
        if not grader:
            raise ValueError("a save needs the grader's name")
        try:
            based_on = int(based_on or 0)
        except (TypeError, ValueError):
            raise ValueError(f"based_on {based_on!r} is not a version number") from None
        comment = str(comment or "")[:MAX_COMMENT]
        suggested = tuple(i for i in dict.fromkeys(str(i) for i in suggested) if i in known)
        version = self.rubric_version()
        with self._write() as db:
            row = db.execute("SELECT MAX(id) FROM events WHERE question = ? AND submission = ? AND applied = 1",
                             (q.id, str(submission))).fetchone()
            current = row[0] or 0
            applied = based_on == current
            cursor = db.execute(f"INSERT INTO events ({EVENT_COLUMNS}) VALUES (NULL, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                                (now(), grader, str(submission), q.id, json.dumps(items), adjustment, comment,
                                 version, based_on, int(applied), json.dumps(suggested)))
            event = cursor.lastrowid
        grade = self._event(event)
        return SaveResult(applied, grade, grade if applied else self.current(submission, q.id))

    def current(self, submission, question):
        """The grade in force for (submission, question), or None when nobody graded it."""
        row = self._db().execute(f"SELECT {EVENT_COLUMNS} FROM events WHERE question = ? AND submission = ? AND applied = 1 "
                                 "ORDER BY id DESC LIMIT 1", (str(question), str(submission))).fetchone()
        return _grade(row) if row else None

    def all_current(self, question=None):
        """{(submission, question): Grade} of every grade in force (of one question, when given)."""
        where, args = ("AND question = ?", (str(question),)) if question is not None else ("", ())
        rows = self._db().execute(
            f"SELECT {EVENT_COLUMNS} FROM events WHERE id IN (SELECT MAX(id) FROM events WHERE applied = 1 {where} "
            "GROUP BY question, submission)", args)
        return {(g.submission, g.question): g for g in map(_grade, rows)}

    def manual_grades(self):
        """{submission: {question id: ManualGrade}} of every grade in force, scored by the points in force."""
        points = self._points_in_force()
        texts = {qid: {item.id: item.text for item in q.items} for qid, q in self._manual.items()}
        found = {}
        for (submission, qid), grade in self.all_current().items():
            if qid not in self._manual:   # a question the rubric no longer has for a person
                continue
            items = tuple((i, points[qid][i], texts[qid][i]) for i in grade.items if i in points[qid])
            score = self._manual[qid].manual_score([p for _, p, _ in items], grade.adjustment)
            found.setdefault(submission, {})[qid] = ManualGrade(score, items, grade.adjustment, grade.comment,
                                                                grade.grader, grade.at)
        return found

    def conflicts(self, submission, question):
        """Saves refused as stale that are newer than the grade in force, newest first: what a grader
        still has to choose between."""
        current = self.current(submission, question)
        rows = self._db().execute(f"SELECT {EVENT_COLUMNS} FROM events WHERE question = ? AND submission = ? AND applied = 0 "
                                  "AND id > ? ORDER BY id DESC", (str(question), str(submission),
                                                                  current.version if current else 0))
        return [_grade(r) for r in rows]

    def history(self, submission, question):
        """Every save of (submission, question), oldest first, refused ones included."""
        rows = self._db().execute(f"SELECT {EVENT_COLUMNS} FROM events WHERE question = ? AND submission = ? ORDER BY id",
                                  (str(question), str(submission)))
        return [_grade(r) for r in rows]

    def events(self):
        """How many saves the log holds."""
        return self._db().execute("SELECT COUNT(*) FROM events").fetchone()[0]

    def _event(self, event):
        return _grade(self._db().execute(f"SELECT {EVENT_COLUMNS} FROM events WHERE id = ?", (event,)).fetchone())

    # ---- editors and the items' points -----------------------------------------------------------------
    def editors(self):
        return {name for (name,) in self._db().execute("SELECT name FROM editors")}

    def add_editor(self, name):
        name = str(name).strip()
        if name:
            with self._write() as db:
                db.execute("INSERT OR IGNORE INTO editors VALUES (?, ?)", (name, now()))

    def set_item_points(self, question, item_id, points, grader):
        """Give an item other points, for every grade that applies it. PermissionError unless grader is
        an editor; ValueError for an unknown item or points that are not a finite number."""
        if grader not in self.editors():
            raise PermissionError(f"{grader or 'this grader'} may not change the rubric's points (editors: "
                                  f"{', '.join(sorted(self.editors())) or 'none'}; start the app with --editor NAME)")
        q = self.question(question)
        q.item(item_id)
        points = float(points)
        if not math.isfinite(points) or abs(points) > 1000:
            raise ValueError(f"points {points!r} must be a finite number")
        with self._write() as db:
            db.execute("INSERT INTO item_points VALUES (NULL, ?, ?, ?, ?, ?, ?)",
                       (now(), grader, q.id, item_id, points, q.item(item_id).points))

    # ---- the write-up page a grader chose ------------------------------------------------------------
    def set_writeup_page(self, submission, question, page, grader):
        page = int(page)
        if not 1 <= page <= 100_000:
            raise ValueError(f"page {page}: a write-up's pages are numbered from 1")
        with self._write() as db:
            db.execute("INSERT INTO writeup_pages VALUES (NULL, ?, ?, ?, ?, ?)",
                       (now(), str(grader or ""), str(submission), self.question(question).id, page))

    def writeup_page(self, submission, question):
        row = self._db().execute("SELECT page FROM writeup_pages WHERE submission = ? AND question = ? ORDER BY id DESC "
                                 "LIMIT 1", (str(submission), str(question))).fetchone()
        return row[0] if row else None

    # ---- anonymity, order and what the suggestions are worth --------------------------------------------
    def _hash(self, text):
        return hmac.new(self._salt, text.encode("utf-8"), hashlib.sha256).hexdigest()

    def pseudonym(self, submission):
        """A stable name that does not reveal the student: 'Student 3FA2C1' (24 bits: two of 1,000
        submissions share one with probability 3%; the grading page also shows the queue position)."""
        return f"Student {self._hash('name:' + str(submission))[:6].upper()}"

    def queue(self, question, submissions):
        """The submissions in the question's stable shuffled order (the same in every session and for
        every grader, another for each question, unrelated to the names' order)."""
        return sorted(submissions, key=lambda name: self._hash(f"queue:{question}:{name}"))

    def suggestion_stats(self, question):
        """{evidence check: {"suggested", "kept", "removed"}} over the question's grades in force: how
        often an item the check pre-selected was kept by the grader or removed (its false alarms). An
        item that two checks suggest counts for both."""
        q = self.question(question)
        stats = {name: {"suggested": 0, "kept": 0, "removed": 0} for name in q.evidence}
        for grade in self.all_current(q.id).values():
            for item_id in grade.suggested:
                try:
                    item = q.item(item_id)
                except KeyError:
                    continue
                for name in item.suggested_by:
                    entry = stats.setdefault(name, {"suggested": 0, "kept": 0, "removed": 0})
                    entry["suggested"] += 1
                    entry["kept" if item_id in grade.items else "removed"] += 1
        return stats


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT (ROLLBACK on an error): the write lock is taken before the reads."""

    def __init__(self, db):
        self.db = db

    def __enter__(self):
        self.db.execute("BEGIN IMMEDIATE")
        return self.db

    def __exit__(self, kind, value, traceback):
        self.db.execute("COMMIT" if kind is None else "ROLLBACK")
        return False


def _grade(row):
    (event, at, grader, submission, question, items, adjustment, comment, version, based_on, applied, suggested) = row
    return Grade(submission, question, tuple(json.loads(items)), adjustment, comment, grader, at, event, version,
                 tuple(json.loads(suggested)), bool(applied), based_on)


def manual_grades(graded_dir, rubric):
    """{submission: {question id: ManualGrade}} of a batch folder's review, read without writing
    anything ({} before a review began)."""
    if not (Path(graded_dir) / DB_NAME).is_file():
        return {}
    store = ReviewStore(graded_dir, rubric, readonly=True)
    try:
        return store.manual_grades()
    finally:
        store.close()


def open_store(graded_dir, rubric, editors=()):
    """The ReviewStore of a batch folder; ValueError when graded_dir is not a folder."""
    if not Path(graded_dir).is_dir():
        raise ValueError(f"{graded_dir}: not a folder (expected the --out folder of autograde batch)")
    return ReviewStore(graded_dir, rubric, editors)
