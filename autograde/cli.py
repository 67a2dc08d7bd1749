"""The `autograde` command: thin argument parsing over grading.grade and the report writers."""
import argparse
import json
import os
import signal
import sys
import traceback
from contextlib import nullcontext
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.progress import Progress

from autograde import REFERENCE_DIR
from autograde.course.batch import grade_batch, still_to_grade, write_gradebook
from autograde.course.cluster import JOBQUEUE, ClusterError, DaskEngine
from autograde.course.export import add_export_arguments, export_main
from autograde.course.rescore import rescore_folder
from autograde.course.review import add_review_arguments, review_main
from autograde.course.similarity import add_similarity_arguments, similarity_main
from autograde.course.writeup import WRITEUP_NAME, index_writeup, keep_writeup
from autograde.gradescope import build_autograder_zip
from autograde.grading import grade
from autograde.intake import SubmissionError
from autograde.record import RecordError, write_record
from autograde.reports import print_table, write_report
from autograde.results import failed_everything
from autograde.rubric import RubricError, load_rubric, resolve_rubric
from autograde.starter import write_starter
from sandbox.processes import end_stray_children

RUBRIC_HELP = ("a rubric TOML file, or a profile of the bundled one: 'default' (the handout's points; checks beyond "
               "the handout are advice) or 'strict' (those checks carry points too)")
NO_ADVICE_HELP = ("do not run the advice checks (those worth no points in the rubric's profile): points only, "
                  "sooner; the report lists them as not run")


def add_grade_arguments(parser):
    parser.add_argument("submission", nargs="?", type=Path, default=REFERENCE_DIR,
                        help="folder laid out like the handout's python/ (or a .zip of it); default: the reference solution")
    parser.add_argument("--results", type=Path, help="write a Gradescope results.json here")
    parser.add_argument("--report", type=Path, help="write a Markdown report here (e.g. report.md), its figures in report_figures/ and a self-contained report.html beside it")
    parser.add_argument("--rubric", help=RUBRIC_HELP)
    parser.add_argument("--seed", type=int, default=0, help="grading seed: the random data the tests draw (default 0)")
    parser.add_argument("-j", "--jobs", type=int, default=None, help="questions graded in parallel (default: CPU count)")
    parser.add_argument("-q", "--question", action="append", help="grade only this question id (repeatable)")
    parser.add_argument("--timeout", type=float, help="cap every question's time limit at this many seconds")
    parser.add_argument("-v", "--verbose", action="store_true", help="print every failed check's message")
    parser.add_argument("--no-compat", action="store_true", help="do not run APIs removed from numpy, SciPy and "
                        "scikit-image as their replacements (default: the rubric's `compat`, on)")
    parser.add_argument("--no-advice", action="store_true", help=NO_ADVICE_HELP)
    parser.add_argument("--leaderboard", action="store_true", help="add Gradescope leaderboard entries to results.json (the rubric's `leaderboard` columns: Q4.4's text accuracy)")
    parser.add_argument("--outcomes", type=Path, help="write the grading record here (outcomes.json: every test's outcome, "
                        "its figures in outcomes_figures/ beside it), from which `autograde rescore` recomputes scores")


def add_starter_arguments(parser):
    parser.add_argument("out_dir", type=Path, help="folder to write the modules into (created if missing)")


def add_gradescope_arguments(parser):
    parser.add_argument("out_zip", type=Path, help="where to write the zip, e.g. autograder.zip")
    parser.add_argument("--rubric", help=RUBRIC_HELP + "; its visibility settings go to results.json")
    parser.add_argument("--data-dir", type=Path, help="the handout's NIST36 .mat files (default $HW5_DATA_DIR; else nist36-lite is bundled)")
    parser.add_argument("--leaderboard", action="store_true", help="publish Q4.4's text accuracy on Gradescope's leaderboard")
    parser.add_argument("--with-torch", action="store_true", help="grade Q7 (extra credit) too: setup.sh installs torch's "
                        "CPU wheels and the zip carries Q7's data (about 30 MB more)")


