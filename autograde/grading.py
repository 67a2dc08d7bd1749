"""Grade one submission: run each question's tests in its own child process, score by the rubric."""
import os
import shutil
import tempfile
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

from autograde.results import GradingResults, QuestionResult
from autograde.run import TestOutcome, allow_children, kill_all_children, run_question
from spec_tests import _sandbox

CONTRACT_MARKER = "nn.py"   # the file that tells a submission's module directory apart
MAX_ZIP_BYTES = 256 << 20  # a submission's zip may unpack to this many bytes at most (a zip bomb is refused)
MAX_ZIP_FILES = 5000       # ... and this many entries
CPUS_ENV = "HW5_CPUS"       # cores this grading may use, when it shares the machine (autograde batch)


def available_cpus():
    """The cores a grading may use: $HW5_CPUS when set (a batch runs several gradings side by side,
    and BLAS threads beyond the cores spin), else the cores this process may run on."""
    try:
        return max(1, int(os.environ[CPUS_ENV]))
    except (KeyError, ValueError):
        return len(os.sched_getaffinity(0)) or 1


class SubmissionError(ValueError):
    """The path given cannot be graded at all; the message says why and what was expected."""


@contextmanager
def opened_submission(path):
    """Yield (directory holding the submission's modules, notice or None).

    Accepts the directory itself, a directory with the modules in a subfolder (e.g. python/), or
    a .zip of either. Where nn.py sits in several folders the shallowest one is graded and the
    notice says so. Raises SubmissionError when the path is neither a folder nor a zip.
    """
    path = Path(path)
    if path.is_file() and zipfile.is_zipfile(path):
        with tempfile.TemporaryDirectory(prefix="submission-") as tmp:
            _safe_extract(path, Path(tmp))
            yield _module_dir(Path(tmp), shown=path)
        return
    if not path.is_dir():
        raise SubmissionError(f"{path}: not a directory or a .zip file; expected a folder laid out "
                              "like the handout's python/ folder (nn.py, util.py, run_q2.py, ...)")
    yield _module_dir(path, shown=path)


def _module_dir(root, shown):
    found = sorted((len(p.relative_to(root).parts), p.parent) for p in root.rglob(CONTRACT_MARKER)
                   if "__MACOSX" not in p.parts and len(p.relative_to(root).parts) <= 5)
    if not found:
        return root, None  # grade it anyway: every question will say what is missing
    shallowest = [folder for depth, folder in found if depth == found[0][0]]
    if len(shallowest) > 1:
        listed = ", ".join(f"{f.relative_to(root)}/" for f in shallowest)
        raise SubmissionError(f"{shown}: {CONTRACT_MARKER} appears in several folders at the same depth "
                              f"({listed}); submit one folder laid out like the handout's python/")
    chosen = shallowest[0]
    ignored = [f"{f.relative_to(root)}/" for _, f in found[1:]]
    notice = None
    if chosen != root or ignored:
        where = "the top folder" if chosen == root else f"{chosen.relative_to(root)}/"
        notice = f"graded the modules in {where} of the submission"
        if ignored:
            notice += f"; ignored other copies of {CONTRACT_MARKER} in {', '.join(ignored)}"
    return chosen, notice


