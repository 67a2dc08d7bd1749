"""Human views of GradingResults: the terminal table (terminal.py), a Markdown page with the figures
beside it (markdown.py) and one self-contained HTML page (html.py)."""
from pathlib import Path

from autograde.reports.html import html_report
from autograde.reports.markdown import markdown_report
from autograde.reports.terminal import print_table  # noqa: F401  (the package's other entry point)


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
    path.with_suffix(".html").write_text(html_report(results), encoding="utf-8")
    return path
