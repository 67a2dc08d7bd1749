"""`autograde export GRADED_DIR`: the scores of a graded batch as a CSV an LMS imports.

GRADED_DIR is the --out folder of `autograde batch` (one <name>/results.json per submission). The
layouts (docs/gradebook-export.md says which columns each LMS reads, and what could not be checked
against a live LMS):

  canvas      Canvas's Gradebook import: Student, ID, SIS User ID, SIS Login ID, Section, then one
              column for the assignment ("HW5 (12345)" with --assignment-id), a "Points Possible"
              row, then a row per student with the total.
  gradescope  Gradescope's score upload: Name, SID, Email, Total Score (+ a column per question
              with --per-question).
  plain       the batch's gradebook (submission, total, questions, grader_errors, seconds) with the
              identity columns after the submission's name: the mapping staff can read.

Who a submission belongs to comes, first match wins, from a roster CSV (--roster: a `submission`
column plus any of name, id, sis_user_id, sis_login_id, section, sid, email), from Gradescope's
submission_metadata.yml (--submissions: the Export Submissions folder), or from Canvas's download
naming (<name>_<user id>_<submission id>_<file>, <name>_LATE_<user id>_...). A submission no source
identifies is still written (with its identity columns empty, so the LMS's import flags the row)
and reported; its exit status is 1. Every text cell a spreadsheet would run as a formula is
neutralised; scores stay numbers.
"""
import csv
import json
import math
import re
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from autograde.course.gradebook import (
    NOT_GRADED,
    RESULTS,
    plain_number,
    question_order,
    read_graded,
    spreadsheet_safe,
)
from autograde.rubric import RubricError, load_rubric, resolve_rubric

LAYOUTS = ("canvas", "gradescope", "plain")
IDENTITY_FIELDS = ("name", "id", "sis_user_id", "sis_login_id", "section", "sid", "email")
METADATA = "submission_metadata.yml"
CANVAS_HEADER = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
GRADESCOPE_HEADER = ("Name", "SID", "Email", "Total Score")
POINTS_POSSIBLE = "Points Possible"
# Which identity fields let each LMS find the student (Canvas: its user id, then SIS User ID, then
# SIS Login ID; Gradescope: SID or email). A row with none of them is reported as unmatched.
MATCHED_BY = {"canvas": ("id", "sis_user_id", "sis_login_id"), "gradescope": ("sid", "email"),
              "plain": ("id", "sis_user_id", "sis_login_id", "sid", "email")}
# Canvas's "Download Submissions": <name>_<user id>_<submission id>[_<original file name>], with
# LATE_ before the user id for a late one. The ids are Canvas's (no leading zero).
CANVAS_NAME = re.compile(r"(?P<key>[^_]+(?:_[^_]+)*?)_(?:(?P<late>LATE)_)?(?P<user>[1-9]\d*)_(?P<submission>[1-9]\d*)"
                         r"(?:_(?P<file>.*))?")
ROSTER_ALIASES = {"student": "name", "student_name": "name", "canvas_id": "id", "canvas_user_id": "id"}


class ExportError(ValueError):
    """Bad input (exit status 2): the message names the file and what was expected of it."""


@dataclass
class ExportSummary:
    path: Path
    layout: str
    rows: int                                         # student rows written
    points_possible: float | None
    unmatched: list = field(default_factory=list)     # (submission, why): written without an identity the LMS matches
    skipped: list = field(default_factory=list)       # (submission, why): results.json unreadable, not written
    duplicates: list = field(default_factory=list)    # (student, [submissions]): one student, several rows
    warnings: list = field(default_factory=list)      # everything else worth saying

    @property
    def problems(self):
        """True when staff must act before importing (exit status 1)."""
        return bool(self.unmatched or self.skipped or self.duplicates)


