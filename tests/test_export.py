"""`autograde export`: a graded batch's results.json files as the CSV Canvas's Gradebook import or
Gradescope's score upload reads, identities from Canvas's download naming, Gradescope's
submission_metadata.yml or a roster; formula cells neutralised, unmatched students reported (exit 1),
bad input refused (exit 2). Fake graded folders only: no grading runs here."""
import csv
import json
import sys

import pytest

from autograde.cli import main
from autograde.course.export import (
    export_gradebook,
    parse_canvas_name,
    parse_submission_metadata,
    read_submission_metadata,
    spreadsheet_safe,
)

# Two questions worth 3 + 5 points and one of section 7 (the bundled rubric's extra credit, left
# out of the points possible).
FULL = {"2.2.1": (3, 3), "5.1.1": (5, 5), "7.1.1": (4, 4)}

# Gradescope's Export Submissions metadata: Ruby-symbol keys, an SID quoted (leading zero), a group
# submission, a Ruby tag and a block scalar whose text looks like more entries (it is not).
METADATA = """\
submission_200001:
  :submitters:
  - :name: Ada Lovelace
    :sid: '0042'
    :email: ada@example.edu
  :created_at: 2026-03-01 12:34:56.789012000 -08:00
  :score: 9.5
  :status: processed
  :results: !ruby/hash:ActiveSupport::HashWithIndifferentAccess
    score: 9.5
    tests:
    - name: Q2.2.1 softmax
      output: |-
        a line of output
        submission_999:
          :submitters:
          - :name: Not A Student
  :history: []
submission_200002:
  :submitters:
  - :name: "=HYPERLINK(\\"http://x\\")"
    :sid: '0043'
    :email: grace@example.edu
  - :name: Alan Turing
    :sid: '0044'
    :email: Alan@Example.edu
  :created_at: 2026-03-02 08:00:00.000000000 -08:00
  :score: 4.0
"""


def _graded(folder, name, scores=None, score=None, **extra):
    """folder/name/results.json in Gradescope's format; scores: {number: (score, max_score)}."""
    scores = FULL if scores is None else scores
    tests = [{"name": f"Q{n} question {n}", "number": n, "score": s, "max_score": m, "status": "passed",
              "output": "", "visibility": "visible"} for n, (s, m) in scores.items()]
    results = {"score": sum(s for s, _ in scores.values()) if score is None else score, "execution_time": 12.5,
               "output": "Automatic score.", "tests": tests, **extra}
    (folder / name).mkdir(parents=True)
    (folder / name / "results.json").write_text(json.dumps(results), encoding="utf-8")


def _rows(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


def _export(*argv):
    """`autograde export ARGV`, as the command runs it."""
    return main(["export", *map(str, argv)])


@pytest.fixture
def canvas_batch(tmp_path):
    """Graded Canvas downloads: one on time, one late (its login part has an underscore)."""
    graded = tmp_path / "graded"
    _graded(graded, "doejane_12345_67890_hw5", {"2.2.1": (2.5, 3), "5.1.1": (5, 5), "7.1.1": (3, 4)})
    _graded(graded, "roe_rich_LATE_222_333_hw5-1", {"2.2.1": (3, 3), "5.1.1": (0, 5), "7.1.1": (0, 4)})
    return graded


@pytest.fixture
def gradescope_batch(tmp_path):
    """Graded Gradescope export folders and the export's submission_metadata.yml."""
    graded, export = tmp_path / "graded", tmp_path / "export"
    _graded(graded, "submission_200001", {"2.2.1": (3, 3), "5.1.1": (4.25, 5), "7.1.1": (0, 4)})
    _graded(graded, "submission_200002", {"2.2.1": (1, 3), "5.1.1": (3, 5), "7.1.1": (0, 4)})
    export.mkdir()
    (export / "submission_metadata.yml").write_text(METADATA, encoding="utf-8")
    return graded, export


def test_canvas_layout_has_canvas_header_points_possible_row_and_user_ids(canvas_batch, capsys):
    assert _export(canvas_batch, "--assignment-id", "4321") == 0
    assert _rows(canvas_batch / "canvas-import.csv") == [
        ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "HW5 (4321)"],
        ["Points Possible", "", "", "", "", "8"],              # 3 + 5: section 7 is extra credit
        ["doejane", "12345", "", "", "", "10.5"],              # the total, extra credit included
        ["roe_rich", "222", "", "", "", "3"],
    ]
    assert "wrote" in capsys.readouterr().out


