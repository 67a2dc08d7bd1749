"""The review's store (autograde/course/review_store.py): an append-only log of saves, the grade in force
derived from it, the stale-version rule, items' points that apply to every grade that used them."""
import multiprocessing
import sqlite3

import pytest

from autograde.course.review_store import DB_NAME, ReviewStore, suggested_items
from autograde.outcomes import TestOutcome as Outcome
from autograde.rubric import load_rubric

RUBRIC = load_rubric()
Q = RUBRIC["3.1.2"]
FIRST, SECOND = Q.items[1].id, Q.items[2].id   # two deductions that are not "missing"


@pytest.fixture
def store(tmp_path):
    store = ReviewStore(tmp_path, RUBRIC, editors=["head-ta"])
    yield store
    store.close()


def test_a_first_save_applies_and_is_scored_from_full_marks_by_the_items_in_force(store):
    result = store.save("alice", "3.1.2", [FIRST], 0.25, "see the legend", "ta1", based_on=0)
    assert result.applied and result.current == result.grade and result.grade.version > 0
    expected = min(Q.points, max(0, Q.points + Q.item(FIRST).points + 0.25))
    assert store.score(result.grade) == pytest.approx(expected)
    assert store.current("alice", "3.1.2").comment == "see the legend"
    assert store.current("alice", "3.1.3") is None and store.current("bob", "3.1.2") is None


def test_the_score_is_clamped_to_zero_and_full_marks(store):
    every = [item.id for item in Q.items]
    assert store.score(store.save("a", "3.1.2", every, 0, "", "ta", 0).grade) == 0
    assert store.score(store.save("b", "3.1.2", [], 5, "", "ta", 0).grade) == Q.points


def test_a_save_based_on_a_stale_version_is_kept_in_the_log_but_not_applied(store):
    first = store.save("alice", "3.1.2", [FIRST], 0, "ta1's", "ta1", based_on=0)
    late = store.save("alice", "3.1.2", [SECOND], 0, "ta2's", "ta2", based_on=0)   # ta2's page showed no grade
    assert not late.applied and late.current == first.grade
    assert store.current("alice", "3.1.2").comment == "ta1's"
    assert [g.comment for g in store.conflicts("alice", "3.1.2")] == ["ta2's"]
    # ta2 chooses their own grade: a save based on the version in force; the conflict is over
    chosen = store.save("alice", "3.1.2", [SECOND], 0, "ta2's", "ta2", based_on=first.grade.version)
    assert chosen.applied and store.conflicts("alice", "3.1.2") == []
    assert [(g.comment, g.applied) for g in store.history("alice", "3.1.2")] == [
        ("ta1's", True), ("ta2's", False), ("ta2's", True)]
    assert store.events() == 3


def test_changing_an_items_points_applies_to_every_grade_that_used_it_and_changes_the_version(store):
    grades = [store.save(name, "3.1.2", [FIRST], 0, "", "ta", 0).grade for name in ("a", "b", "c")]
    other = store.save("d", "3.1.2", [SECOND], 0, "", "ta", 0).grade
    before_version, before_other = store.rubric_version(), store.score(other)
    with pytest.raises(PermissionError, match="--editor"):
        store.set_item_points("3.1.2", FIRST, -0.25, "ta")
    store.set_item_points("3.1.2", FIRST, -0.25, "head-ta")
    assert all(store.score(g) == Q.points - 0.25 for g in grades)
    assert store.score(other) == before_other and store.rubric_version() != before_version
    assert store.save("e", "3.1.2", [], 0, "", "ta", 0).grade.rubric_version == store.rubric_version()
    grades_now = store.manual_grades()
    assert grades_now["a"]["3.1.2"].score == Q.points - 0.25 and grades_now["a"]["3.1.2"].items[0][1] == -0.25


@pytest.mark.parametrize("args, message", [
    (("a", "9.9", [], 0, "", "ta", 0), "no question 9.9"),
    (("a", "2.2.2", [], 0, "", "ta", 0), "no question 2.2.2"),   # scored by tests, not by people
    (("a", "3.1.2", ["no-such-item"], 0, "", "ta", 0), "no rubric item 'no-such-item'"),
    (("a", "3.1.2", [], float("nan"), "", "ta", 0), "finite"),
    (("a", "3.1.2", [], "lots", "", "ta", 0), "not a number"),
    (("a", "3.1.2", [], 0, "", " ", 0), "grader's name"),
])
def test_bad_saves_are_refused_with_a_message_and_leave_no_event(store, args, message):
    with pytest.raises(ValueError, match=message):
        store.save(*args)
    assert store.events() == 0


def test_pseudonyms_and_queues_are_stable_across_sessions_and_differ_between_questions(tmp_path):
    names = [f"student{i:03d}" for i in range(200)]
    first = ReviewStore(tmp_path, RUBRIC)
    pseudonyms, queue = [first.pseudonym(n) for n in names], first.queue("3.1.2", names)
    first.close()
    again = ReviewStore(tmp_path, RUBRIC)
    assert [again.pseudonym(n) for n in names] == pseudonyms and again.queue("3.1.2", names) == queue
    assert again.queue("3.1.3", names) != queue and queue != names and sorted(queue) == names
    assert all(p.startswith("Student ") and "student" not in p for p in pseudonyms)
    (tmp_path / "other").mkdir()
    other_course = ReviewStore(tmp_path / "other", RUBRIC)
    assert other_course.pseudonym(names[0]) != pseudonyms[0]   # a salt of its own per batch folder


