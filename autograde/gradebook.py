"""The batch's gradebook (OUT/gradebook.csv), rebuilt from the results.json files under OUT."""
import csv
import json
from pathlib import Path

RESULTS, GRADEBOOK = "results.json", "gradebook.csv"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")   # a cell starting so a spreadsheet runs as a formula


def write_gradebook(out):
    """Rebuild out/gradebook.csv from every out/<name>/results.json: one row per submission (total,
    then one column per automatically graded question, then grader errors). Returns its path."""
    rows, questions = [], []
    for results_file in sorted(Path(out).glob(f"*/{RESULTS}")):
        try:
            results = json.loads(results_file.read_text(encoding="utf-8"))
            scores = {str(t["number"]): t["score"] for t in results.get("tests", [])}
        except (ValueError, KeyError, TypeError, AttributeError):
            results, scores = {"score": "", "output": "results.json is unreadable"}, {}
        questions += [q for q in scores if q not in questions]
        output = str(results.get("output", ""))
        rows.append({"submission": _cell(results_file.parent.name), "total": results.get("score", ""), **scores,
                     "grader_errors": output.count("GRADER ERROR"),
                     "seconds": results.get("execution_time", "")})
    path = Path(out) / GRADEBOOK
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, ["submission", "total", *sorted(questions, key=question_order), "grader_errors", "seconds"],
                                restval="")
        writer.writeheader()
        writer.writerows(rows)
    return path


def _cell(text):
    """A file name as a CSV cell a spreadsheet will not run as a formula."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def question_order(qid):
    """A sort key for question ids: '2.10' after '2.9', and ids with letters ('7.1a') among them."""
    return tuple((0, int(part), "") if part.isdigit() else (1, 0, part) for part in str(qid).split("."))
