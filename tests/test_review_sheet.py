"""The review's spreadsheet round trip on a real batch: `autograde review DIR --sheet`, filled in and
`--apply`d, moves gradebook.csv and the Canvas export by exactly the points people gave; a stale row
is refused and reported; a malformed row is refused by its line number while the others apply."""
import csv
import json
import shutil

import pytest

from autograde.cli import main
from autograde.course.review_sheet import items_sheet_path
from autograde.course.review_store import ReviewStore
from autograde.course.writeup import stored_index
from autograde.rubric import load_rubric
from tests.support import corpus, pdfs

RUBRIC = load_rubric()
MANUAL = [q for q in RUBRIC.questions if q.kind == "manual"]


def _rows(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _canvas_totals(path):
    rows = list(csv.reader(open(path, newline="", encoding="utf-8")))
    return rows[1][-1], {row[0]: float(row[-1]) for row in rows[2:]}


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    """A batch of two submissions graded on Q2.2.2 and Q1.1 (the evidence of a theory question)."""
    root = tmp_path_factory.mktemp("review")
    corpus.build("softmax_no_shift", root / "subs" / "bob")
    corpus.build("q5_loss_mean", root / "subs" / "alice")
    pdfs.text_pdf(root / "subs" / "alice" / "hw5 write-up.pdf", [["Q1.1", "softmax"], ["Q3.1.2", "the rates"]])
    assert main(["batch", str(root / "subs"), "--out", str(root / "out"), "-j", "2", "-q", "2.2.2", "-q", "1.1"]) == 0
    return root / "out"


@pytest.fixture
def graded(batch, tmp_path):
    return shutil.copytree(batch, tmp_path / "out")


def test_the_batch_keeps_each_write_up_beside_its_report_with_its_pages_found(batch):
    assert (batch / "alice" / "writeup.pdf").is_file() and not (batch / "bob" / "writeup.pdf").exists()
    assert stored_index(batch / "alice" / "writeup.pdf", [q.id for q in MANUAL]).found == {"1.1": [1], "3.1.2": [2]}
    assert "kept the write-up hw5 write-up.pdf" in (batch / "alice" / "report.md").read_text(encoding="utf-8")


def test_a_filled_sheet_moves_the_gradebook_and_the_export_by_exactly_the_manual_points(graded, tmp_path, capsys):
    auto = {row["submission"]: float(row["total"]) for row in _rows(graded / "gradebook.csv")}
    assert main(["export", str(graded), "--layout", "canvas", "--out", str(tmp_path / "before.csv")]) == 1  # no roster
    possible_before, canvas_before = _canvas_totals(tmp_path / "before.csv")

    sheet = tmp_path / "sheet.csv"
    assert main(["review", str(graded), "--sheet", str(sheet)]) == 0
    rows = _rows(sheet)
    assert len(rows) == 2 * len(MANUAL) and {r["version"] for r in rows} == {"0"}
    assert list(rows[0]) == ["submission", "question", "max", "items", "adjustment", "comment", "grader", "version"]
    assert {r["question"] for r in rows} == {q.id for q in MANUAL}
    items = _rows(items_sheet_path(sheet))
    assert {(r["question"], r["item"]) for r in items} == {(q.id, i.id) for q in MANUAL for i in q.items}

    q312, q15 = RUBRIC["3.1.2"], RUBRIC["1.5"]
    fill = {("alice", "3.1.2"): (f"{q312.items[1].id};{q312.items[2].id}", "0.5", "=HYPERLINK(\"x\")"),
            ("bob", "1.5"): ("", "-2", "the chain rule for b is missing"),
            ("bob", "1.1"): ("", "", "full marks")}
    for row in rows:
        if (row["submission"], row["question"]) in fill:
            row["items"], row["adjustment"], row["comment"] = fill[row["submission"], row["question"]]
    with open(sheet, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    assert main(["review", str(graded), "--apply", str(sheet), "--grader", "ta1"]) == 0
    assert "3 grade(s) applied" in capsys.readouterr().out

    alice = q312.points + q312.items[1].points + q312.items[2].points + 0.5
    manual = {"alice": max(0, min(q312.points, alice)), "bob": (q15.points - 2) + RUBRIC["1.1"].points}
    book = {row["submission"]: row for row in _rows(graded / "gradebook.csv")}
    for name in ("alice", "bob"):
        assert float(book[name]["total"]) == pytest.approx(auto[name] + manual[name])
    assert book["alice"]["1.5"] == "not graded yet" and float(book["bob"]["1.5"]) == 10
    assert main(["export", str(graded), "--layout", "canvas", "--out", str(tmp_path / "after.csv")]) == 1
    possible_after, canvas_after = _canvas_totals(tmp_path / "after.csv")
    assert {n: canvas_after[n] - canvas_before[n] for n in canvas_before} == pytest.approx(manual)
    assert float(possible_after) == float(possible_before) + sum(q.points for q in MANUAL)
    assert main(["export", str(graded), "--layout", "canvas", "--auto-only", "--out", str(tmp_path / "auto.csv")]) == 1
    assert _canvas_totals(tmp_path / "auto.csv") == (possible_before, canvas_before)

    # The submission's own results.json and report carry the grades, items and comments once published.
    results = (graded / "alice" / "report.md").read_text(encoding="utf-8")
    assert "graded by ta1" in results and q312.items[1].text[:30] in results
    assert "not graded yet" in results

    # The same sheet again: its rows are based on version 0, stale now: refused, reported, kept in the log.
    assert main(["review", str(graded), "--apply", str(sheet), "--grader", "ta2"]) == 1
    out = capsys.readouterr().out
    assert "3 refused" in out and out.count("stale") == 3
    store = ReviewStore(graded, RUBRIC)
    assert [(g.grader, g.applied) for g in store.history("alice", "3.1.2")] == [("ta1", True), ("ta2", False)]
    assert store.current("alice", "3.1.2").comment == "=HYPERLINK(\"x\")"   # the neutralising apostrophe came off
    store.close()
    assert float(_rows(graded / "gradebook.csv")[0]["total"]) == pytest.approx(auto["alice"] + manual["alice"])

    # A new sheet shows the grades in force, formula cells neutralised on the way out.
    assert main(["review", str(graded), "--sheet", str(tmp_path / "again.csv")]) == 0
    again = {(r["submission"], r["question"]): r for r in _rows(tmp_path / "again.csv")}
    assert again["alice", "3.1.2"]["comment"] == "'=HYPERLINK(\"x\")" and again["alice", "3.1.2"]["grader"] == "ta1"
    assert int(again["alice", "3.1.2"]["version"]) > 0


def test_malformed_rows_are_refused_by_line_and_the_rest_applies(graded, tmp_path, capsys):
    sheet = tmp_path / "bad.csv"
    sheet.write_text("submission,question,max,items,adjustment,comment,grader,version\n"
                     "alice,3.1.2,2,no-such-item,,,,0\n"
                     "alice,9.9,2,,1,,,0\n"
                     "nobody,3.1.2,2,,1,,,0\n"
                     "alice,3.1.3,3,,lots,,,0\n"
                     "alice,3.1.4,2,,1,,,zero\n"
                     "alice,1.2,2,,-1,fine,,0\n", encoding="utf-8")
    assert main(["review", str(graded), "--apply", str(sheet), "--grader", "ta1"]) == 1
    out = capsys.readouterr().out
    assert "1 grade(s) applied" in out
    for line, why in ((2, "no rubric item 'no-such-item'"), (3, "no question 9.9"), (4, "no graded submission 'nobody'"),
                      (5, "adjustment 'lots'"), (6, "version 'zero'")):
        assert f"line {line}: refused: " in out and why in out
    store = ReviewStore(graded, RUBRIC)
    assert store.events() == 1 and store.current("alice", "1.2").adjustment == -1
    store.close()


@pytest.mark.parametrize("content, message", [
    ("", "header lacks"), ("a,b\n1,2\n", "header lacks submission, question, items, adjustment, comment, version"),
])
def test_a_sheet_that_is_not_one_is_refused_whole(graded, tmp_path, capsys, content, message):
    (tmp_path / "s.csv").write_text(content, encoding="utf-8")
    assert main(["review", str(graded), "--apply", str(tmp_path / "s.csv"), "--grader", "ta1"]) == 2
    assert message in capsys.readouterr().err
    assert main(["review", str(graded), "--apply", str(tmp_path / "none.csv"), "--grader", "ta1"]) == 2
    assert main(["review", str(graded), "--apply", str(tmp_path / "s.csv")]) == 2   # no --grader


def test_a_comment_over_lines_round_trips_and_an_emptied_row_gives_full_marks(graded, tmp_path, capsys):
    sheet = tmp_path / "sheet.csv"
    sheet.write_text("submission,question,max,items,adjustment,comment,grader,version\n"
                     'bob,1.2,2,,-1,"first line\nsecond line",,0\n'
                     "bob,1.3,2,,-0.5,,,0\n", encoding="utf-8")
    assert main(["review", str(graded), "--apply", str(sheet), "--grader", "ta1"]) == 0
    store = ReviewStore(graded, RUBRIC)
    assert store.current("bob", "1.2").comment == "first line\nsecond line"
    assert main(["review", str(graded), "--sheet", str(tmp_path / "again.csv")]) == 0
    rows = _rows(tmp_path / "again.csv")
    for row in rows:
        if (row["submission"], row["question"]) == ("bob", "1.3"):
            row["adjustment"] = ""   # the grader takes the deduction back
    with open(tmp_path / "again.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    assert main(["review", str(graded), "--apply", str(tmp_path / "again.csv"), "--grader", "ta2"]) == 0
    out = capsys.readouterr().out
    assert "1 grade(s) applied" in out and "1 unchanged" in out   # bob's Q1.2 row came back as it was
    assert store.score(store.current("bob", "1.3")) == RUBRIC["1.3"].points
    assert store.current("bob", "1.2").comment == "first line\nsecond line"
    store.close()


def test_saving_a_grade_never_rescores_a_batch_scored_by_another_rubric(graded, tmp_path, capsys):
    """bob's results.json says 1 point less than the bundled rubric gives his record (as after
    `autograde rescore --rubric OTHER`): publishing a grade replaces only the people's part of it."""
    results_file = graded / "bob" / "results.json"
    stored = json.loads(results_file.read_text(encoding="utf-8"))
    stored["score"] -= 1
    results_file.write_text(json.dumps(stored), encoding="utf-8")
    report = (graded / "bob" / "report.md").read_text(encoding="utf-8")
    (tmp_path / "s.csv").write_text("submission,question,max,items,adjustment,comment,grader,version\n"
                                    "bob,1.4,3,,-1,,,0\n", encoding="utf-8")
    assert main(["review", str(graded), "--apply", str(tmp_path / "s.csv"), "--grader", "ta1"]) == 0
    assert "its report kept: its automatic points" in capsys.readouterr().out
    after = json.loads(results_file.read_text(encoding="utf-8"))
    assert after["score"] == stored["score"] + 2 and (graded / "bob" / "report.md").read_text(encoding="utf-8") == report
    people = [t for t in after["tests"] if t.get("extra_data", {}).get("graded_by") == "person"]
    assert [(t["number"], t["score"]) for t in people] == [("1.4", 2)]
    book = {row["submission"]: row for row in _rows(graded / "gradebook.csv")}
    assert float(book["bob"]["total"]) == stored["score"] + 2
