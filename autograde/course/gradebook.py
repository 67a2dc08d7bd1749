"""The batch's gradebook (OUT/gradebook.csv), rebuilt from the results.json files under OUT, and the
reading of those files and the writing of CSV cells that it shares with the LMS export (export.py)."""
import csv
import json
import math
from dataclasses import dataclass
from pathlib import Path

from autograde.course.review_store import DB_NAME as REVIEW_DB
from autograde.course.review_store import manual_grades
from autograde.results import is_person_test
from autograde.rubric import load_rubric

RESULTS, GRADEBOOK = "results.json", "gradebook.csv"
NOT_GRADED = "not graded yet"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")   # a cell starting so a spreadsheet runs as a formula


@dataclass(frozen=True)
class Graded:
    """One submission's results.json, as the gradebook and the export read it."""
    name: str                 # OUT/<name>/: the submission's folder name or zip stem
    total: float
    scores: dict              # question number -> score
    max_scores: dict          # question number -> max_score
    titles: dict              # question number -> its title (the test name without "Q<number> ")
    grader_errors: int = 0
    seconds: object = ""
    ungraded: tuple = ()      # questions a person grades that nobody has graded yet (once a review began)


def graded_submissions(graded_dir):
    """The names of graded_dir's graded submissions (folders holding results.json), sorted; hidden
    folders (the reference's .reference/, a staging folder) left out."""
    return sorted(p.parent.name for p in Path(graded_dir).glob(f"*/{RESULTS}") if not p.parent.name.startswith("."))


def read_graded(graded_dir, rubric=None, auto_only=False):
    """([Graded], [(name, why)]) for every graded_dir/<name>/results.json, sorted by name; a file
    that cannot be read or does not hold Gradescope's results format is left out with its reason.

    Once a review has begun (graded_dir/review.sqlite), each question a person grades joins each
    submission: its points when graded (in the total), listed in `ungraded` otherwise (its max is
    in max_scores either way, so the points possible are the whole assignment's). rubric: the
    rubric whose items score the review (default: the bundled one). auto_only: the automatic
    points alone, as before a review."""
    manual = {} if auto_only else _manual_grades(graded_dir, rubric)
    graded, skipped = [], []
    for results_file in sorted(Path(graded_dir).glob(f"*/{RESULTS}")):
        name = results_file.parent.name
        if name.startswith("."):
            continue
        try:
            graded.append(_graded(name, json.loads(results_file.read_text(encoding="utf-8")), manual))
        except (OSError, UnicodeDecodeError) as exc:
            skipped.append((name, f"{results_file}: cannot be read ({exc.__class__.__name__}: {exc})"))
        except json.JSONDecodeError as exc:
            skipped.append((name, f"{results_file}: not valid JSON ({exc})"))
        except ValueError as exc:
            skipped.append((name, f"{results_file}: {exc}"))
    return graded, skipped


def _manual_grades(graded_dir, rubric):
    """{"questions": the rubric's questions people grade, "grades": {submission: {qid: ManualGrade}}},
    or {} before a review began."""
    if not (Path(graded_dir) / REVIEW_DB).is_file():
        return {}
    rubric = rubric or load_rubric()
    return {"questions": list(rubric.by_person), "grades": manual_grades(graded_dir, rubric)}


def _graded(name, results, manual=None):
    if not isinstance(results, dict):
        raise ValueError("expected a JSON object (Gradescope's results.json)")
    tests = results.get("tests", [])
    if not isinstance(tests, list) or not all(isinstance(t, dict) for t in tests):
        raise ValueError("'tests' is not a list of objects")
    scores, max_scores, titles = {}, {}, {}
    for index, test in enumerate(tests):
        if is_person_test(test):
            continue   # a person's grade, as written into results.json: the review's store is where it is read
        number = str(test.get("number") or test.get("name") or f"test {index + 1}")
        scores[number] = _finite(test.get("score", 0), f"tests[{index}].score")
        max_scores[number] = _finite(test.get("max_score", 0), f"tests[{index}].max_score")
        title = str(test.get("name", number))
        titles[number] = title[len(f"Q{number} "):] if title.startswith(f"Q{number} ") else title
    # Gradescope adds the tests up when the top-level score is absent (scores holds no person's grade).
    total = sum(scores.values())
    if "score" in results:
        total = _finite(results["score"], "score") - sum(_finite(t.get("score", 0), "a person's score")
                                                         for t in tests if is_person_test(t))
    ungraded = []
    for question in (manual or {}).get("questions", ()):
        grade = manual["grades"].get(name, {}).get(question.id)
        max_scores[question.id], titles[question.id] = question.points, question.title
        if grade is None:
            ungraded.append(question.id)
        else:
            scores[question.id] = grade.score
            total += grade.score
    return Graded(name, round(total, 6), scores, max_scores, titles,
                  str(results.get("output", "")).count("GRADER ERROR"), results.get("execution_time", ""), tuple(ungraded))


def _finite(value, what):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"'{what}' is {value!r}, not a number")
    return float(value)


def write_gradebook(out, rubric=None, auto_only=False):
    """Rebuild out/gradebook.csv from every out/<name>/results.json and, once a review began, the
    grades people gave: one row per submission (total, then one column per question, "not graded
    yet" where a person has still to grade it, then grader errors). Returns its path."""
    graded, skipped = read_graded(out, rubric, auto_only)
    rows = [{"submission": g.name, "total": g.total, **g.scores, **dict.fromkeys(g.ungraded, NOT_GRADED),
             "grader_errors": g.grader_errors, "seconds": g.seconds} for g in graded]
    rows += [{"submission": name, "total": "", "grader_errors": "", "seconds": ""} for name, _ in skipped]  # unreadable
    questions = sorted({q for g in graded for q in g.max_scores}, key=question_order)
    path = Path(out) / GRADEBOOK
    partial = path.with_name(f".{GRADEBOOK}.partial")
    with open(partial, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, ["submission", "total", *questions, "grader_errors", "seconds"], restval="")
        writer.writeheader()
        writer.writerows({**row, "submission": spreadsheet_safe(row["submission"])}
                         for row in sorted(rows, key=lambda row: row["submission"]))
    partial.replace(path)   # a reader (a TA's spreadsheet) sees the old gradebook or the new one, whole
    return path


def spreadsheet_safe(value):
    """A CSV cell: a number written as one (12.5, 10), a text a spreadsheet would run as a formula
    (starting with = + - @, a tab or a carriage return) prefixed with an apostrophe."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return plain_number(value)
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def plain_number(value):
    """A number as short text: 12.5, 10 (not 10.0), at most 10 significant digits."""
    return format(float(value), ".10g")


def question_order(qid):
    """A sort key for question ids: '2.10' after '2.9', and ids with letters ('7.1a') among them."""
    return tuple((0, int(part), "") if part.isdigit() else (1, 0, part) for part in str(qid).split("."))