def points_possible_of(graded, extra_credit=None):
    """(points possible, warnings): each submission's sum of max_score over its tests, extra-credit
    sections left out (default: the bundled rubric's); the value most submissions agree on."""
    if extra_credit is None:
        extra_credit = load_rubric().extra_credit_sections
    extra_credit = {str(s) for s in extra_credit}
    totals = Counter()
    by_total = {}
    for g in graded:
        total = round(sum(m for q, m in g.max_scores.items() if q.split(".")[0] not in extra_credit), 6)
        totals[total] += 1
        by_total.setdefault(total, []).append(g.name)
    if not totals:
        return None, []
    (common, _), *others = sorted(totals.items(), key=lambda kv: (-kv[1], -kv[0]))
    warnings = []
    if others:
        listing = "; ".join(f"{plain_number(t)} points: {', '.join(by_total[t][:5])}{' ...' if n > 5 else ''}" for t, n in others)
        warnings.append(f"the submissions disagree on the points possible: {totals[common]} of {sum(totals.values())} "
                        f"have {plain_number(common)} (used), the others {listing}. Were some graded on fewer questions "
                        "(-q)? Give --points-possible to set it.")
    return common, warnings


# ---- who a submission belongs to ----------------------------------------------------------------

def parse_canvas_name(name):
    """The identity in a Canvas "Download Submissions" name (<name>_<user id>_<submission id>_<file>,
    or <name>_LATE_<user id>_...): {'name': the name part, 'id': the Canvas user id, 'late': bool,
    'submission_id': ...}, or None when name is not one."""
    match = CANVAS_NAME.fullmatch(name)
    if not match:
        return None
    return {"name": match["key"], "id": match["user"], "late": bool(match["late"]),
            "submission_id": match["submission"]}


def read_roster(path):
    """{submission name: [identity dict, ...]} from a roster CSV: a `submission` column (the graded
    folder's name, or its zip's file name) and any of IDENTITY_FIELDS (read case-insensitively,
    spaces as underscores, so Canvas's "SIS User ID" works; ROSTER_ALIASES too: "Student" is name).
    A group lists its submission once per member. Returns (roster, warnings). Raises ExportError
    naming the file and the line."""
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f)
            header = next(reader, None)
            if not header:
                raise ExportError(f"{path}: the roster is empty; expected a header row with 'submission' and any of "
                                  f"{', '.join(IDENTITY_FIELDS)}")
            columns = [_roster_column(h) for h in header]
            if "submission" not in columns:
                raise ExportError(f"{path}: no 'submission' column in its header ({', '.join(header)}); expected "
                                  f"'submission' (the graded folder's name) and any of {', '.join(IDENTITY_FIELDS)}")
            warnings = []
            unknown = [h for h, c in zip(header, columns, strict=True) if c not in IDENTITY_FIELDS and c != "submission"]
            if unknown:
                warnings.append(f"{path}: columns ignored: {', '.join(unknown)} (known: submission, {', '.join(IDENTITY_FIELDS)})")
            roster = {}
            for row in reader:
                if not any(cell.strip() for cell in row):
                    continue
                line = reader.line_num
                values = dict(zip(columns, (cell.strip() for cell in row), strict=False))   # a short row: the rest empty
                submission = _submission_key(values.get("submission", ""))
                if not submission:
                    raise ExportError(f"{path}, line {line}: no submission named; every row needs the graded "
                                      "folder's name in its 'submission' column")
                roster.setdefault(submission, []).append({k: values.get(k, "") for k in IDENTITY_FIELDS})
    except FileNotFoundError:
        raise ExportError(f"{path}: no such roster file (expected a CSV with a 'submission' column)") from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ExportError(f"{path}: cannot be read as a UTF-8 CSV roster ({exc})") from None
    return roster, warnings


def _roster_column(header):
    column = re.sub(r"[\s\-]+", "_", header.strip().lower())
    return ROSTER_ALIASES.get(column, column)


def _submission_key(value):
    """A roster's submission cell as the graded folder's name: a path's last part, a .zip's stem."""
    name = Path(value.strip()).name if value.strip() else ""
    return name[:-4] if name.lower().endswith(".zip") else name