def test_without_an_assignment_id_the_column_is_the_assignment_name(canvas_batch, tmp_path):
    out = tmp_path / "elsewhere" / "hw5.csv"
    assert _export(canvas_batch, "--assignment", "Homework 5", "--out", out, "--points-possible", "133") == 0
    header, points, *_ = _rows(out)
    assert header[-1] == "Homework 5" and points == ["Points Possible", "", "", "", "", "133"]


@pytest.mark.parametrize("name, expected", [
    ("doejane_12345_67890_hw5", {"name": "doejane", "id": "12345", "late": False, "submission_id": "67890"}),
    ("doejane_LATE_12345_67890_hw5", {"name": "doejane", "id": "12345", "late": True, "submission_id": "67890"}),
    ("van_der_berg_5_6_my_hw_2024", {"name": "van_der_berg", "id": "5", "late": False, "submission_id": "6"}),
    ("doejane_12345_67890", {"name": "doejane", "id": "12345", "late": False, "submission_id": "67890"}),
    ("submission_200001", None), ("alice", None), ("hw5_2024_01", None), ("_12_34_x", None),
])
def test_canvas_download_names(name, expected):
    assert parse_canvas_name(name) == expected


@pytest.mark.parametrize("reader", ["pyyaml", "built-in"])
def test_gradescope_layout_takes_students_from_submission_metadata(gradescope_batch, reader, monkeypatch, capsys):
    graded, export = gradescope_batch
    if reader == "pyyaml":
        pytest.importorskip("yaml")
    else:
        monkeypatch.setitem(sys.modules, "yaml", None)   # `import yaml` fails: the built-in reader reads it
    assert _export(graded, "--layout", "gradescope", "--submissions", export) == 0, capsys.readouterr().err
    assert _rows(graded / "gradescope-import.csv") == [
        ["Name", "SID", "Email", "Total Score"],
        ["Ada Lovelace", "0042", "ada@example.edu", "7.25"],
        ["'=HYPERLINK(\"http://x\")", "0043", "grace@example.edu", "4"],   # a group: a row per member
        ["Alan Turing", "0044", "Alan@Example.edu", "4"],
    ]


def test_both_metadata_readers_agree_and_keep_sids_as_text(gradescope_batch, monkeypatch):
    pytest.importorskip("yaml")
    _, export = gradescope_batch
    expected = {"submission_200001": [{"name": "Ada Lovelace", "sid": "0042", "email": "ada@example.edu"}],
                "submission_200002": [{"name": '=HYPERLINK("http://x")', "sid": "0043", "email": "grace@example.edu"},
                                      {"name": "Alan Turing", "sid": "0044", "email": "Alan@Example.edu"}]}
    assert read_submission_metadata(export) == expected
    monkeypatch.setitem(sys.modules, "yaml", None)
    assert read_submission_metadata(export / "submission_metadata.yml") == expected
    assert set(parse_submission_metadata(METADATA)) == {"submission_200001", "submission_200002"}


@pytest.mark.parametrize("text, expected", [
    ("submission_1:\n  :submitters:\n    - :name: A B\n      :sid: \"007\"\n      :email: a@b\n  :score: 1\n"
     "submission_2:\n  :submitters: []\n",
     {"submission_1": [{"name": "A B", "sid": "007", "email": "a@b"}], "submission_2": []}),
    ("submission_1:\r\n  :submitters:\r\n  -   :name: 'O''Hara'   \r\n      :sid: 12 # comment\r\n      :email:\r\n",
     {"submission_1": [{"name": "O'Hara", "sid": "12", "email": ""}]}),
    ("---\nsubmission_1:\n  :created_at: x\n  :submitters:\n  - :sid: '1'\n    :name: Z\n  - :name: Y\n    :sid: ~\n",
     {"submission_1": [{"name": "Z", "sid": "1", "email": ""}, {"name": "Y", "sid": "", "email": ""}]}),
])
def test_metadata_layouts_read_alike_with_and_without_pyyaml(tmp_path, monkeypatch, text, expected):
    """Items indented under :submitters: or not, CRLF, comments, quoting, ~, an empty list."""
    pytest.importorskip("yaml")
    path = tmp_path / "submission_metadata.yml"
    path.write_bytes(text.encode("utf-8"))
    assert read_submission_metadata(path) == expected
    monkeypatch.setitem(sys.modules, "yaml", None)
    assert read_submission_metadata(path) == expected


