"""What the report formats share: how points print, and the time and memory each test process took."""


def points(value):
    """A score as text: '—' for a question no test scores."""
    return "—" if value is None else f"{value:g}"


def usage_rows(results):
    """[(questions, wall time, where the time went, peak memory)] as text, one per test process (the
    questions that shared one: a rubric group, or a spec file's short questions), longest first: what
    a submission costs to grade. Where the time went: the process's start-up (pytest, imports; wall
    time less the tests' own), the submission's workers' start-up, and the tests."""
    processes = {}
    for r in results.questions:
        if r.outcomes:
            run = results.runs.get(r.question.id, (None,))[0]
            processes.setdefault(id(run) if run is not None else r.question.id, []).append((r, run))
    rows = []
    for members in sorted(processes.values(), key=lambda m: -m[0][0].elapsed):
        first, run = members[0]
        peak = f"{first.peak_rss / 2**20:.0f} MB" if first.peak_rss else "—"
        split = "—"
        if run is not None and run.tests_seconds is not None:
            split = (f"start-up {max(0.0, run.elapsed - run.tests_seconds):.1f} s, tests {run.tests_seconds:.1f} s "
                     f"(submission's worker start-up {run.worker_seconds or 0:.1f} s)")
        rows.append((", ".join(r.question.id for r, _ in members), f"{first.elapsed:.1f} s", split, peak))
    return rows


def given(results, question_result):
    """The points a person gave a question, as text, or 'not graded yet'."""
    grade = results.manual_grade(question_result.question.id)
    return "not graded yet" if grade is None else f"{grade.score:g}"
