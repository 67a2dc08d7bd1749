"""The rubric (rubric.toml) as frozen dataclasses, validated on load.

A scored test's entry holds its points, the handout sentence (or starter-code setting) it
enforces (`cites`), and, for a check the handout does not ask for, why it is only advice
(`advice`: 0 points by default). A profile ([profiles] in the file) gives tests other points:
`strict` scores the advice checks as the rubric before the fidelity audit did.
"""
import math
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_RUBRIC = Path(__file__).with_name("rubric.toml")
DEFAULT_PROFILE = "default"
KINDS = ("auto", "manual")
VISIBILITIES = ("visible", "hidden", "after_due_date", "after_published")
TEST_KEYS = {"points", "cites", "advice"}
ITEM_KEYS = {"id", "points", "text", "note", "cites", "suggested_by"}
ITEM_ID = re.compile(r"[a-z0-9][a-z0-9-]*")


class RubricError(ValueError):
    """The rubric file is malformed; the message names the file and the entry."""


@dataclass(frozen=True)
class Item:
    """A rubric item of a question a person grades: ticked by a grader, it adds `points` (negative: a
    deduction from full marks, Gradescope's default negative scoring). `text` is what the student sees,
    `note` what only graders see, `cites` the handout sentence it enforces, `suggested_by` the
    question's evidence checks whose failure pre-selects it for the grader to confirm."""
    id: str
    points: float
    text: str
    note: str = ""
    cites: str = ""
    suggested_by: tuple = ()


@dataclass(frozen=True)
class Question:
    id: str
    title: str
    points: float
    kind: str
    file: str | None = None
    tests: dict = field(default_factory=dict)     # auto: test function name -> points (in the rubric's profile)
    cites: dict = field(default_factory=dict)     # test name -> the handout sentence (or starter setting) it enforces
    advice: dict = field(default_factory=dict)    # test name -> why it is advice, not a deduction (0 points by default)
    evidence: tuple = ()                          # manual: test names shown as evidence
    pending: bool = False
    timeout: float = 60.0
    visibility: str = "visible"
    group: str | None = None                      # questions of one group run in one child process
    leaderboard: str | None = None                # results.json leaderboard column: the mean of its tests' metrics
    worker_memory_mb: int = 4096                  # the submission worker's address-space cap ($HW5_WORKER_MEMORY_MB wins)
    prompt: str = ""                              # manual: the handout's question, shown to the grader
    items: tuple = ()                             # manual: the rubric items (Item) graders tick

    def item(self, item_id):
        """The Item of this question with that id; KeyError when it has none."""
        for item in self.items:
            if item.id == item_id:
                return item
        raise KeyError(f"Q{self.id} has no rubric item {item_id!r}")

    def manual_score(self, applied_points, adjustment=0.0):
        """A manual grade's points: full marks plus the applied items' points plus the adjustment,
        clamped to [0, points] (Gradescope's default score bounds)."""
        return min(self.points, max(0.0, round(self.points + sum(applied_points) + adjustment, 6)))

    @property
    def graded(self):
        """True when tests score this question now (auto and not pending)."""
        return self.kind == "auto" and not self.pending

    @property
    def by_person(self):
        """True for a question people grade (autograde review): manual, or auto with no tests yet."""
        return self.kind == "manual" or self.pending

    @property
    def test_names(self):
        """The tests a run of this question must report: scored ones, else the evidence."""
        return tuple(self.tests) if self.graded else self.evidence

    @property
    def section(self):
        return self.id.split(".")[0]

    def is_advice(self, test):
        """True for a test of this question that carries no points in this profile: its failure is
        shown as advice, never as a deduction."""
        return self.graded and test in self.tests and self.tests[test] == 0