def read_submission_metadata(path):
    """{submission folder: [{'name', 'sid', 'email'}, ...]} from Gradescope's submission_metadata.yml
    (Export Submissions): top-level keys submission_<id>, each with a :submitters: list of :name:,
    :sid:, :email:. Read with PyYAML when it is installed (every scalar kept as a string, Ruby tags
    as plain data), else with parse_submission_metadata. path: the file, or the export's folder.
    Raises ExportError naming the file and what was expected."""
    path = Path(path)
    if path.is_dir():
        path = path / METADATA
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ExportError(f"{path}: not found; expected Gradescope's {METADATA} at the top of its Export "
                          "Submissions folder (--submissions names that folder)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ExportError(f"{path}: cannot be read ({exc})") from None
    try:
        import yaml
    except ImportError:
        yaml = None
    try:
        data = _load_yaml(yaml, text) if yaml else parse_submission_metadata(text)
    except ValueError as exc:   # yaml.YAMLError is not one: caught below
        raise ExportError(f"{path}: {exc}") from None
    except Exception as exc:
        if yaml and isinstance(exc, yaml.YAMLError):
            raise ExportError(f"{path}: not valid YAML ({exc})") from None
        raise
    return _submitters(data, path)


def _load_yaml(yaml, text):
    class StringLoader(yaml.SafeLoader):
        """Safe loading, every plain scalar a string (an SID 0123 stays 0123), unknown tags
        (Ruby's !ruby/object, !ruby/hash) read as the plain mapping, list or string they tag."""

    StringLoader.yaml_implicit_resolvers = {}

    def untagged(loader, suffix, node):
        if isinstance(node, yaml.MappingNode):
            return loader.construct_mapping(node, deep=True)
        if isinstance(node, yaml.SequenceNode):
            return loader.construct_sequence(node, deep=True)
        return loader.construct_scalar(node)

    StringLoader.add_multi_constructor("", untagged)
    return yaml.load(text, Loader=StringLoader)


def parse_submission_metadata(text):
    """The part of submission_metadata.yml that names the submitters, read without PyYAML:
    {key: {':submitters': [{':name': ..., ':sid': ..., ':email': ...}, ...]}} for each top-level
    key. Reads the block layout Gradescope writes (top-level `submission_<id>:` keys; under each,
    `:submitters:` followed by `- :name: ...` items whose other keys are indented under the first);
    every other key, however deep or multi-line, is skipped. Raises ValueError with the line."""
    entries, current = {}, None
    child_indent = list_indent = item_indent = field_indent = None
    item = None
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.rstrip()
        body = line.lstrip(" ")
        if not body or body.startswith("#") or (not raw.startswith(" ") and body in ("---", "...")):
            continue
        indent = len(line) - len(body)
        if indent == 0:
            key, value = _key_value(body)
            if key is None:
                raise ValueError(f"line {lineno}: expected a top-level key like 'submission_123:', found {body[:60]!r}")
            current, child_indent, list_indent, item = key, None, None, None
            entries[current] = {}
            continue
        if current is None:
            raise ValueError(f"line {lineno}: an indented line before any top-level key")
        if child_indent is None:
            child_indent = indent
        if list_indent is not None:
            if body == "-" or body.startswith("- "):
                if indent >= list_indent and item_indent in (None, indent):
                    item_indent, item = indent, {}
                    entries[current][":submitters"].append(item)
                    rest = body[1:].lstrip(" ")
                    field_indent = indent + len(body) - len(rest)
                    key, value = _key_value(rest) if rest else (None, None)
                    if key is not None:
                        item[key] = value
                    continue
            elif item is not None and indent == field_indent:
                key, value = _key_value(body)
                if key is not None:
                    item[key] = value
                continue
            elif item is not None and indent > field_indent:
                continue                                    # a nested value: not needed
            if indent <= list_indent:
                list_indent = item = None                   # the list ended: this line is a sibling key
            else:
                continue
        if indent == child_indent:
            key, value = _key_value(body)
            if key in (":submitters", "submitters") and value in ("", "[]"):
                entries[current][":submitters"] = []
                if value == "":
                    list_indent, item_indent, item = indent, None, None
    return entries


_KEY = re.compile(r"""(?P<key>:?[A-Za-z_][\w\-]*|"[^"]*"|'[^']*')\s*:(?:\s+(?P<value>.*))?""")


def _key_value(text):
    """(key, scalar value as a string) for a `key: value` line, (None, None) for anything else."""
    match = _KEY.fullmatch(text)
    if not match:
        return None, None
    return _scalar(match["key"]), _scalar(match["value"] or "")


def _scalar(text):
    """A YAML scalar as the string it stands for (quotes undone; a plain one without its comment)."""
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] == "'":
        return text[1:-1].replace("''", "'")
    if len(text) >= 2 and text[0] == text[-1] == '"':
        try:
            return json.loads(text)
        except ValueError:
            return text[1:-1]
    text = re.split(r"\s+#", text, maxsplit=1)[0].strip()
    return "" if text in ("~", "null", "Null", "NULL", "|", ">", "|-", ">-") else text


