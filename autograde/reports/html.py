"""One self-contained HTML page per graded submission, for a TA: scores, reasons, figures inline.

Everything the submission influenced (messages, findings, captions) is escaped, figures are
embedded as data: URIs of PNGs the grader already validated (autograde/figures.py), and a
Content-Security-Policy forbids scripts and any network fetch, so the page is safe to open even
when a submission tried to smuggle markup into it.
"""
import base64
import html
import re

from autograde.reports.common import given, points, usage_rows
from autograde.results import versions_line

CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; padding: 0 1em; }
li { overflow-wrap: anywhere; }  /* a page read without spaces is one long word */
h1 { font-size: 1.5em; margin-bottom: .2em; } h2 { margin-top: 1.8em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; width: 100%; margin: .6em 0; }
th, td { border: 1px solid #ddd; padding: .3em .5em; text-align: left; vertical-align: top; }
th { background: #f4f4f4; } td.num { text-align: right; white-space: nowrap; }
tr.passed td.pts { background: #e6f4e6; } tr.partial td.pts { background: #fff4d6; }
tr.failed td.pts { background: #fbe3e3; } tr.manual td.pts, tr.pending td.pts { background: #e8f1fb; }
.summary { font-size: 1.15em; font-weight: 600; }
.banner { padding: .6em .8em; margin: .6em 0; border-radius: 4px; }
.banner.warn { background: #fff1c2; border: 1px solid #e0b000; }
.banner.error { background: #fbe3e3; border: 1px solid #c33; font-weight: 600; }
.banner.note { background: #eef3f8; border: 1px solid #9ab; }
pre { background: #f7f7f7; padding: .6em; overflow-x: auto; white-space: pre-wrap; }
figure { display: inline-block; margin: .5em 1em .5em 0; vertical-align: top; }
figure img { max-width: 520px; max-height: 420px; border: 1px solid #ccc; }
figcaption { font-size: .9em; color: #555; max-width: 520px; }
.text td { font-family: ui-monospace, monospace; }
"""


def _e(text):
    return html.escape(str(text), quote=True)


def html_report(results, title="HW5 grading report"):
    """The whole page as a string (UTF-8 HTML5 with everything inline)."""
    out = ["<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
           f"<meta http-equiv='Content-Security-Policy' content=\"{CSP}\">",
           f"<title>{_e(title)}: {_e(results.submission)}</title><style>{STYLE}</style></head><body>",
           f"<h1>{_e(title)}</h1><p>Submission: <code>{_e(results.submission)}</code> · seed {results.seed} · "
           f"graded in {results.elapsed:.1f} s · sandbox: <b>{_e(results.sandbox)}</b><br>"
           f"Graded with {_e(versions_line(results.versions))}</p>",
           f"<p class='summary'>{_e(results.summary())}</p>"]
    for notice in results.notices:
        kind = "warn" if notice.startswith("NOT SANDBOXED") else "note"
        out.append(f"<div class='banner {kind}'>{_e(notice)}</div>")
    out += [f"<div class='banner error'>Grader error: {_e(e)}</div>" for e in results.grader_errors]

    out.append("<h2>Scores</h2><table><tr><th>Q</th><th>title</th><th>points</th><th>max</th><th>reason</th></tr>")
    for r in results.questions:
        out.append(f"<tr class='{_e(r.status)}'><td><a href='#q{_e(r.question.id)}'>{_e(r.question.id)}</a></td>"
                   f"<td>{_e(r.question.title)}</td><td class='num pts'>{points(r.score)}</td>"
                   f"<td class='num'>{r.max_score:g}</td><td>{_e(r.reason)}</td></tr>")
    out.append("</table>")

    manual = [r for r in results.questions if r.status in ("manual", "pending")]
    if manual:
        out.append(f"<h2>For a TA to grade ({sum(r.max_score for r in manual):g} points)</h2>"
                   "<table><tr><th>Q</th><th>title</th><th>max</th><th>evidence</th><th>points given</th></tr>")
        out += [f"<tr><td>{_e(r.question.id)}</td><td>{_e(r.question.title)}</td><td class='num'>{r.max_score:g}</td>"
                f"<td>{_e(r.reason)}</td><td class='num'>{_e(given(results, r))}{_grade_lines(results, r)}</td></tr>"
                for r in manual]
        out.append("</table>")

    out.append("<h2>Question by question</h2>")
    for r in results.questions:
        if not (r.outcomes or r.findings or r.figures):
            continue
        out.append(f"<h3 id='q{_e(r.question.id)}'>Q{_e(r.question.id)} {_e(r.question.title)} · "
                   f"{points(r.score)} / {r.max_score:g}</h3>")
        if r.has_notes:  # failures, failed evidence and advice, each with its reason
            out.append(f"<pre>{_e(r.details())}</pre>")
        out += _findings(r.findings)
        for figure in r.figures:
            data = base64.b64encode(figure.png).decode("ascii")
            out.append(f"<figure><img alt='{_e(figure.caption)}' src='data:image/png;base64,{data}'>"
                       f"<figcaption>{_e(figure.caption)}</figcaption></figure>")

    usage = usage_rows(results)
    if usage:
        out.append("<h2>Time and memory per test process</h2><table><tr><th>questions</th><th>wall time</th><th>where the time went</th><th>peak memory (with the submission's worker)</th></tr>")
        out += ["<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>" for row in usage]
        out.append("</table>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def _grade_lines(results, r):
    """The applied items and the comment of a person's grade, as a list (nothing when not graded)."""
    grade = results.manual_grade(r.question.id)
    if grade is None:
        return ""
    return f"<ul>{''.join(f'<li>{_e(line)}</li>' for line in grade.lines())}</ul><small>{_e(grade.grader)}</small>"


READ_TRUTH = re.compile(r"^\s+(read|truth):\s+(.*)$")


def _findings(lines):
    """Findings as a list; a 'read:' line followed by its 'truth:' line becomes a side-by-side table,
    line by line of the page."""
    out, items, i = [], [], 0
    while i < len(lines):
        read = READ_TRUTH.match(lines[i])
        truth = READ_TRUTH.match(lines[i + 1]) if i + 1 < len(lines) else None
        if read and truth and read.group(1) == "read" and truth.group(1) == "truth":
            if items:
                out.append("<ul>" + "".join(items) + "</ul>")
                items = []
            got, want = read.group(2).split(" / "), truth.group(2).split(" / ")
            rows = [(got[k] if k < len(got) else "", want[k] if k < len(want) else "") for k in range(max(len(got), len(want)))]
            out.append("<table class='text'><tr><th>extracted</th><th>truth</th></tr>" +
                       "".join(f"<tr><td>{_e(a)}</td><td>{_e(b)}</td></tr>" for a, b in rows) + "</table>")
            i += 2
            continue
        items.append(f"<li>{_e(lines[i])}</li>")
        i += 1
    if items:
        out.append("<ul>" + "".join(items) + "</ul>")
    return out
