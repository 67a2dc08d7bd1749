"""The terminal view of GradingResults: one row per question, then notes, errors and the total."""
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from autograde.reports.common import points
from autograde.results import versions_line

STATUS_STYLE = {"passed": "green", "partial": "yellow", "failed": "red", "manual": "cyan", "pending": "dim"}


def print_table(results, console=None, verbose=False):
    """Print one row per question (number, title, points, max, one-line reason), then the totals."""
    console = console or Console()
    table = Table(title=f"HW5 grading: {escape(results.submission)}", title_justify="left")
    for column, justify in (("Q", "left"), ("title", "left"), ("points", "right"), ("max", "right"), ("reason", "left")):
        table.add_column(column, justify=justify, overflow="fold")
    for r in results.questions:
        style = STATUS_STYLE.get(r.status, "")
        table.add_row(r.question.id, escape(r.question.title), f"[{style}]{points(r.score)}[/]",
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