def test_suggestions_come_from_failed_evidence_and_their_kept_and_removed_counts_are_measured(store):
    check = "test_each_learning_rate_trains_a_fresh_network"
    suggesting = [item.id for item in Q.items if check in item.suggested_by]
    assert suggesting, "the rubric's Q3.1.2 has an item its fresh-network check suggests"
    failed = [Outcome(check, False, "the same network was trained three times\nmore", "fresh networks")]
    suggestions = suggested_items(Q, failed)
    assert suggestions[suggesting[0]] == [("fresh networks", "the same network was trained three times")]
    assert suggested_items(Q, [Outcome(check, True)]) == {}
    store.save("a", "3.1.2", suggesting[:1], 0, "", "ta", 0, suggested=suggestions)   # kept
    store.save("b", "3.1.2", [], 0, "", "ta", 0, suggested=suggestions)              # removed: a false alarm
    store.save("c", "3.1.2", [], 0, "", "ta", 0)                                      # nothing suggested
    assert store.suggestion_stats("3.1.2")[check] == {"suggested": 2, "kept": 1, "removed": 1}


def _save_many(folder, grader, count, queue):
    store = ReviewStore(folder, RUBRIC)
    applied = 0
    for i in range(count):
        current = store.current("shared", "3.1.2")
        applied += store.save("shared", "3.1.2", [], 0, f"{grader} {i}", grader, current.version if current else 0).applied
        store.save(f"{grader}-{i}", "3.1.2", [], 0, "", grader, 0)
    queue.put(applied)
    store.close()


def test_four_processes_saving_at_once_lose_and_double_nothing(tmp_path):
    """Each process saves 50 grades of its own and 50 of one shared pair (some refused as stale)."""
    ReviewStore(tmp_path, RUBRIC).close()
    queue = multiprocessing.get_context("fork").Queue()
    workers = [multiprocessing.get_context("fork").Process(target=_save_many, args=(tmp_path, f"ta{n}", 50, queue))
               for n in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
    applied = sum(queue.get(timeout=5) for _ in workers)
    store = ReviewStore(tmp_path, RUBRIC)
    history = store.history("shared", "3.1.2")
    assert store.events() == 400 and len(history) == 200
    assert sum(g.applied for g in history) == applied
    assert len(store.all_current("3.1.2")) == 201   # 200 own pairs + the shared one
    # the log is append-only: every applied save of the shared pair was based on the one before it
    chain = [g for g in history if g.applied]
    assert all(later.based_on == earlier.version for earlier, later in zip(chain, chain[1:], strict=False))


def test_the_database_is_sqlite_in_wal_mode_in_the_batch_folder(store, tmp_path):
    store.save("a", "3.1.2", [], 0, "", "ta", 0)
    with sqlite3.connect(tmp_path / DB_NAME) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 1


def test_a_change_in_the_app_holds_until_rubric_toml_gives_the_item_new_points(store, tmp_path):
    import dataclasses
    grade = store.save("a", "3.1.2", [FIRST], 0, "", "ta", 0).grade
    store.set_item_points("3.1.2", FIRST, -0.25, "head-ta")
    assert store.points("3.1.2")[FIRST] == -0.25

    def rubric_with(points):
        items = tuple(dataclasses.replace(i, points=points) if i.id == FIRST else i for i in Q.items)
        question = dataclasses.replace(Q, items=items)
        return dataclasses.replace(RUBRIC, questions=tuple(question if q.id == Q.id else q for q in RUBRIC.questions))

    same = ReviewStore(tmp_path, rubric_with(Q.item(FIRST).points))   # rubric.toml as it was: the app's change holds
    assert same.points("3.1.2")[FIRST] == -0.25
    edited = ReviewStore(tmp_path, rubric_with(-0.75))                 # rubric.toml edited since: the file wins
    assert edited.points("3.1.2")[FIRST] == -0.75 and edited.score(grade) == Q.points - 0.75
    assert edited.rubric_version() != same.rubric_version()
    same.close()
    edited.close()


def test_reading_a_review_writes_nothing(store, tmp_path):
    from autograde.course.review_store import manual_grades
    store.save("a", "3.1.2", [FIRST], 0, "", "ta", 0)
    store.close()
    before = (tmp_path / DB_NAME).read_bytes()
    grades = manual_grades(tmp_path, RUBRIC)
    assert grades["a"]["3.1.2"].items[0][0] == FIRST
    assert (tmp_path / DB_NAME).read_bytes() == before   # (a reader of a WAL database may add its -shm index)
    with sqlite3.connect(f"{(tmp_path / DB_NAME).as_uri()}?mode=ro", uri=True) as db:
        assert db.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 1
    assert manual_grades(tmp_path / "nowhere", RUBRIC) == {}
