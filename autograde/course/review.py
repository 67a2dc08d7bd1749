"""`autograde review GRADED_DIR`: serve the review app (review_app.py), where people grade the
questions the tests cannot, over a batch folder made by `autograde batch`; or, with --sheet / --apply,
the same grades as a spreadsheet round trip (review_sheet.py); or, with --grade-reference, grade the
reference solution's evidence so the grading page shows its figures beside the student's.

The server binds 127.0.0.1 by default. On any other address every request needs a token (printed in
the URL at start), compared in constant time.
"""
import secrets
import socket
import subprocess
import sys
import threading
from pathlib import Path

from autograde.course.gradebook import RESULTS
from autograde.course.rescore import publish
from autograde.course.review_data import REFERENCE, BatchData
from autograde.course.review_sheet import SheetError, apply_sheet, write_sheet
from autograde.record import RECORD
from autograde.rubric import RubricError, load_rubric, resolve_rubric

DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 8765
RUBRIC_HELP = ("a rubric TOML file, or a profile of the bundled one ('default', 'strict'): its items and points "
               "score the grades (default: the bundled rubric)")


def add_review_arguments(parser):
    parser.add_argument("graded_dir", type=Path, help="the --out folder of autograde batch (one <submission>/results.json "
                        "and outcomes.json each)")
    parser.add_argument("--host", default=DEFAULT_HOST, help=f"address to serve on (default {DEFAULT_HOST}: this machine "
                        "only); any other address needs the token printed at start")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    parser.add_argument("--grader", help="your name, kept with every grade you save (default: each browser names "
                        "itself); --apply needs it")
    parser.add_argument("--editor", action="append", default=[], metavar="NAME",
                        help="a grader allowed to change the rubric items' points (repeatable)")
    parser.add_argument("--rubric", help=RUBRIC_HELP)
    parser.add_argument("--sheet", type=Path, metavar="OUT.csv", help="write the grades as a spreadsheet (one row per "
                        "submission and question; the items it may name in OUT-items.csv) and exit")
    parser.add_argument("--apply", type=Path, metavar="SHEET.csv", help="record the rows of a sheet filled in from "
                        "--sheet as --grader's grades and exit (a row based on an outdated grade is refused)")
    parser.add_argument("--grade-reference", action="store_true", help="grade the bundled reference solution's "
                        "evidence into GRADED_DIR/.reference/ first, so its figures show beside the student's "
                        "(runs the questions' tests: takes minutes)")


def review_main(args):
    """`autograde review GRADED_DIR`. Serving returns 0 when stopped (Ctrl+C); --sheet returns 0;
    --apply 0, or 1 when some row was refused; 2 on bad input (a missing folder, a bad rubric or sheet,
    a port in use)."""
    graded_dir = Path(args.graded_dir)
    try:
        path, profile = resolve_rubric(args.rubric)
        rubric = load_rubric(path, profile)
    except RubricError as exc:
        return _fail(str(exc))
    if not graded_dir.is_dir():
        return _fail(f"{graded_dir}: no such folder (expected the --out folder of autograde batch)")
    if args.sheet and args.apply:
        return _fail("--sheet and --apply are separate steps: write the sheet, fill it in, then apply it")
    if args.grade_reference:
        status = grade_reference(graded_dir, rubric, args.rubric)
        if status:
            return status
    if args.sheet:
        return _write_sheet(graded_dir, args.sheet, rubric)
    if args.apply:
        return _apply_sheet(graded_dir, args.apply, args.grader, rubric)
    if not BatchData(graded_dir, rubric).submissions():
        return _fail(f"{graded_dir}: no graded submission in it (no <name>/{RESULTS}); grade some with autograde batch "
                     f"SUBMISSIONS --out {graded_dir}")
    return serve(graded_dir, rubric, host=args.host, port=args.port, grader=args.grader, editors=args.editor)


def _fail(message):
    print(f"autograde review: {message}", file=sys.stderr)
    return 2


def _write_sheet(graded_dir, out, rubric):
    try:
        written = write_sheet(graded_dir, out, rubric)
    except (SheetError, OSError) as exc:
        return _fail(str(exc))
    print(f"wrote {written} (and the items a row may name beside it, {Path(written).stem}-items.csv); fill in items, "
          f"adjustment and comment, then: autograde review {graded_dir} --apply {written} --grader NAME")
    return 0


