"""The rubric (rubric.toml) as frozen dataclasses, validated on load."""
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_RUBRIC = Path(__file__).with_name("rubric.toml")
KINDS = ("auto", "manual")
VISIBILITIES = ("visible", "hidden", "after_due_date", "after_published")


class RubricError(ValueError):
    """The rubric file is malformed; the message names the file and the entry."""


@dataclass(frozen=True)
class Question:
    id: str
    title: str
    points: float
    kind: str
    file: str | None = None
    tests: dict = field(default_factory=dict)     # auto: test function name -> points
    evidence: tuple = ()                          # manual: test names shown as evidence
    pending: bool = False
    timeout: float = 60.0
    visibility: str = "visible"
    group: str | None = None                      # questions of one group run in one child process
    leaderboard: str | None = None                # results.json leaderboard column: the mean of its tests' metrics
    worker_memory_mb: int = 4096                  # the submission worker's address-space cap ($HW5_WORKER_MEMORY_MB wins)

    @property
    def graded(self):
        """True when tests score this question now (auto and not pending)."""
        return self.kind == "auto" and not self.pending

    @property
    def test_names(self):
        """The tests a run of this question must report: scored ones, else the evidence."""
        return tuple(self.tests) if self.graded else self.evidence

    @property
    def section(self):
        return self.id.split(".")[0]


@dataclass(frozen=True)
class Rubric:
    questions: tuple
    stated_total: float
    extra_credit_sections: tuple = ()
    source: str = ""

    @property
    def listed_total(self):
        return sum(q.points for q in self.questions)

    @property
    def auto_total(self):
        return sum(q.points for q in self.questions if q.graded)

    def __getitem__(self, qid):
        for question in self.questions:
            if question.id == qid:
                return question
        raise KeyError(qid)


def load_rubric(path=DEFAULT_RUBRIC):
    """Read and validate a rubric TOML file. Returns Rubric; raises RubricError naming the problem."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise RubricError(f"{path}: cannot read the rubric: {exc}") from exc
    entries, defaults, handout = data.get("question", []), data.get("defaults", {}), data.get("handout", {})
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise RubricError(f"{path}: `question` must be a list of tables, each written [[question]]")
    if not isinstance(defaults, dict) or not isinstance(handout, dict):
        raise RubricError(f"{path}: [defaults] and [handout] must be tables")
    questions = tuple(_question(path, i, entry, defaults) for i, entry in enumerate(entries))
    ids = [q.id for q in questions]
    for group in {q.group for q in questions if q.group}:
        members = [q for q in questions if q.group == group]
        files = {q.file for q in members}
        if len(files) != 1 or None in files:
            raise RubricError(f"{path}: questions {', '.join(q.id for q in members)} of group {group!r} must share "
                              f"one test `file`, not {sorted(map(str, files))}")
    if len(set(ids)) != len(ids):
        raise RubricError(f"{path}: question ids repeat: {sorted({i for i in ids if ids.count(i) > 1})}")
    try:
        stated = float(handout.get("stated_total", sum(q.points for q in questions)))
        extra = tuple(str(s) for s in handout.get("extra_credit", ()))
    except (TypeError, ValueError) as exc:
        raise RubricError(f"{path}: [handout]: {exc}") from exc
    return Rubric(questions, stated, extra, str(path))


def _question(path, index, entry, defaults):
    where = f"{path}: question #{index + 1} ({entry.get('id', 'no id')})"
    try:
        question = Question(
            id=str(entry["id"]), title=str(entry["title"]), points=float(entry["points"]),
            kind=entry["kind"], file=entry.get("file"), tests={str(k): float(v) for k, v in entry.get("tests", {}).items()},
            evidence=tuple(entry.get("evidence", ())), pending=bool(entry.get("pending", False)),
            timeout=float(entry.get("timeout", defaults.get("timeout", 60))),
            visibility=entry.get("visibility", defaults.get("visibility", "visible")),
            group=str(entry["group"]) if "group" in entry else None,
            leaderboard=str(entry["leaderboard"]) if "leaderboard" in entry else None,
            worker_memory_mb=int(entry.get("worker_memory_mb", defaults.get("worker_memory_mb", 4096))))
    except KeyError as exc:
        raise RubricError(f"{where}: missing key {exc}") from exc
    except (TypeError, ValueError, AttributeError) as exc:
        raise RubricError(f"{where}: {exc}") from exc
    if question.kind not in KINDS:
        raise RubricError(f"{where}: kind must be one of {KINDS}, not {question.kind!r}")
    if question.visibility not in VISIBILITIES:
        raise RubricError(f"{where}: visibility must be one of {VISIBILITIES}")
    if question.graded:
        if not question.file or not question.tests:
            raise RubricError(f"{where}: an auto question needs `file` and `tests` (or `pending = true`)")
        if not math.isclose(sum(question.tests.values()), question.points):
            raise RubricError(f"{where}: its tests add up to {sum(question.tests.values())}, not its {question.points} points")
    elif question.tests:
        raise RubricError(f"{where}: only auto questions that are not pending carry scored `tests`")
    if question.evidence and not question.file:
        raise RubricError(f"{where}: `evidence` needs a `file`")
    if question.timeout <= 0:
        raise RubricError(f"{where}: timeout must be positive")
    if question.worker_memory_mb < 256:
        raise RubricError(f"{where}: worker_memory_mb must be at least 256")
    return question
