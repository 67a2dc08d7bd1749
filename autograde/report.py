"""Human-readable views of GradingResults: the terminal table and a Markdown report."""
from rich.console import Console
from rich.markup import escape
from rich.table import Table

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
    if verbose:
        for r in results.questions:
            if r.status in ("partial", "failed"):
                console.print(f"[bold]Q{r.question.id}[/]\n{escape(r.details())}")
    for notice in results.notices:
        console.print(f"[bold yellow]note:[/] {escape(notice)}", soft_wrap=True)
    for error in results.grader_errors:
        console.print(f"[bold red]grader error:[/] {escape(error)}", soft_wrap=True)
    console.print(f"[bold]{escape(results.summary())}[/]  ({results.elapsed:.1f} s, seed {results.seed})", soft_wrap=True)


def _cell(text):
    """Make arbitrary text safe inside a Markdown table cell."""
    return (text.replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")
            .replace("\n", " "))


def markdown_report(results):
    """A Markdown page: score table, each failure's details, and the questions left for a person."""
    lines = [f"# HW5 grading report: {_cell(results.submission)}", "", results.summary(), ""]
    lines += [f"> note: {_cell(n)}" for n in results.notices]
    lines += [f"> **grader error**: {_cell(e)}" for e in results.grader_errors]
    lines += [""] if results.notices or results.grader_errors else []
    lines += ["| Q | title | points | max | reason |", "|---|---|--:|--:|---|"]
    for r in results.questions:
        lines.append(f"| {r.question.id} | {_cell(r.question.title)} | {_points(r.score)} | {r.max_score:g} | {_cell(r.reason)} |")
    failures = [r for r in results.questions if r.status in ("partial", "failed")]
    if failures:
        lines += ["", "## What failed", ""]
        for r in failures:
            lines += [f"### Q{r.question.id} {_cell(r.question.title)}", "", "```", r.details().replace("```", "'''"), "```", ""]
    manual = [r for r in results.questions if r.status in ("manual", "pending")]
    lines += ["", "## For a person to grade", "", "| Q | title | max | notes |", "|---|---|--:|---|"]
    lines += [f"| {r.question.id} | {_cell(r.question.title)} | {r.max_score:g} | {_cell(r.reason)} |" for r in manual]
    return "\n".join(lines) + "\n"