def _submitters(data, path):
    if not isinstance(data, dict) or not data:
        raise ExportError(f"{path}: expected a mapping of submission_<id> keys, each with a :submitters: list "
                          "(Gradescope's Export Submissions format)")
    found = {}
    for key, entry in data.items():
        people = _get(entry, "submitters") if isinstance(entry, dict) else None
        if not isinstance(people, list):
            continue
        found[str(key)] = [{k: _text(_get(p, k)) for k in ("name", "sid", "email")} for p in people if isinstance(p, dict)]
    if not found:
        raise ExportError(f"{path}: no entry has a :submitters: list; expected Gradescope's format "
                          "(submission_<id>: with :submitters: - :name: ... :sid: ... :email: ...)")
    return found


def _get(mapping, key):
    """mapping[':key'] (a Ruby symbol, as Gradescope writes keys), or mapping['key']."""
    return mapping.get(f":{key}", mapping.get(key)) if isinstance(mapping, dict) else None


def _text(value):
    text = "" if value is None else str(value).strip()
    return "" if text in ("~", "null", "Null", "NULL") else text


def identities(name, roster=None, metadata=None):
    """(the students submission `name` belongs to, as identity dicts, where they came from). The
    first source that knows the submission wins whole: the roster, then Gradescope's metadata, then
    Canvas's download naming. ([{}], 'none') when none does."""
    if roster and name in roster:
        return [dict(p) for p in roster[name]], "roster"
    if metadata and name in metadata:
        return [{"name": p["name"], "sid": p["sid"], "email": p["email"]} for p in metadata[name]] or [{}], METADATA
    parsed = parse_canvas_name(name)
    if parsed:
        return [{"name": parsed["name"], "id": parsed["id"]}], "Canvas file name"
    return [{}], "none"


# ---- writing ------------------------------------------------------------------------------------

def default_out(graded_dir, layout):
    return Path(graded_dir) / f"{layout}-import.csv"


