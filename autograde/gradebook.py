"""The batch's gradebook (OUT/gradebook.csv), rebuilt from the results.json files under OUT, and the
reading of those files and the writing of CSV cells that it shares with the LMS export (export.py)."""
import csv
import json
import math
from dataclasses import dataclass
from pathlib import Path

RESULTS, GRADEBOOK = "results.json", "gradebook.csv"
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


def read_graded(graded_dir):
    """([Graded], [(name, why)]) for every graded_dir/<name>/results.json, sorted by name; a file
    that cannot be read or does not hold Gradescope's results format is left out with its reason."""
    graded, skipped = [], []
    for results_file in sorted(Path(graded_dir).glob(f"*/{RESULTS}")):
        name = results_file.parent.name
        if name.startswith("."):
            continue
        try:
            graded.append(_graded(name, json.loads(results_file.read_text(encoding="utf-8"))))
        except (OSError, UnicodeDecodeError) as exc:
            skipped.append((name, f"{results_file}: cannot be read ({exc.__class__.__name__}: {exc})"))
        except json.JSONDecodeError as exc:
            skipped.append((name, f"{results_file}: not valid JSON ({exc})"))
        except ValueError as exc:
            skipped.append((name, f"{results_file}: {exc}"))
    return graded, skipped


def _graded(name, results):
    if not isinstance(results, dict):
        raise ValueError("expected a JSON object (Gradescope's results.json)")
    tests = results.get("tests", [])
    if not isinstance(tests, list) or not all(isinstance(t, dict) for t in tests):
        raise ValueError("'tests' is not a list of objects")
    scores, max_scores, titles = {}, {}, {}
    for index, test in enumerate(tests):
        number = str(test.get("number") or test.get("name") or f"test {index + 1}")
        scores[number] = _finite(test.get("score", 0), f"tests[{index}].score")
        max_scores[number] = _finite(test.get("max_score", 0), f"tests[{index}].max_score")
        title = str(test.get("name", number))
        titles[number] = title[len(f"Q{number} "):] if title.startswith(f"Q{number} ") else title
    # Gradescope adds the tests up when the top-level score is absent; so does this.
    total = _finite(results["score"], "score") if "score" in results else sum(scores.values())
    return Graded(name, total, scores, max_scores, titles, str(results.get("output", "")).count("GRADER ERROR"),
                  results.get("execution_time", ""))


def _finite(value, what):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"'{what}' is {value!r}, not a number")
    return float(value)


def write_gradebook(out):
    """Rebuild out/gradebook.csv from every out/<name>/results.json: one row per submission (total,
    then one column per automatically graded question, then grader errors). Returns its path."""
    graded, skipped = read_graded(out)
    rows = [{"submission": g.name, "total": g.total, **g.scores, "grader_errors": g.grader_errors, "seconds": g.seconds}
            for g in graded]
    rows += [{"submission": name, "total": "", "grader_errors": "", "seconds": ""} for name, _ in skipped]  # unreadable
    questions = sorted({q for g in graded for q in g.scores}, key=question_order)
    path = Path(out) / GRADEBOOK
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, ["submission", "total", *questions, "grader_errors", "seconds"], restval="")
        writer.writeheader()
        writer.writerows({**row, "submission": spreadsheet_safe(row["submission"])}
                         for row in sorted(rows, key=lambda row: row["submission"]))
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
