"""The Markdown report: score table, each failure's details, advice, the questions left for a person
with the submission's numbers and figures, and each test process's time and memory."""
from autograde.reports.common import given, points, usage_rows
from autograde.results import versions_line


def _cell(text):
    """Make arbitrary text safe inside a Markdown table cell."""
    return (text.replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")
            .replace("\n", " "))


def markdown_report(results, figure_links=None):
    """A Markdown page: score table, each failure's details, and the questions left for a person
    with the submission's numbers and figures. figure_links: {id(Figure): relative path} for the
    figures written beside the page (write_report does that); without it figures are not shown."""
    lines = [f"# HW5 grading report: {_cell(results.submission)}", "", results.summary(), "",
             f"Graded with {_cell(versions_line(results.versions))} (seed {results.seed}).", ""]
    lines += [f"> note: {_cell(n)}" for n in results.notices]
    lines += [f"> **grader error**: {_cell(e)}" for e in results.grader_errors]
    lines += [""] if results.notices or results.grader_errors else []
    lines += ["| Q | title | points | max | reason |", "|---|---|--:|--:|---|"]
    for r in results.questions:
        lines.append(f"| {r.question.id} | {_cell(r.question.title)} | {points(r.score)} | {r.max_score:g} | {_cell(r.reason)} |")
    failures = [r for r in results.questions if r.status in ("partial", "failed") or r.failed_evidence]
    if failures:
        lines += ["", "## What failed", "", "Each failed check with its reason and the handout sentence it enforces "
                  "(evidence: what the person grading the writeup is shown).", ""]
        for r in failures:
            lines += [f"### Q{r.question.id} {_cell(r.question.title)}", "", "```", r.details().replace("```", "'''"), "```", ""]
    advised = [(r, o) for r in results.questions if r.status not in ("partial", "failed") for o in r.advice]
    if advised:
        lines += ["", "## Advice (no points)", "", "Checks beyond what the handout asks: the rubric gives them no points.", ""]
        lines += [f"- Q{r.question.id} {_cell(o.title or o.name)}: {_cell((o.message.splitlines() or [''])[0])} "
                  f"({_cell(r.question.advice.get(o.name, ''))})" for r, o in advised]
    manual = [r for r in results.questions if r.status in ("manual", "pending")]
    lines += ["", "## For a person to grade", "", "| Q | title | points given | max | notes |", "|---|---|--:|--:|---|"]
    lines += [f"| {r.question.id} | {_cell(r.question.title)} | {given(results, r)} | {r.max_score:g} | {_cell(r.reason)} |"
              for r in manual]
    for r in manual:
        grade = results.manual_grade(r.question.id)
        if grade:
            lines += ["", f"**Q{r.question.id}**, graded by {_cell(grade.grader)}: {grade.score:g} / {r.max_score:g}", ""]
            lines += [f"- {_cell(line)}" for line in grade.lines()]
    shown = [r for r in results.questions if r.findings or r.figures]
    if shown:
        lines += ["", "## The submission's numbers and figures", ""]
    for r in shown:
        lines += [f"### Q{r.question.id} {_cell(r.question.title)}", ""]
        lines += [f"- {_cell(line)}" for line in r.findings]
        lines += [""] if r.findings else []
        for figure in r.figures:
            link = (figure_links or {}).get(id(figure))
            if link:
                caption = _cell(figure.caption).replace("[", "\\[").replace("]", "\\]").replace("*", "\\*")
                lines += [f"![{caption}]({link})", f"*{caption}*", ""]
    return "\n".join(lines + usage_table(results)) + "\n"


def usage_table(results):
    """Markdown lines of usage_rows under a heading (none when no process ran)."""
    rows = usage_rows(results)
    if not rows:
        return []
    slowest = f"The slowest process: Q{rows[0][0].replace(', ', ', Q')}, {rows[0][1]}."
    return ["", "## Time and memory per test process", "", slowest, "",
            "| questions | wall time | where the time went | peak memory (with the submission's worker) |",
            "|---|--:|---|--:|", *(f"| {q} | {t} | {w} | {m} |" for q, t, w, m in rows)]