def test_gradescope_per_question_columns(gradescope_batch):
    graded, export = gradescope_batch
    assert _export(graded, "--layout", "gradescope", "--submissions", export, "--per-question") == 0
    header, ada, *_ = _rows(graded / "gradescope-import.csv")
    assert header == ["Name", "SID", "Email", "Total Score", "2.2.1: question 2.2.1 (3 pts)",
                      "5.1.1: question 5.1.1 (5 pts)", "7.1.1: question 7.1.1 (4 pts)"]
    assert ada == ["Ada Lovelace", "0042", "ada@example.edu", "7.25", "3", "4.25", "0"]


def test_a_roster_overrides_the_file_name_and_names_groups(canvas_batch, tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_text("\ufeffSubmission,Student,SIS User ID,SIS Login ID,Section,Pronouns\n"   # Excel's BOM, Canvas's headers
                      "doejane_12345_67890_hw5.zip,\"Doe, Jane\",S001,jdoe,L01,she\n"
                      "roe_rich_LATE_222_333_hw5-1,Rich Roe,S002,rroe,L02,\n"
                      "roe_rich_LATE_222_333_hw5-1,Ann Other,S003,aother,L02,\n", encoding="utf-8")
    assert _export(canvas_batch, "--roster", roster) == 0
    assert _rows(canvas_batch / "canvas-import.csv")[2:] == [
        ["Doe, Jane", "", "S001", "jdoe", "L01", "10.5"],        # the roster wins whole: no ID from the name
        ["Rich Roe", "", "S002", "rroe", "L02", "3"],
        ["Ann Other", "", "S003", "aother", "L02", "3"],
    ]


def test_formula_cells_are_neutralised_and_scores_stay_numbers(tmp_path):
    graded, roster = tmp_path / "graded", tmp_path / "roster.csv"
    for name in ("a", "b", "c", "=d"):
        _graded(graded, name)
    roster.write_text("submission,name,sid,email\na,=1+2,1,a@x.edu\nb,-Bob,2,@b\nc,+c,3,c@x.edu\n=d,@SUM(A1),4,d@x.edu\n",
                      encoding="utf-8")
    assert _export(graded, "--layout", "plain", "--roster", roster) == 0
    rows = _rows(graded / "plain-import.csv")
    assert [(r[0], r[1], r[7]) for r in rows[1:]] == [("'=d", "'@SUM(A1)", "d@x.edu"), ("a", "'=1+2", "a@x.edu"),
                                                       ("b", "'-Bob", "'@b"), ("c", "'+c", "c@x.edu")]
    assert rows[0] == ["submission", "name", "id", "sis_user_id", "sis_login_id", "section", "sid", "email",
                       "total", "2.2.1", "5.1.1", "7.1.1", "grader_errors", "seconds"]
    assert all(float(r[8]) == 12 for r in rows[1:])
    assert (spreadsheet_safe(-1.5), spreadsheet_safe(10.0), spreadsheet_safe(0.25)) == ("-1.5", "10", "0.25")
    assert (spreadsheet_safe("-1.5"), spreadsheet_safe("\t=x"), spreadsheet_safe("Ada")) == ("'-1.5", "'\t=x", "Ada")


def test_an_unidentified_submission_is_written_and_reported_with_exit_1(canvas_batch, capsys):
    _graded(canvas_batch, "mystery")
    assert _export(canvas_batch) == 1
    rows = _rows(canvas_batch / "canvas-import.csv")
    assert ["mystery", "", "", "", "", "12"] in rows               # Canvas's preview flags it: not dropped silently
    err = capsys.readouterr().err
    assert "unmatched mystery" in err and "--roster" in err and "doejane" not in err


def test_gradescope_metadata_gives_canvas_no_id_so_those_rows_are_unmatched(gradescope_batch, capsys):
    graded, export = gradescope_batch
    assert _export(graded, "--submissions", export) == 1
    assert _rows(graded / "canvas-import.csv")[2] == ["Ada Lovelace", "", "", "", "", "7.25"]
    assert "unmatched submission_200001" in capsys.readouterr().err


def test_two_submissions_of_one_student_are_reported(canvas_batch, capsys):
    _graded(canvas_batch, "doejane_12345_67999_hw5-1")
    assert _export(canvas_batch) == 1
    assert len(_rows(canvas_batch / "canvas-import.csv")) == 5
    assert "doejane_12345_67890_hw5, doejane_12345_67999_hw5-1" in capsys.readouterr().err


def test_unreadable_results_are_skipped_with_a_warning(canvas_batch, capsys):
    for name, text in (("broken", "{nope"), ("wrong", '{"score": "lots", "tests": []}'), ("listed", "[1, 2]"),
                       ("nan", '{"score": NaN}')):
        (canvas_batch / name).mkdir()
        (canvas_batch / name / "results.json").write_text(text, encoding="utf-8")
    assert _export(canvas_batch) == 1
    assert [r[0] for r in _rows(canvas_batch / "canvas-import.csv")[2:]] == ["doejane", "roe_rich"]
    err = capsys.readouterr().err
    for name in ("broken", "wrong", "listed", "nan"):
        assert f"skipped {name}: " in err
    assert "not valid JSON" in err and "'score' is 'lots', not a number" in err


def test_points_possible_disagreement_is_said_and_the_common_value_used(canvas_batch, capsys):
    _graded(canvas_batch, "doejane_4_5_hw5", {"2.2.1": (3, 3)})      # graded on one question only
    assert _export(canvas_batch) == 0
    assert _rows(canvas_batch / "canvas-import.csv")[1][-1] == "8"
    assert "disagree on the points possible" in capsys.readouterr().err


def test_export_gradebook_returns_the_path_and_prints_problems(canvas_batch, capsys):
    (canvas_batch / "broken").mkdir()
    (canvas_batch / "broken" / "results.json").write_text("", encoding="utf-8")
    path = export_gradebook(canvas_batch, "plain", canvas_batch / "book.csv", assignment="HW5")
    assert path == canvas_batch / "book.csv" and len(_rows(path)) == 3
    assert "skipped broken" in capsys.readouterr().err


@pytest.mark.parametrize("case, expected", [
    ("missing folder", "not a folder"),
    ("empty folder", "no readable"),
    ("roster without submission", "no 'submission' column"),
    ("no roster", "no such roster file"),
    ("no metadata", "submission_metadata.yml"),
    ("metadata not a mapping", "expected a mapping"),
    ("assignment id", "Canvas's assignment number"),
    ("points possible", "positive number"),
])
def test_bad_input_is_refused_with_exit_2_and_names_the_file(canvas_batch, tmp_path, case, expected, capsys):
    graded, out = canvas_batch, tmp_path / "out.csv"
    roster, export = tmp_path / "roster.csv", tmp_path / "export"
    export.mkdir()
    roster.write_text("name,id\nJane,1\n", encoding="utf-8")
    args, named = {
        "missing folder": ([tmp_path / "nope"], tmp_path / "nope"),
        "empty folder": ([export], export),
        "roster without submission": ([graded, "--roster", roster], roster),
        "no roster": ([graded, "--roster", tmp_path / "absent.csv"], tmp_path / "absent.csv"),
        "no metadata": ([graded, "--submissions", export], export),
        "metadata not a mapping": ([graded, "--submissions", export], export),
        "assignment id": ([graded, "--assignment-id", "HW5"], "HW5"),
        "points possible": ([graded, "--points-possible", "0"], "0"),
    }[case]
    if case == "metadata not a mapping":
        (export / "submission_metadata.yml").write_text("- just\n- a list\n", encoding="utf-8")
    assert _export(*args, "--out", out) == 2
    err = capsys.readouterr().err
    assert expected in err and str(named) in err
    assert not out.exists()


def test_the_default_out_file_is_beside_the_results(canvas_batch):
    assert _export(canvas_batch, "--layout", "plain") == 0
    assert (canvas_batch / "plain-import.csv").is_file()