def add_batch_arguments(parser):
    parser.add_argument("folder", type=Path, help="folder holding one subfolder or .zip per submission")
    parser.add_argument("--out", type=Path, help="where results, reports and gradebook.csv go (default: FOLDER-graded beside it)")
    parser.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 1, help="submissions graded at once (default: CPU count)")
    parser.add_argument("--regrade", action="store_true", help="grade again the submissions already graded in OUT")
    parser.add_argument("--rubric", help=RUBRIC_HELP)
    parser.add_argument("--seed", type=int, help="grading seed for every submission")
    parser.add_argument("-q", "--question", action="append", default=[], help="grade only this question (repeatable)")
    parser.add_argument("--merge", action="store_true", help="with -q: grade those questions again and merge them into "
                        "each submission's earlier grading in OUT (results, report, gradebook); one never graded is graded in full")
    parser.add_argument("--timeout", type=float, help="cap every question's time limit")
    parser.add_argument("--no-compat", action="store_true", help="do not run removed library APIs as their replacements")
    parser.add_argument("--no-advice", action="store_true", help=NO_ADVICE_HELP)
    cluster = parser.add_argument_group("where the gradings run (default: a thread pool on this machine)")
    cluster.add_argument("--scheduler", help="run each grading as a Dask task: 'local' (a LocalCluster of -j worker processes), "
                         "a scheduler's address (tcp://host:8786), or 'slurm', 'pbs', 'sge' (workers as batch jobs, dask-jobqueue)")
    cluster.add_argument("--ship", choices=("path", "bytes"), help="send each submission to its worker as a path (a shared "
                         "filesystem; the default for local) or as zip bytes (the default otherwise)")
    cluster.add_argument("--cluster-cores", type=int, help="slurm/pbs/sge: cores per job, one grading each (default 4)")
    cluster.add_argument("--cluster-memory", help="slurm/pbs/sge: memory per job (default 4GB per core)")
    cluster.add_argument("--cluster-walltime", help="slurm/pbs/sge: time limit per job (default 02:00:00)")
    cluster.add_argument("--cluster-queue", help="slurm/pbs/sge: partition or queue")
    cluster.add_argument("--cluster-account", help="slurm/pbs: account to charge; sge: project")
    cluster.add_argument("--cluster-python", help="slurm/pbs/sge: the Python on the nodes (default: this one)")
    cluster.add_argument("--cluster-setup", action="append", default=None, help="slurm/pbs/sge: a shell line the job runs "
                         "before its worker, e.g. 'source ~/hw5/.venv/bin/activate' (repeatable)")
    cluster.add_argument("--print-job-script", action="store_true", help="slurm/pbs/sge: print the job script and exit")


def add_rescore_arguments(parser):
    parser.add_argument("graded", type=Path, help="a batch's output folder (OUT of `autograde batch`): one folder per "
                        "submission holding outcomes.json")
    parser.add_argument("--rubric", help=RUBRIC_HELP)
    parser.add_argument("--submissions", default="SUBMISSIONS", help="the submissions' folder, named in the command "
                        "printed when the rubric needs tests that were never run")


def get_args_parser():
    """The `autograde` parser: subcommands grade (the default: `autograde PATH` grades PATH), starter,
    gradescope and batch. A folder that bears a subcommand's name is graded with `autograde grade NAME`."""
    parser = argparse.ArgumentParser(
        prog="autograde", description="Grade HW5 submissions. `autograde [grade] [SUBMISSION]` grades one (default: "
        "the bundled reference solution); `autograde starter OUT_DIR` writes the student starter kit; "
        "`autograde gradescope OUT_ZIP` builds Gradescope's autograder.zip; `autograde batch FOLDER` grades a "
        "folder of submissions into a gradebook.")
    commands = parser.add_subparsers(dest="command", metavar="{" + ",".join(name for name, _, _ in COMMANDS) + "}")
    for name, configure, summary in COMMANDS:
        configure(commands.add_parser(name, help=summary, description=summary))
    return parser