@dataclass(frozen=True)
class Rubric:
    questions: tuple
    stated_total: float
    extra_credit_sections: tuple = ()
    source: str = ""
    profile: str = DEFAULT_PROFILE
    profiles: dict = field(default_factory=dict)   # name -> description, as the file declares them
    compat: bool = True                            # run removed library APIs as their replacements
    advice_budget: float = 60.0                    # seconds each advice (0-point) check may take

    @property
    def listed_total(self):
        return sum(q.points for q in self.questions)

    @property
    def auto_total(self):
        return sum(q.points for q in self.questions if q.graded)

    @property
    def by_person(self):
        """The questions people grade, in rubric order."""
        return tuple(q for q in self.questions if q.by_person)

    def __getitem__(self, qid):
        for question in self.questions:
            if question.id == qid:
                return question
        raise KeyError(qid)


def bundled_profiles():
    """{name: description} of the bundled rubric's profiles, 'default' included."""
    data = tomllib.loads(DEFAULT_RUBRIC.read_text(encoding="utf-8"))
    return {DEFAULT_PROFILE: "the handout's points: checks beyond the handout are advice", **data.get("profiles", {})}


def resolve_rubric(value):
    """(path, profile or None) for a --rubric value: a rubric file, or the name of a profile of the
    bundled rubric (e.g. 'strict'). Raises RubricError naming both kinds when it is neither."""
    if value is None:
        return DEFAULT_RUBRIC, None
    path = Path(value)
    if path.is_file():
        return path, None
    profiles = bundled_profiles()
    if str(value) in profiles:
        return DEFAULT_RUBRIC, str(value)
    raise RubricError(f"{value}: neither a rubric file nor a profile of the bundled rubric ({', '.join(profiles)})")


def load_rubric(path=DEFAULT_RUBRIC, profile=None):
    """Read and validate a rubric TOML file. profile: the points to use (default: the file's
    top-level `profile`, else 'default'). Returns Rubric; raises RubricError naming the problem."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise RubricError(f"{path}: cannot read the rubric: {exc}") from exc
    entries, defaults, handout = data.get("question", []), data.get("defaults", {}), data.get("handout", {})
    declared = data.get("profiles", {})
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise RubricError(f"{path}: `question` must be a list of tables, each written [[question]]")
    if not isinstance(defaults, dict) or not isinstance(handout, dict) or not isinstance(declared, dict):
        raise RubricError(f"{path}: [defaults], [handout] and [profiles] must be tables")
    profile = str(profile or data.get("profile", DEFAULT_PROFILE))
    if profile != DEFAULT_PROFILE and profile not in declared:
        raise RubricError(f"{path}: no profile {profile!r} (it declares: {', '.join([DEFAULT_PROFILE, *declared])})")
    # Every profile is validated whichever is used, so a course's edit cannot break the other one.
    loaded = {name: tuple(_question(path, i, entry, defaults, name, declared) for i, entry in enumerate(entries))
              for name in (DEFAULT_PROFILE, *declared)}
    questions = loaded[profile]
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
    compat = defaults.get("compat", True)
    if not isinstance(compat, bool):
        raise RubricError(f"{path}: [defaults] compat must be true or false")
    budget = defaults.get("advice_budget", 60)
    if isinstance(budget, bool) or not isinstance(budget, (int, float)) or not 0 < budget < math.inf:
        raise RubricError(f"{path}: [defaults] advice_budget must be a positive number of seconds")
    return Rubric(questions, stated, extra, str(path), profile, {str(k): str(v) for k, v in declared.items()}, compat,
                  float(budget))


def _test_entries(where, tests, profile, declared):
    """({test: points in `profile`}, {test: cites}, {test: advice}) from a [question.tests] table,
    whose values are points or tables {points, cites, advice, <profile> = points}."""
    points, cites, advice = {}, {}, {}
    if not isinstance(tests, dict):
        raise RubricError(f"{where}: `tests` must be a table of test name = points or = {{points = ..., cites = ...}}")
    for name, entry in tests.items():
        if not isinstance(entry, dict):
            entry = {"points": entry}
        unknown = set(entry) - TEST_KEYS - set(declared)
        if unknown:
            raise RubricError(f"{where}: test {name}: unknown key(s) {sorted(unknown)} (known: {sorted(TEST_KEYS)} "
                              f"and the profiles {sorted(declared)})")
        try:
            value = float(entry.get(profile, entry["points"]) if profile != DEFAULT_PROFILE else entry["points"])
        except KeyError:
            raise RubricError(f"{where}: test {name} has no `points`") from None
        except (TypeError, ValueError) as exc:
            raise RubricError(f"{where}: test {name}: {exc}") from exc
        if value < 0:
            raise RubricError(f"{where}: test {name}: points must not be negative")
        points[str(name)] = value
        cites[str(name)] = str(entry.get("cites", ""))
        if "advice" in entry:
            advice[str(name)] = str(entry["advice"])
    return points, cites, advice


def _items(where, entries):
    """The Item tuple of a question's [[question.items]] tables, validated."""
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise RubricError(f"{where}: `items` must be tables, each written [[question.items]]")
    items = []
    for number, entry in enumerate(entries, 1):
        unknown = set(entry) - ITEM_KEYS
        if unknown:
            raise RubricError(f"{where}: item #{number}: unknown key(s) {sorted(unknown)} (known: {sorted(ITEM_KEYS)})")
        try:
            item = Item(str(entry["id"]), float(entry["points"]), str(entry["text"]), str(entry.get("note", "")),
                        str(entry.get("cites", "")), tuple(str(n) for n in entry.get("suggested_by", ())))
        except KeyError as exc:
            raise RubricError(f"{where}: item #{number}: missing key {exc}") from None
        except (TypeError, ValueError) as exc:
            raise RubricError(f"{where}: item #{number}: {exc}") from None
        if not ITEM_ID.fullmatch(item.id):
            raise RubricError(f"{where}: item id {item.id!r}: use lower-case letters, digits and '-'")
        if not math.isfinite(item.points):
            raise RubricError(f"{where}: item {item.id}: points must be a finite number")
        if item.id in {i.id for i in items}:
            raise RubricError(f"{where}: item id {item.id!r} repeats")
        items.append(item)
    return tuple(items)


