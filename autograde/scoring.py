"""Scoring: a question's run turned into points by the rubric, and what the grader itself must own up to."""
from autograde.outcomes import NOT_RUN, TestOutcome
from autograde.results import QuestionResult


def assemble(results, wanted, runs, limits):
    """Score the questions wanted (rubric order) from their runs ({id: QuestionRun}) under their
    time limits ({id: seconds}) into results, and add the grader's findings. What `grade` does once
    its children finish, and what a rescore does from a record (record.py)."""
    results.base_notices = list(results.notices)
    results.runs = {qid: (run, limits.get(qid)) for qid, run in runs.items()}
    results.questions = [score_question(q, runs.get(q.id), limits.get(q.id)) for q in wanted]
    note_grader_findings(results, runs)


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
    advice = [o for o in outcomes if question.is_advice(o.name) and not o.passed and not o.message.startswith(NOT_RUN)]
    tip = f"; advice (no points): {advice[0].title or advice[0].name}" + (f" and {len(advice) - 1} more" if len(advice) > 1 else "") \
        if advice else ""
    if not failed:
        return QuestionResult(question, score, "passed", f"all {len(scored)} checks passed{tip}", outcomes, elapsed, **usage)
    reason = f"{len(scored) - len(failed)}/{len(scored)} checks passed; {_first_line(failed[0])}"
    return QuestionResult(question, score, "partial" if score > 0 else "failed", reason, outcomes, elapsed, **usage)


def _first_line(outcome):
    """'<title>: <first line of its message>' for a failed check."""
    return f"{outcome.title or outcome.name}: {(outcome.message.splitlines() or ['failed'])[0]}"


def note_grader_findings(results, runs):
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
