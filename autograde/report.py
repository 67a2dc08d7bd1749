"""Human-readable views of GradingResults: the terminal table and a Markdown report with figures
(the HTML page is autograde/html_report.py)."""
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from autograde.results import versions_line

STATUS_STYLE = {"passed": "green", "partial": "yellow", "failed": "red", "manual": "cyan", "pending": "dim"}


def _points(value):
    return "—" if value is None else f"{value:g}"


def print_table(results, console=None, verbose=False):
    """Print one row per question (number, title, points, max, one-line reason), then the totals."""
    console = console or Console()
    table = Table(title=f"HW5 grading: {escape(results.submission)}", title_justify="left")
    for column, justify in (("Q", "left"), ("title", "left"), ("points", "right"), ("max", "right"), ("reason", "left")):
        table.add_column(column, justify=justify, overflow="fold")
    for r in results.questions:
        style = STATUS_STYLE.get(r.status, "")
        table.add_row(r.question.id, escape(r.question.title), f"[{style}]{_points(r.score)}[/]",
                      f"{r.max_score:g}", f"[{style}]{escape(r.reason)}[/]")
    console.print(table)
    if verbose:  # every question with something to say: failures, failed evidence, advice
        for r in results.questions:
            if r.has_notes:
                console.print(f"[bold]Q{r.question.id}[/]\n{escape(r.details())}")
    for r in results.questions:
        for line in r.findings:
            console.print(f"[cyan]Q{r.question.id}[/] {escape(line)}", soft_wrap=True)
    for notice in results.notices:
        console.print(f"[bold yellow]note:[/] {escape(notice)}", soft_wrap=True)
    for error in results.grader_errors:
        console.print(f"[bold red]grader error:[/] {escape(error)}", soft_wrap=True)
    console.print(f"[bold]{escape(results.summary())}[/]  ({results.elapsed:.1f} s, seed {results.seed})", soft_wrap=True)
    console.print(f"[dim]graded with {escape(versions_line(results.versions))}[/]", soft_wrap=True)


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
        lines.append(f"| {r.question.id} | {_cell(r.question.title)} | {_points(r.score)} | {r.max_score:g} | {_cell(r.reason)} |")
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
    lines += ["", "## For a person to grade", "", "| Q | title | max | notes |", "|---|---|--:|---|"]
    lines += [f"| {r.question.id} | {_cell(r.question.title)} | {r.max_score:g} | {_cell(r.reason)} |" for r in manual]
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


def usage_rows(results):
    """[(questions, wall time, peak memory)] as text, one per test process (a rubric group's
    questions share one), longest first: what a submission costs to grade."""
    processes = {}
    for r in results.questions:
        if r.outcomes:
            processes.setdefault((r.question.group or r.question.id), []).append(r)
    rows = []
    for members in sorted(processes.values(), key=lambda m: -m[0].elapsed):
        peak = f"{members[0].peak_rss / 2**20:.0f} MB" if members[0].peak_rss else "—"
        rows.append((", ".join(r.question.id for r in members), f"{members[0].elapsed:.1f} s", peak))
    return rows


def usage_table(results):
    """Markdown lines of usage_rows under a heading (none when no process ran)."""
    rows = usage_rows(results)
    if not rows:
        return []
    return ["", "## Time and memory per test process", "", "| questions | wall time | peak memory (with the submission's worker) |",
            "|---|--:|--:|", *(f"| {q} | {t} | {m} |" for q, t, m in rows)]


def write_report(results, path):
    """Write the Markdown report to path, the submission's figures to <stem>_figures/ beside it,
    and the self-contained HTML page (figures inline) to <stem>.html.

    Returns: the report's Path. File names are the grader's (q<id>-<n>.png), never the submission's.
    """
    path = Path(path)
    folder = path.with_name(f"{path.stem}_figures")
    links = {}
    for r in results.questions:
        for number, figure in enumerate(r.figures, 1):
            folder.mkdir(parents=True, exist_ok=True)
            target = folder / f"q{r.question.id}-{number}.png"
            target.write_bytes(figure.png)
            links[id(figure)] = f"{folder.name}/{target.name}"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(markdown_report(results, links), encoding="utf-8")
    from autograde.html_report import html_report  # imports usage_table from here
    path.with_suffix(".html").write_text(html_report(results), encoding="utf-8")
    return path