COMMANDS = (
    ("grade", add_grade_arguments, "Grade a HW5 submission: every automatically graded question of the rubric, each in "
     "its own time-limited process (the default command)."),
    ("starter", add_starter_arguments, "Write the HW5 starter kit: every module and function of the contract, each "
     "raising NotImplementedError."),
    ("gradescope", add_gradescope_arguments, "Build Gradescope's autograder.zip: setup.sh, run_autograder, the rubric, "
     "the suite and the data grading needs."),
    ("batch", add_batch_arguments, "Grade every submission (folder or .zip) in a folder, N at a time, into "
     "OUT/<name>/ and OUT/gradebook.csv; resumable; on this machine or a Dask cluster."),
    ("export", add_export_arguments, "Write a graded batch's totals as a CSV an LMS imports: Canvas's gradebook "
     "import, Gradescope's score upload, or a plain table with the students' identities."),
    ("similarity", add_similarity_arguments, "Find pairs of submissions whose code is suspiciously alike (robust "
     "to renamed variables, reordered functions and rewritten comments; the starter kit discounted)."),
    ("review", add_review_arguments, "Grade the questions a person grades in a web app over a graded batch (the "
     "evidence, figures and write-up beside the rubric items), or offline in a spreadsheet (--sheet, --apply)."),
    ("rescore", add_rescore_arguments, "Recompute every score, results.json, report and the gradebook of a graded batch "
     "by another rubric, from the stored test outcomes, without running any submission code."),
)


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def main(argv=None):
    """Run the command. Returns the exit status: 0 graded, 1 grader failure, 2 bad input, 130 interrupted.

    A results file and report, when asked for, are written in every case.
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    signal.signal(signal.SIGTERM, _interrupt)  # a container's stop: same clean-up as Ctrl-C
    # Python leaves SIGINT ignored when it starts ignored (a background job, some CI runners):
    # an explicit SIGINT must still stop the grading and kill its children.
    signal.signal(signal.SIGINT, _interrupt)
    if not argv or argv[0] not in {name for name, _, _ in COMMANDS} | {"-h", "--help"}:
        argv = ["grade", *argv]   # grade is the default command
    args = get_args_parser().parse_args(argv)
    return {"grade": grade_main, "starter": starter_main, "gradescope": gradescope_main, "batch": batch_main,
            "rescore": rescore_main, "export": export_main, "similarity": similarity_main,
            "review": review_main}[args.command](args)


def grade_main(args):
    """`autograde [grade] [SUBMISSION]`: grade one submission, print the table, write the reports."""
    console = Console()
    try:
        rubric = load_rubric(*resolve_rubric(args.rubric))
    except RubricError as exc:
        console.print(f"[red]autograde:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        _write(args.results, {"score": 0, "execution_time": 0, "output": f"autograder configuration error: {exc}", "tests": []})
        return 2
    only = set(args.question) if args.question else None
    unknown = sorted(only - {q.id for q in rubric.questions}) if only else []
    status = 0
    try:
        if unknown:
            raise SubmissionError(f"no question {', '.join(unknown)} in {rubric.source}")
        with Progress(console=Console(stderr=True), transient=True) as bar:
            task = bar.add_task("grading", total=sum(1 for q in rubric.questions if q.test_names and (not only or q.id in only)))
            results = grade(args.submission, rubric, seed=args.seed, jobs=args.jobs, only=only, timeout=args.timeout,
                            progress=lambda qid: bar.advance(task), compat=False if args.no_compat else None,
                            advice=not args.no_advice)
        status = 1 if results.grader_errors else 0
    except SubmissionError as exc:
        results, status = failed_everything(args.submission, rubric, str(exc), args.seed, only), 2
    except KeyboardInterrupt:
        end_stray_children()
        notice = "grading was interrupted before it finished; no points were given"
        results, status = failed_everything(args.submission, rubric, notice, args.seed, only), 130
    except Exception:  # a bug in the grader itself: still write a report that says so
        notice = "the autograder failed; no points could be given automatically. Details for staff:\n" + traceback.format_exc(limit=5)
        results, status = failed_everything(args.submission, rubric, notice, args.seed, only), 1
    print_table(results, console, verbose=args.verbose)
    if args.report and args.outcomes:
        _keep_writeup(args, rubric, results)
    # results.json last: a batch takes a grading whose results file is there as finished.
    if args.outcomes:
        write_record(results, args.outcomes)
    if args.report:
        write_report(results, args.report)
    _write(args.results, results.to_gradescope(leaderboard=args.leaderboard))
    return status


def _keep_writeup(args, rubric, results):
    """A course's grading (a report and a record: autograde batch) keeps the submission's PDF write-up
    beside the report, its question pages found now in a limited child, for the people who grade it
    in autograde review. Gradescope grades the write-up itself: its run_autograder writes no record."""
    folder = args.report.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        kept = keep_writeup(args.submission, folder)
        if (folder / WRITEUP_NAME).is_file():
            index_writeup(folder / WRITEUP_NAME, [q.id for q in rubric.by_person])
    except OSError as exc:
        kept = f"the write-up could not be kept: {exc}"
    if kept:   # with the grading's own notices, so a rescore of the record shows it too
        results.notices.append(kept)
        results.base_notices.append(kept)


def starter_main(args):
    """`autograde starter OUT_DIR`: write the student starter kit. Returns 0, or 2 when OUT_DIR
    already holds one of its modules (a student's work is never overwritten)."""
    try:
        written = write_starter(args.out_dir)
    except (FileExistsError, OSError) as exc:
        print(f"autograde starter: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {len(written)} modules to {args.out_dir}: {', '.join(p.name for p in written)}")
    return 0


def gradescope_main(args):
    """`autograde gradescope OUT_ZIP`: build Gradescope's autograder.zip. Returns 0, or 2 when the
    rubric is malformed or the data grading needs is missing."""
    try:
        path, profile = resolve_rubric(args.rubric)
        built = build_autograder_zip(args.out_zip, path, args.data_dir, leaderboard=args.leaderboard,
                                     torch=args.with_torch, profile=profile)
    except (RubricError, FileNotFoundError, OSError) as exc:
        print(f"autograde gradescope: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {built['zip']} ({built['bytes'] / 2**20:.1f} MB) with {built['data']}; upload it as the "
          "assignment's autograder (Gradescope: Configure Autograder > Zip file upload)")
    return 0


def batch_main(args):
    """`autograde batch SUBMISSIONS_DIR`: grade every folder and .zip in it into a CSV gradebook.
    Returns 0, 1 when some grading produced no results file, 2 on bad input, 130 when interrupted."""
    if not args.folder.is_dir():
        print(f"autograde batch: {args.folder}: not a folder of submissions", file=sys.stderr)
        return 2
    if args.merge and not args.question:
        print("autograde batch: --merge needs the questions to grade again (-q ID, repeatable)", file=sys.stderr)
        return 2
    try:   # checked once here, not once per submission
        rubric = load_rubric(*resolve_rubric(args.rubric))
    except RubricError as exc:
        print(f"autograde batch: {exc}", file=sys.stderr)
        return 2
    unknown = [q for q in args.question if q not in {question.id for question in rubric.questions}]
    if unknown:
        print(f"autograde batch: no question {', '.join(unknown)} in {rubric.source}", file=sys.stderr)
        return 2
    if args.merge:   # a rubric group's questions share one run: they are regraded together
        groups = {q.group for q in rubric.questions if q.id in args.question and q.group}
        joined = [q.id for q in rubric.questions if q.group in groups and q.id not in args.question]
        if joined:
            print(f"autograde batch: regrading {', '.join(joined)} too: they share one run with "
                  f"{', '.join(q for q in args.question if rubric[q].group in groups)}", file=sys.stderr)
        args.question = [*args.question, *joined]
    options = [*(["--seed", str(args.seed)] if args.seed is not None else []),
               *(["--timeout", str(args.timeout)] if args.timeout else []), *(["--no-compat"] if args.no_compat else []),
               *(["--no-advice"] if args.no_advice else [])]
    out = args.out or args.folder.with_name(f"{args.folder.name}-graded")
    try:
        engine = _engine(args)
        if args.print_job_script:
            print(engine.job_script())
            return 0
    except ClusterError as exc:
        print(f"autograde batch: {exc}", file=sys.stderr)
        return 2
    total = len(still_to_grade(args.folder, out, args.regrade, args.merge)[0])
    try:
        with Progress(console=Console(stderr=True)) as bar, (engine or nullcontext()):
            task = bar.add_task("grading submissions", total=total)
            summary = grade_batch(args.folder, out, jobs=args.jobs, regrade=args.regrade, options=options,
                                  only=args.question, merge=args.merge, rubric=args.rubric, engine=engine,
                                  progress=lambda name: bar.advance(task))
    except KeyboardInterrupt:
        write_gradebook(out)
        print(f"autograde batch: interrupted; run it again to grade the rest (the gradebook holds what finished: {out / 'gradebook.csv'})", file=sys.stderr)
        return 130
    except ClusterError as exc:
        print(f"autograde batch: {exc}", file=sys.stderr)
        return 2
    rate = f", {3600 * summary.graded / summary.elapsed:.0f} submissions/hour" if summary.graded else ""
    merged = f" (merged into an earlier grading: {summary.merged})" if args.merge else ""
    print(f"graded {summary.graded}{merged}, already graded {summary.skipped}, no result for {len(summary.failed)} "
          f"({summary.elapsed:.0f} s{rate}); gradebook: {summary.gradebook}")
    for name in summary.failed:
        print(f"  no results for {name}: see {out / name / 'autograde.log'}", file=sys.stderr)
    return 1 if summary.failed else 0


def _engine(args):
    """The batch's Dask engine for --scheduler (None: the thread pool). Raises ClusterError."""
    if args.print_job_script and args.scheduler not in JOBQUEUE:
        raise ClusterError("--print-job-script goes with --scheduler slurm, pbs or sge")
    if not args.scheduler:
        return None
    options = {"cores": args.cluster_cores, "memory": args.cluster_memory, "walltime": args.cluster_walltime,
               "queue": args.cluster_queue, "account": args.cluster_account, "python": args.cluster_python,
               "job_script_prologue": args.cluster_setup}
    return DaskEngine(args.scheduler, args.jobs, ship=args.ship, cluster_options=options)


def rescore_main(args):
    """`autograde rescore GRADED_DIR`: rescore every stored grading by --rubric. Returns 0, 1 when some
    folder's record could not be read, 2 on bad input (a malformed rubric, tests never run)."""
    if not args.graded.is_dir():
        print(f"autograde rescore: {args.graded}: not a folder of graded submissions (OUT of autograde batch)", file=sys.stderr)
        return 2
    try:
        summary = rescore_folder(args.graded, args.rubric, args.submissions)
    except (RubricError, RecordError) as exc:
        print(f"autograde rescore: {exc}", file=sys.stderr)
        return 2
    print(f"rescored {summary.rescored} gradings in {summary.elapsed:.1f} s; {len(summary.changed)} totals changed; "
          f"gradebook: {summary.gradebook}")
    for name, before, after in summary.changed:
        print(f"  {name}: {'?' if before is None else format(before, 'g')} -> {after:g}")
    for name, why in summary.unreadable:
        print(f"  not rescored: {name}: {why}", file=sys.stderr)
    return 1 if summary.unreadable else 0


def _write(path, gradescope):
    """Write results.json at path, atomically (a reader sees the whole file or none)."""
    if path:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.partial")
        partial.write_text(json.dumps(gradescope, indent=2, ensure_ascii=False), encoding="utf-8")
        partial.replace(path)


if __name__ == "__main__":
    sys.exit(main())