def _apply_sheet(graded_dir, sheet, grader, rubric):
    try:
        report = apply_sheet(graded_dir, sheet, grader, rubric)
    except (SheetError, OSError) as exc:
        return _fail(str(exc))
    print(f"{sheet}: {len(report.applied)} grade(s) applied, {report.unchanged} unchanged, {len(report.refused)} refused")
    for line, submission, question in report.applied:
        print(f"  line {line}: applied Q{question} of {submission}")
    for line, why in report.refused:
        print(f"  line {line}: refused: {why}")
    for submission, why in report.not_republished:
        print(f"  {submission}: results.json kept as it was: {why}")
    if report.gradebook:
        print(f"gradebook rebuilt: {report.gradebook}")
    return 1 if report.refused else 0


def reference_command(graded_dir, rubric, rubric_option=None):
    """The `autograde grade` command that grades the bundled reference's evidence questions into
    GRADED_DIR/.reference/ (its record and report), or None when no question has evidence."""
    questions = [q.id for q in rubric.by_person if q.evidence]
    if not questions:
        return None
    folder = Path(graded_dir) / REFERENCE
    return [sys.executable, "-m", "autograde", "grade", "--outcomes", str(folder / RECORD),
            "--report", str(folder / "report.md"), *(["--rubric", str(rubric_option)] if rubric_option else []),
            *[arg for qid in questions for arg in ("-q", qid)]]


def grade_reference(graded_dir, rubric, rubric_option=None):
    """Run reference_command; returns 0 when it wrote the record, else 2 (after saying why)."""
    command = reference_command(graded_dir, rubric, rubric_option)
    if command is None:
        print("autograde review: no question a person grades has evidence checks: no reference to grade")
        return 0
    (Path(graded_dir) / REFERENCE).mkdir(parents=True, exist_ok=True)
    print(f"grading the reference solution's evidence into {Path(graded_dir) / REFERENCE} (minutes) ...", flush=True)
    status = subprocess.run(command, stdin=subprocess.DEVNULL, check=False).returncode
    if status not in (0, 1) or not (Path(graded_dir) / REFERENCE / RECORD).is_file():
        return _fail(f"grading the reference failed (exit status {status}); the app works without its figures")
    return 0


def serve(graded_dir, rubric, *, host=DEFAULT_HOST, port=DEFAULT_PORT, grader=None, editors=()):
    """Serve the review app until Ctrl+C. Returns 0, or 2 when the address cannot be bound."""
    from werkzeug.serving import make_server

    from autograde.course.review_app import create_app, is_loopback, warm_up

    token = None if is_loopback(host) else secrets.token_urlsafe(24)
    app = create_app(graded_dir, rubric, grader=grader, editors=editors, token=token)
    try:
        server = make_server(host, port, app, threaded=True)
    except OSError as exc:
        return _fail(f"cannot serve on {host}:{port}: {exc.strerror or exc}")
    except SystemExit:   # werkzeug says why (the port is in use) and exits
        return _fail(f"cannot serve on {host}:{port}; try another --host or --port")
    shown = socket.getfqdn() if host in ("0.0.0.0", "::") else host
    shown = f"[{shown}]" if ":" in shown else shown
    url = f"http://{shown}:{server.server_port}/" + (f"?token={token}" if token else "")
    data = app.config["DATA"]
    print(f"autograde review: {len(data.submissions())} submissions in {graded_dir}; open {url}")
    if token:
        print("  served beyond this machine: the token in the URL is needed (share it only with graders)")
    print("  Ctrl+C stops the server; grades are saved in", Path(graded_dir) / "review.sqlite", flush=True)
    # Every record and write-up read once in the background: the overview and the pages are ready sooner.
    threading.Thread(target=warm_up, args=(app,), name="review-warm-up", daemon=True).start()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("autograde review: stopped")
    finally:
        server.server_close()
        app.config["STORE"].close()
    # The grades given go into each results.json, report and gradebook.csv (the export reads the store itself).
    print("autograde review: writing the grades into the results, reports and gradebook ...", flush=True)
    gradebook, kept = publish(graded_dir, rubric)
    print(f"autograde review: gradebook rebuilt: {gradebook}" + (f" ({len(kept)} results.json kept as they were: "
                                                                f"no usable record)" if kept else ""))
    return 0
