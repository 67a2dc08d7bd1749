"""The review's spreadsheet round trip, for graders who work offline.

`autograde review GRADED_DIR --sheet OUT.csv` writes one row per (submission, question a person
grades): submission, question, max, items (the applied item ids, separated by ';'), adjustment
(points added to full marks less the items), comment, grader, version (the version of the grade
the row shows: 0 for none). Beside it, OUT-items.csv lists every question's items (question, item,
points, text, cites): what a grader may write in `items`.

`autograde review GRADED_DIR --apply SHEET.csv --grader NAME` records each filled row (items,
adjustment or comment not empty, or a row that showed a grade: emptied, it gives full marks) as NAME's save under the store's stale-version rule: a row whose
version is no longer the grade in force is kept in the log and refused. A row that is not
well-formed is refused with its line number; the other rows still apply.
"""
import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

from autograde.course.gradebook import FORMULA_STARTS, graded_submissions, question_order, spreadsheet_safe
from autograde.course.rescore import publish
from autograde.course.review_store import open_store

COLUMNS = ("submission", "question", "max", "items", "adjustment", "comment", "grader", "version")
ITEM_COLUMNS = ("question", "item", "points", "text", "cites")


class SheetError(ValueError):
    """The sheet as a whole cannot be read (not a CSV, no header): the message names the file."""


@dataclass
class ApplyReport:
    applied: list = field(default_factory=list)     # (line, submission, question)
    refused: list = field(default_factory=list)     # (line, why)
    unchanged: int = 0                              # rows that repeat the grade in force
    gradebook: Path | None = None                   # rebuilt when some row applied
    not_republished: list = field(default_factory=list)   # (submission, why its results.json was kept as it was)


def items_sheet_path(out_csv):
    out_csv = Path(out_csv)
    return out_csv.with_name(f"{out_csv.stem}-items{out_csv.suffix or '.csv'}")


def write_sheet(graded_dir, out_csv, rubric):
    """Write the grading sheet of every graded submission and question a person grades to out_csv,
    and the items it may name to <stem>-items.csv beside it. Returns the sheet's Path."""
    store = open_store(graded_dir, rubric)
    try:
        questions = list(rubric.by_person)
        current = store.all_current()
        out_csv = Path(out_csv)
        out_csv.parent.mkdir(parents=True, exist_ok=True)
        with open(out_csv, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(COLUMNS)
            names = graded_submissions(graded_dir)
            for question in sorted(questions, key=lambda q: question_order(q.id)):
                for name in names:
                    grade = current.get((name, question.id))
                    cells = [name, question.id, question.points]
                    cells += ([";".join(grade.items), grade.adjustment, grade.comment, grade.grader, grade.version]
                              if grade else ["", "", "", "", 0])
                    writer.writerow([spreadsheet_safe(c) for c in cells])
        with open(items_sheet_path(out_csv), "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(ITEM_COLUMNS)
            for question in questions:
                points = store.points(question.id)
                for item in question.items:
                    writer.writerow([spreadsheet_safe(c) for c in (question.id, item.id, points[item.id], item.text, item.cites)])
    finally:
        store.close()
    return out_csv


def apply_sheet(graded_dir, sheet_csv, grader, rubric):
    """Record every filled row of sheet_csv as grader's save. Returns ApplyReport; raises SheetError
    when the file cannot be read as a sheet (its header names what is missing)."""
    sheet_csv = Path(sheet_csv)
    if not str(grader or "").strip():
        raise SheetError("--apply needs --grader NAME: the saves are recorded as that grader's")
    try:
        text = sheet_csv.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise SheetError(f"{sheet_csv}: no such file (expected a sheet written by autograde review --sheet)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SheetError(f"{sheet_csv}: cannot be read as a UTF-8 CSV ({exc})") from None
    try:   # newline="": a quoted cell keeps its line breaks, and line_num counts the file's lines
        reader = csv.reader(io.StringIO(text, newline=""))
        rows = [(reader.line_num, row) for row in reader]
    except csv.Error as exc:
        raise SheetError(f"{sheet_csv}: not a CSV ({exc})") from None
    header = [h.strip().lower() for h in rows[0][1]] if rows else []
    missing = [c for c in ("submission", "question", "items", "adjustment", "comment", "version") if c not in header]
    if missing:
        raise SheetError(f"{sheet_csv}: its header lacks {', '.join(missing)}; expected the columns {','.join(COLUMNS)}")
    known = set(graded_submissions(graded_dir))
    report = ApplyReport()
    store = open_store(graded_dir, rubric)
    try:
        for line, row in rows[1:]:   # a row's line: where it ends in the file (a cell may span lines)
            if not any(cell.strip() for cell in row):
                continue
            cells = {name: _unquote(row[i]) if i < len(row) else "" for i, name in enumerate(header)}
            try:
                _apply_row(store, cells, grader, known, report, line)
            except ValueError as exc:
                report.refused.append((line, str(exc)))
    finally:
        store.close()
    if report.applied:   # the submissions' results.json and reports, and the gradebook, carry the new grades
        report.gradebook, report.not_republished = publish(graded_dir, rubric, {s for _, s, _ in report.applied})
    return report


def _apply_row(store, cells, grader, known, report, line):
    submission, qid = cells["submission"].strip(), cells["question"].strip()
    if submission not in known:
        raise ValueError(f"no graded submission {submission!r} in this folder")
    store.question(qid)   # ValueError naming the questions a person grades
    items = [i.strip() for i in cells["items"].replace(",", ";").split(";") if i.strip()]
    adjustment, comment = cells["adjustment"].strip(), cells["comment"]
    try:
        based_on = int(float(cells["version"].strip() or 0))
    except ValueError:
        raise ValueError(f"version {cells['version']!r} is not a number (keep the value the sheet was written with)") from None
    if not items and not adjustment and not comment.strip() and not based_on:
        return   # a row that showed no grade and was left empty: not graded
    # (a row that showed a grade and was emptied is a grade too: full marks, nothing deducted)
    try:
        adjustment_value = float(adjustment) if adjustment else 0.0
    except ValueError:
        raise ValueError(f"adjustment {adjustment!r} is not a number of points") from None
    current = store.current(submission, qid)
    if (current and current.version == based_on and set(current.items) == set(items)
            and current.adjustment == adjustment_value and current.comment == comment):
        report.unchanged += 1
        return
    result = store.save(submission, qid, items, adjustment_value, comment, grader, based_on)
    if result.applied:
        report.applied.append((line, submission, qid))
    else:
        shown = f"{result.current.grader}'s grade (version {result.current.version}, {result.current.at})" \
            if result.current else "no grade"
        report.refused.append((line, f"{submission} Q{qid}: stale: the row is based on version {based_on}, but "
                                     f"{shown} is in force now; kept in the log, not applied (write a new sheet)"))


def _unquote(cell):
    """A cell as written: the apostrophe that neutralised a formula on the way out is taken off."""
    return cell[1:] if cell.startswith("'") and cell[1:].startswith(FORMULA_STARTS) else cell