def _safe_extract(archive, target):
    """Unpack a submission's zip into target, refusing entries that point outside it and archives
    that unpack to more than MAX_ZIP_BYTES or MAX_ZIP_FILES (sizes as the archive declares them;
    extraction stops at the declared size too)."""
    with zipfile.ZipFile(archive) as zf:
        members = zf.infolist()
        if len(members) > MAX_ZIP_FILES:
            raise SubmissionError(f"{archive}: {len(members)} entries; a submission may hold at most {MAX_ZIP_FILES}")
        total = sum(member.file_size for member in members)
        if total > MAX_ZIP_BYTES:
            raise SubmissionError(f"{archive}: it unpacks to {total >> 20} MB; a submission may unpack to at most "
                                  f"{MAX_ZIP_BYTES >> 20} MB (leave data and results out: the grader brings its own)")
        for member in members:
            destination = (target / member.filename).resolve()
            if not destination.is_relative_to(target.resolve()):
                raise SubmissionError(f"{archive}: entry {member.filename!r} points outside the archive")
        written = 0
        for member in members:
            if member.is_dir():
                zf.extract(member, target)
                continue
            destination = target / member.filename
            destination.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(member) as source, open(destination, "wb") as out:
                while chunk := source.read(1 << 20):
                    written += len(chunk)
                    if written > MAX_ZIP_BYTES:   # a header that lies about its size
                        raise SubmissionError(f"{archive}: it unpacks to more than {MAX_ZIP_BYTES >> 20} MB")
                    out.write(chunk)