def write_export(graded_dir, layout, out_csv=None, *, roster=None, assignment="HW5", assignment_id=None,
                 points_possible=None, submissions_dir=None, per_question=False, rubric=None, auto_only=False):
    """Write graded_dir's scores in `layout` (canvas | gradescope | plain) to out_csv (default
    graded_dir/<layout>-import.csv). roster: a roster CSV path; submissions_dir: Gradescope's Export
    Submissions folder (or its submission_metadata.yml); assignment, assignment_id: Canvas's column
    ("HW5 (12345)"); points_possible: instead of the results' max scores; per_question: the
    gradescope layout gets a column per question. Once a review began (review.sqlite), the totals
    include the points people gave (scored by rubric, default the bundled one); auto_only: not.
    Returns ExportSummary. Raises ExportError on bad input (nothing written)."""
    if layout not in LAYOUTS:
        raise ExportError(f"layout {layout!r}: expected one of {', '.join(LAYOUTS)}")
    graded_dir = Path(graded_dir)
    if not graded_dir.is_dir():
        raise ExportError(f"{graded_dir}: not a folder; expected the --out folder of autograde batch "
                          f"(one <submission>/{RESULTS} each)")
    if assignment_id is not None and not str(assignment_id).strip().isdigit():
        raise ExportError(f"--assignment-id {assignment_id!r}: expected Canvas's assignment number "
                          "(the digits after /assignments/ in the assignment's address)")
    if points_possible is not None and (not math.isfinite(points_possible) or points_possible <= 0):
        raise ExportError(f"--points-possible {points_possible}: expected a positive number of points")
    out_csv = Path(out_csv) if out_csv else default_out(graded_dir, layout)
    warnings = []
    people, metadata = None, None
    if roster:
        people, roster_warnings = read_roster(roster)
        warnings += roster_warnings
    if submissions_dir:
        metadata = read_submission_metadata(submissions_dir)
    graded, skipped = read_graded(graded_dir, rubric, auto_only)
    if not graded:
        why = f"; none of them could be read: {'; '.join(w for _, w in skipped[:3])}" if skipped else ""
        raise ExportError(f"{graded_dir}: no readable <submission>/{RESULTS}{why}; expected the --out folder of "
                          "autograde batch")
    if points_possible is None:
        points_possible, disagreement = points_possible_of(graded)
        warnings += disagreement
    waiting = [g for g in graded if g.ungraded]
    if waiting:
        warnings.append(f"{len(waiting)} submission(s) have questions a person has not graded yet (e.g. {waiting[0].name}: "
                        f"Q{', Q'.join(waiting[0].ungraded[:5])}): their totals leave those points out")
    if per_question and layout != "gradescope":
        warnings.append(f"--per-question is for the gradescope layout; the {layout} layout " +
                        ("has the question columns anyway" if layout == "plain" else "has one column, the total"))
    if assignment_id is not None and layout != "canvas":
        warnings.append(f"--assignment-id is for the canvas layout; the {layout} layout has no assignment column")
    if people:
        absent = sorted(set(people) - {g.name for g in graded} - {s for s, _ in skipped})
        if absent:
            warnings.append(f"{len(absent)} roster submission(s) are not in {graded_dir}: {', '.join(absent[:10])}"
                            f"{' ...' if len(absent) > 10 else ''}")

    rows, unmatched, owners = [], [], {}
    questions = sorted({q for g in graded for q in g.max_scores}, key=question_order)
    for g in graded:
        found, source = identities(g.name, people, metadata)
        for person in found:
            keys = [f for f in MATCHED_BY[layout] if person.get(f)]
            if not keys:
                unmatched.append((g.name, _unmatched_reason(layout, source)))
            else:
                student = f"{keys[0]} {person[keys[0]].lower() if keys[0] == 'email' else person[keys[0]]}"
                owners.setdefault(student, []).append(g.name)
                if layout == "canvas" and keys[0] == "id" and not person["id"].isdigit():
                    warnings.append(f"{g.name}: ID {person['id']!r} (from the {source}) is not a Canvas user id "
                                    "(a number); Canvas will not match it")
            rows.append((g, person))
    duplicates = [(student, names) for student, names in owners.items() if len(names) > 1]

    titles = {}
    for g in graded:
        for q, title in g.titles.items():
            titles.setdefault(q, (title, Counter()))[1][g.max_scores[q]] += 1
    if layout == "canvas":
        column = f"{assignment} ({str(assignment_id).strip()})" if assignment_id is not None else assignment
        table = [[*CANVAS_HEADER, column], [POINTS_POSSIBLE, "", "", "", "", points_possible]]
        table += [[p.get("name") or g.name, p.get("id", ""), p.get("sis_user_id", ""), p.get("sis_login_id", ""),
                   p.get("section", ""), g.total] for g, p in rows]
    elif layout == "gradescope":
        extra = questions if per_question else []
        headers = [f"{q}: {titles[q][0]} ({plain_number(titles[q][1].most_common(1)[0][0])} pts)" for q in extra]
        table = [[*GRADESCOPE_HEADER, *headers]]
        table += [[p.get("name") or g.name, p.get("sid", ""), p.get("email", ""), g.total,
                   *(g.scores.get(q, "") for q in extra)] for g, p in rows]
    else:
        table = [["submission", *IDENTITY_FIELDS, "total", *questions, "grader_errors", "seconds"]]
        table += [[g.name, *(p.get(f, "") for f in IDENTITY_FIELDS), g.total,
                   *(NOT_GRADED if q in g.ungraded else g.scores.get(q, "") for q in questions),
                   g.grader_errors, g.seconds] for g, p in rows]
    try:
        out_csv.parent.mkdir(parents=True, exist_ok=True)
        with open(out_csv, "w", newline="", encoding="utf-8") as f:
            csv.writer(f).writerows([[spreadsheet_safe(cell) for cell in row] for row in table])
    except OSError as exc:
        raise ExportError(f"{out_csv}: cannot be written ({exc})") from None
    return ExportSummary(out_csv, layout, len(rows), points_possible, unmatched, skipped, duplicates, warnings)


def _unmatched_reason(layout, source):
    wanted = {"canvas": "ID, SIS User ID or SIS Login ID", "gradescope": "SID or email",
              "plain": "student id, SIS id, SID or email"}[layout]
    if source == "none":
        return (f"no student known for it (not in the roster, not in {METADATA}, not a Canvas download name); "
                f"written with no {wanted} (give --roster)")
    return f"the {source} gives it no {wanted}; written without"


