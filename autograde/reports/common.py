"""What the report formats share: how points print, and the time and memory each test process took."""


def points(value):
    """A score as text: '—' for a question no test scores."""
    return "—" if value is None else f"{value:g}"


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


def given(results, question_result):
    """The points a person gave a question, as text, or 'not graded yet'."""
    grade = results.manual_grade(question_result.question.id)
    return "not graded yet" if grade is None else f"{grade.score:g}"