def grade(submission, rubric, *, seed=0, jobs=None, only=None, timeout=None, progress=None, compat=None):
    """Grade the submission directory (or zip) against the rubric.

    Inputs:  submission path; rubric (rubric.Rubric); seed; jobs = parallel child processes
             (default: CPU count); only = question ids to run (default: all); timeout caps
             every question's time limit; progress(question_id) is called as each finishes;
             compat: run removed library APIs as their replacements (spec_tests/_compat.py;
             default: the rubric's `compat`, true unless it says otherwise).
    Returns: GradingResults, with one QuestionResult per rubric question, in rubric order.
    """
    start = time.monotonic()
    allow_children()
    results = GradingResults(str(submission), rubric, seed=seed)
    try:
        results.sandbox = _sandbox.sandbox_mode()
    except _sandbox.SandboxUnavailable as exc:
        raise SubmissionError(f"cannot grade: {exc} (install the Debian package bubblewrap, or set "
                              f"{_sandbox.SANDBOX_VARIABLE}=auto to fall back to an unsandboxed process)") from None
    if results.sandbox == "none":
        why = _sandbox.bwrap_problem() if os.environ.get(_sandbox.SANDBOX_VARIABLE, "auto") != "none" \
            else f"{_sandbox.SANDBOX_VARIABLE}=none"
        results.notices.insert(0, f"NOT SANDBOXED ({why}): the submission's code ran as a plain process with "
                                  "rlimits only; it could read and write this machine's files and use its network")
    with opened_submission(submission) as (directory, notice), _private_copy(directory) as copy:
        if notice:
            results.notices.append(notice)
        wanted = [q for q in rubric.questions if only is None or q.id in only]
        runnable = [q for q in wanted if q.test_names]
        # A rubric group runs in one child under the sum of ALL its members' limits, even when only
        # some are asked for: they share set-up (a training) that the limits were set for.
        own = {q.id: min(q.timeout, timeout) if timeout else q.timeout for q in rubric.questions}
        units, limit = {}, {}
        for q in runnable:
            units.setdefault(q.group or q.id, []).append(q)
        for key, members in units.items():
            shared = sum(own[q.id] for q in rubric.questions if q.test_names and (q.group or q.id) == key)
            limit.update({q.id: shared for q in members})
        runs = {}
        cpus = available_cpus()
        jobs = jobs or cpus
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            # Longest time limit first (the limits follow the questions' running times), so the
            # pool does not end on one long question while the other workers idle.
            futures = {key: pool.submit(run_question, copy, tuple(members), seed=seed, timeout=limit[members[0].id],
                                        threads=max(1, cpus // jobs), sandbox=results.sandbox,
                                        compat=rubric.compat if compat is None else compat)
                       for key, members in sorted(units.items(), key=lambda unit: -limit[unit[1][0].id])}
            try:
                for key, future in futures.items():
                    run = future.result()
                    for q in units[key]:
                        runs[q.id] = run
                        if progress:
                            progress(q.id)
            except BaseException:  # Ctrl-C or a grader bug: leave no test process behind
                for future in futures.values():
                    future.cancel()
                kill_all_children()
                raise
        results.questions = [score_question(q, runs.get(q.id), limit.get(q.id)) for q in wanted]
        _note_grader_findings(results, runs)
    results.elapsed = time.monotonic() - start
    return results


def _note_grader_findings(results, runs):
    """Add what the grader (not the submission) is answerable for: data used, checks it could not run."""
    used = {}
    for result in results.questions:
        for description in sorted({o.data for o in result.outcomes if o.data}):
            used.setdefault(description, []).append(f"Q{result.question.id}")
        if result.score is None:
            continue
        skipped = [o for o in result.outcomes if o.skipped]
        if skipped:
            results.grader_errors.append(f"Q{result.question.id}: {len(skipped)} check(s) could not run here and "
                                         f"scored 0: {skipped[0].message}")
    for description, qids in used.items():
        results.notices.append(f"{', '.join(qids)} used {description}")
    removed = {}
    for result in results.questions:
        for text in dict.fromkeys(n for o in result.outcomes for n in o.notices):
            removed.setdefault(text, []).append(f"Q{result.question.id}")
    for text, qids in removed.items():
        results.notices.append(f"the submission {text} ({', '.join(qids)})")
    reported = set()
    for qid, run in runs.items():
        if run.runner_failed and id(run) not in reported:  # a group's run is reported once
            reported.add(id(run))
            qid = ", Q".join(run.questions) or qid
            results.grader_errors.append(
                f"Q{qid}: the test runner exited with code {run.returncode} before reporting any test "
                f"(a grader or rubric problem, unless the submission ended the process while loading). "
                f"Its last output:\n{run.output_tail[-1500:]}")


@contextmanager
def _private_copy(directory):
    """Each grading run works on its own copy, so runs never see each other's side effects."""
    with tempfile.TemporaryDirectory(prefix="graded-") as tmp:
        copy = Path(tmp) / "submission"
        shutil.copytree(directory, copy, symlinks=True, ignore=shutil.ignore_patterns("__pycache__", ".git"))
        yield copy


def score_question(question, run, timeout):
    """Turn one question's run into a QuestionResult by the rubric's points. A failed check worth
    no points in the rubric's profile is advice: shown, never deducted, never a failure."""
    if question.pending:
        return QuestionResult(question, None, "pending", "no automatic tests yet: grade it by hand")
    outcomes = tuple(run.outcomes.get(name) or TestOutcome(name, False, run.ended_early_reason(timeout))
                     for name in question.test_names) if run else ()
    elapsed = run.elapsed if run else 0.0
    usage = {"peak_rss": run.peak_rss} if run else {}
    if not question.graded:
        held = sum(o.passed for o in outcomes)
        reason = "for a person to grade" + (f"; evidence: {held}/{len(outcomes)} checks hold" if outcomes else "")
        failed = [o for o in outcomes if not o.passed]
        if failed:
            reason += f"; {_first_line(failed[0])}"
        return QuestionResult(question, None, "manual", reason, outcomes, elapsed, **usage)
    score = round(sum(question.tests[o.name] for o in outcomes if o.passed), 6)
    scored = [o for o in outcomes if not question.is_advice(o.name)]
    failed = [o for o in scored if not o.passed]
    advice = [o for o in outcomes if question.is_advice(o.name) and not o.passed]
    tip = f"; advice (no points): {advice[0].title or advice[0].name}" + (f" and {len(advice) - 1} more" if len(advice) > 1 else "") \
        if advice else ""
    if not failed:
        return QuestionResult(question, score, "passed", f"all {len(scored)} checks passed{tip}", outcomes, elapsed, **usage)
    reason = f"{len(scored) - len(failed)}/{len(scored)} checks passed; {_first_line(failed[0])}"
    return QuestionResult(question, score, "partial" if score > 0 else "failed", reason, outcomes, elapsed, **usage)


def _first_line(outcome):
    """'<title>: <first line of its message>' for a failed check."""
    return f"{outcome.title or outcome.name}: {(outcome.message.splitlines() or ['failed'])[0]}"