def export_gradebook(graded_dir, layout, out_csv=None, *, roster=None, assignment="HW5", points_possible=None,
                     submissions_dir=None, assignment_id=None, per_question=False, auto_only=False):
    """write_export, its problems printed to stderr. Returns the CSV's path. Raises ExportError."""
    summary = write_export(graded_dir, layout, out_csv, roster=roster, assignment=assignment,
                           assignment_id=assignment_id, points_possible=points_possible,
                           submissions_dir=submissions_dir, per_question=per_question, auto_only=auto_only)
    for line in report_lines(summary):
        print(line, file=sys.stderr)
    return summary.path


def report_lines(summary):
    """What staff must know about an export, one line each."""
    lines = [f"  skipped {name}: {why}" for name, why in summary.skipped]
    lines += [f"  unmatched {name}: {why}" for name, why in summary.unmatched]
    lines += [f"  one student, several rows ({student}): {', '.join(names)}; keep one before importing"
              for student, names in summary.duplicates]
    lines += [f"  warning: {w}" for w in summary.warnings]
    return lines


# ---- the command --------------------------------------------------------------------------------

def add_export_arguments(parser):
    parser.add_argument("graded_dir", type=Path, help="the --out folder of autograde batch (one <submission>/results.json each)")
    parser.add_argument("--layout", choices=LAYOUTS, default="canvas",
                        help="canvas: Canvas's Gradebook import; gradescope: Gradescope's score upload; plain: the "
                        "gradebook with identity columns (default: canvas)")
    parser.add_argument("--out", type=Path, help="the CSV to write (default: GRADED_DIR/<layout>-import.csv)")
    parser.add_argument("--roster", type=Path, help="a CSV with a 'submission' column (the graded folder's name) and any of "
                        f"{', '.join(IDENTITY_FIELDS)}: who each submission is (overrides the other sources)")
    parser.add_argument("--assignment", default="HW5", help="the assignment's name in Canvas (default: HW5)")
    parser.add_argument("--assignment-id", help="Canvas's assignment id: the column becomes 'NAME (ID)', which Canvas "
                        "matches to the assignment by id")
    parser.add_argument("--points-possible", type=float, help="the assignment's points (default: the results' max "
                        "scores, extra credit left out)")
    parser.add_argument("--per-question", action="store_true", help="gradescope layout: a column per question too")
    parser.add_argument("--submissions", type=Path, help=f"Gradescope's Export Submissions folder (its {METADATA} "
                        "names each submission's students), or that file")
    parser.add_argument("--auto-only", action="store_true", help="the automatic points only (leave out the grades "
                        "people gave in autograde review)")
    parser.add_argument("--rubric", help="the rubric whose items score the review's grades (a file or a bundled "
                        "profile; default: the bundled rubric)")


def export_main(args):
    """`autograde export GRADED_DIR`. Returns 0; 1 when the file was written but some submission has
    no student the LMS can match, several rows are one student's, or a results.json was unreadable;
    2 on bad input (nothing written)."""
    try:
        summary = write_export(args.graded_dir, args.layout, args.out, roster=args.roster, assignment=args.assignment,
                               assignment_id=args.assignment_id, points_possible=args.points_possible,
                               submissions_dir=args.submissions, per_question=args.per_question,
                               rubric=load_rubric(*resolve_rubric(args.rubric)) if args.rubric else None,
                               auto_only=args.auto_only)
    except (ExportError, RubricError) as exc:
        print(f"autograde export: {exc}", file=sys.stderr)
        return 2
    points = f", points possible {plain_number(summary.points_possible)}" if summary.layout == "canvas" else ""
    print(f"wrote {summary.path}: {summary.rows} student row{'s' * (summary.rows != 1)} ({summary.layout} layout{points})")
    for line in report_lines(summary):
        print(line, file=sys.stderr)
    if summary.problems:
        print(f"autograde export: {len(summary.unmatched)} unmatched, {len(summary.skipped)} skipped, "
              f"{len(summary.duplicates)} students with several rows: fix them (--roster) before importing",
              file=sys.stderr)
        return 1
    return 0