def _question(path, index, entry, defaults, profile=DEFAULT_PROFILE, declared=None):
    where = f"{path}: question #{index + 1} ({entry.get('id', 'no id')})"
    if profile != DEFAULT_PROFILE:
        where += f" in profile {profile!r}"
    try:
        tests, cites, advice = _test_entries(where, entry.get("tests", {}), profile, declared or {})
        question = Question(
            id=str(entry["id"]), title=str(entry["title"]), points=float(entry["points"]),
            kind=entry["kind"], file=entry.get("file"), tests=tests, cites=cites, advice=advice,
            evidence=tuple(entry.get("evidence", ())), pending=bool(entry.get("pending", False)),
            timeout=float(entry.get("timeout", defaults.get("timeout", 60))),
            visibility=entry.get("visibility", defaults.get("visibility", "visible")),
            group=str(entry["group"]) if "group" in entry else None,
            leaderboard=str(entry["leaderboard"]) if "leaderboard" in entry else None,
            worker_memory_mb=int(entry.get("worker_memory_mb", defaults.get("worker_memory_mb", 4096))),
            prompt=str(entry.get("prompt", "")), items=_items(where, entry.get("items", [])))
    except KeyError as exc:
        raise RubricError(f"{where}: missing key {exc}") from exc
    except (TypeError, ValueError, AttributeError) as exc:
        if isinstance(exc, RubricError):
            raise
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
    if question.items and question.kind != "manual":
        raise RubricError(f"{where}: only manual questions carry rubric `items`")
    lacking = sorted({name for item in question.items for name in item.suggested_by} - set(question.evidence))
    if lacking:
        raise RubricError(f"{where}: items' suggested_by name checks that are not its evidence: {lacking}")
    if question.evidence and not question.file:
        raise RubricError(f"{where}: `evidence` needs a `file`")
    if question.timeout <= 0:
        raise RubricError(f"{where}: timeout must be positive")
    if question.worker_memory_mb < 256:
        raise RubricError(f"{where}: worker_memory_mb must be at least 256")
    return question
