"""The starter kit's text (`autograde starter`, autograde/starter.py with autograde/starter_kit.toml):
it says what the handout asks and what the contract takes and returns, never the reference's
method. Fast: the kit is written and imported, not graded (tests/test_cli.py grades it)."""
import ast
import json
import re
import subprocess
import sys

import pytest

from autograde import REFERENCE_DIR, starter
from spec_tests.contract import CONTRACT

WRITTEN = [name for name in CONTRACT if name not in starter.GIVEN]   # util.py is the handout's, copied whole
QUESTION = re.compile(r"Q\d+(\.\d+)+\b")
# The reference's tuning of findLetters and of reading the page: its numbers are part of its
# answers. (SIDE, 32, is the data's layout, which the handout states.)
TUNED = {"q4": ("WORK_SIDE", "SHADING_SIGMA", "MIN_DARKNESS", "FIND_SIDE", "PAPER_CONTRAST", "PAPER_FIT", "PAPER_INSET"),
         "run_q4": ("GLYPH_HEIGHT", "GLYPH_WIDTH", "STROKE", "SPACE_HEIGHTS", "SPACE_GAPS")}


@pytest.fixture(scope="module")
def kit(tmp_path_factory):
    folder = tmp_path_factory.mktemp("kit")
    starter.write_starter(folder)
    return folder


@pytest.fixture(scope="module")
def imported(kit):
    """{module: {'__doc__': its docstring, function: its docstring}} as Python itself reads them,
    from every kit module imported in a fresh interpreter inside the kit's folder."""
    script = ("import importlib, inspect, json, sys\n"
              f"contract = {dict(CONTRACT)!r}\n"
              "docs = {}\n"
              "for name, functions in contract.items():\n"
              "    module = importlib.import_module(name)\n"
              "    docs[name] = {'__doc__': module.__doc__, **{f: inspect.getdoc(getattr(module, f)) for f in functions}}\n"
              "print(json.dumps(docs))\n")
    proc = subprocess.run([sys.executable, "-c", script], cwd=kit, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def _module_names(tree):
    """Names a module's top level binds: assignments (tuples too), imports, defs and classes."""
    names = set()
    for node in tree.body:
        if isinstance(node, ast.Assign):
            names.update(n.id for target in node.targets for n in ast.walk(target) if isinstance(n, ast.Name))
        elif isinstance(node, ast.ImportFrom | ast.Import):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
        elif isinstance(node, ast.FunctionDef | ast.ClassDef):
            names.add(node.name)
    return names


def _reference_constants():
    """{NAME: value node or None} for every module-level UPPERCASE name of solution/*.py."""
    constants = {}
    for path in sorted(REFERENCE_DIR.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:
            if isinstance(node, ast.Assign) and len(node.targets) == 1:
                target, value = node.targets[0], node.value
                pairs = zip(target.elts, value.elts, strict=True) if isinstance(target, ast.Tuple) \
                    and isinstance(value, ast.Tuple) else [(target, value)]
                constants.update({t.id: v for t, v in pairs
                                  if isinstance(t, ast.Name) and re.fullmatch(r"[A-Z][A-Z0-9_]*", t.id)})
    return constants


def test_every_kit_module_imports_and_every_function_names_its_handout_question(imported):
    """Each written module imports (signature defaults included) and has a module docstring that
    names its questions; each contract function's docstring opens with its handout question and
    says what it returns."""
    for module in WRITTEN:
        docs = imported[module]
        assert QUESTION.search(docs["__doc__"].split("HW5 starter kit")[0]), module
        for function in CONTRACT[module]:
            doc = docs[function]
            assert doc and QUESTION.match(doc), f"{module}.{function}: {doc!r}"
            assert "Returns" in doc or "Writes" in doc, f"{module}.{function} does not say what it returns"


def test_the_kit_names_nothing_of_the_reference_it_does_not_define(kit):
    """No module of the kit mentions a module-level constant of the reference (GLYPH_HEIGHT,
    CLASS_NAMES, ...) that the module does not itself define, and none repeats the reference's
    tuning numbers of findLetters and of reading the page."""
    constants = _reference_constants()
    assert {"GLYPH_HEIGHT", "CLASS_NAMES", "BEST_LEARNING_RATE", "EPOCHS"} <= constants.keys()   # the scan sees them
    for module in WRITTEN:
        text = (kit / f"{module}.py").read_text(encoding="utf-8")
        foreign = sorted(set(constants) - _module_names(ast.parse(text)))
        named = [name for name in foreign if re.search(rf"\b{name}\b", text)]
        assert not named, f"{module}.py names {named}, which the kit does not define"
        for name in TUNED.get(module, ()):
            try:
                value = ast.literal_eval(constants[name])
            except ValueError:
                continue   # not a literal (1 / 40): no number to look for
            assert not re.search(rf"(?<![\w.]){re.escape(repr(value))}(?![\w.])", text), \
                f"{module}.py repeats the reference's {name} = {value!r}"


def test_the_docstrings_come_from_the_kit_file_not_the_reference(imported):
    """Every docstring of the kit is the text of starter_kit.toml, none is the reference's own."""
    for module in WRITTEN:
        text = starter.kit_text(module)
        assert set(text) == {"module", *CONTRACT[module]}, module
        assert imported[module]["__doc__"].startswith(text["module"] + "\n\nHW5 starter kit"), module
        tree = ast.parse((REFERENCE_DIR / f"{module}.py").read_text(encoding="utf-8"))
        reference = {node.name: ast.get_docstring(node) for node in tree.body if isinstance(node, ast.FunctionDef)}
        for function in CONTRACT[module]:
            assert imported[module][function] == text[function], f"{module}.{function}"
            assert imported[module][function] != reference.get(function), f"{module}.{function} is the reference's"


def test_a_default_that_names_a_reference_constant_is_written_out_or_refused():
    """A literal reference constant in a default becomes its value; a setting or function the kit
    defines stays a name; anything else the kit would lack stops the generator."""
    function = ast.parse("def f(a=GIVEN_SIDE, b=SETTING, c=helper, d=BEST_LEARNING_RATE): pass").body[0]
    constants = {"GIVEN_SIDE": ast.Constant(32)}
    written = [ast.unparse(starter.stub_default("m", function, d, constants, {"SETTING", "helper"}))
               for d in function.args.defaults]
    assert written == ["32", "SETTING", "helper", "None"]
    tuned = ast.parse("def f(a=TUNED_TABLE): pass").body[0]
    with pytest.raises(ValueError, match="TUNED_TABLE"):
        starter.stub_default("m", tuned, tuned.args.defaults[0], {"TUNED_TABLE": ast.parse("dict(a=1)").body[0].value}, set())
