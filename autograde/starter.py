"""`autograde starter OUT_DIR`: the student starter kit, generated from the contract.

Every module of the contract (spec_tests/contract.py's CONTRACT) with every contract function: the
reference's signature and a body that raises NotImplementedError. The docstrings, of each module
and each function, come from autograde/starter_kit.toml, written from the handout and
docs/contract.md (the handout question, what the handout asks, what the function takes and
returns), never from the reference, so the kit does not give away the reference's method. util.py
is given by the handout and copied whole. Nothing of the reference's code is copied: the handout's
settings (SETTINGS) are written in, a default the student must choose (the best learning rate) is
left as None, and any other reference constant a default names is written out as its value (one
that is not a literal stops the generator), so the kit names nothing it does not define.
"""
import ast
import builtins
import functools
import shutil
import textwrap
import tomllib
from pathlib import Path

from autograde import REFERENCE_DIR
from spec_tests.contract import CONTRACT

KIT_TEXT = Path(__file__).with_name("starter_kit.toml")   # the kit's docstrings
GIVEN = ("util",)   # the handout hands these out complete
YOUR_CHOICE = {"BEST_LEARNING_RATE"}   # constants whose value is part of the answer
# The handout's settings (its starter's defaults and layer names), written into the kit; the
# reference's other constants (findLetters' tuning, for one) are part of the answers.
SETTINGS = {"run_q3": ("HIDDEN", "CLASSES", "SIDE"), "run_q6": ("COMPONENTS",),
            "run_q5": ("EPOCHS", "BATCH_SIZE", "LEARNING_RATE", "HIDDEN_SIZE", "DECAY_EVERY", "DECAY", "MOMENTUM", "LAYERS", "SIDE")}


def write_starter(out_dir):
    """Write the starter kit's modules into out_dir (created; existing files are not overwritten).

    Returns: the list of paths written. Raises FileExistsError naming a module already there.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    clashes = [out_dir / f"{name}.py" for name in CONTRACT if (out_dir / f"{name}.py").exists()]
    if clashes:
        raise FileExistsError(f"{clashes[0]} exists already; the starter kit never overwrites a student's file")
    written = []
    for name in CONTRACT:
        path = out_dir / f"{name}.py"
        if name in GIVEN:
            shutil.copyfile(REFERENCE_DIR / path.name, path)
        else:
            path.write_text(starter_module(name), encoding="utf-8")
        written.append(path)
    return written


def starter_module(name):
    """The starter text of contract module `name`: its docstring (starter_kit.toml), imports of
    other contract functions as the reference has them, the handout's settings, then each contract
    function raising NotImplementedError."""
    tree = ast.parse((REFERENCE_DIR / f"{name}.py").read_text(encoding="utf-8"))
    text = kit_text(name)
    parts = [f'"""{text["module"]}\n\nHW5 starter kit ({name}.py): write each function below. Its docstring names the\n'
             'handout question, what the handout asks, and what the function takes and returns\n'
             '(docs/contract.md). Keep the names and signatures: the grader calls them. Importing this\n'
             'module must not run anything."""\n'
             "import numpy as np  # noqa: F401\n"]
    defined = set(dir(builtins)) | {"np"}
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module in CONTRACT:
            wanted = [alias.name for alias in node.names if alias.name in CONTRACT[node.module]]
            if wanted:
                parts.append(f"from {node.module} import {', '.join(wanted)}  # noqa: F401\n")
                defined.update(wanted)
    constants = _constants(tree)
    settings = SETTINGS.get(name, ())
    if settings:
        parts.append("\n" + "".join(f"{key} = {ast.unparse(constants[key])}\n" for key in settings))
        defined.update(settings)
    for function in _contract_functions(name, tree):
        parts.append("\n\n" + _stub(name, function, constants, defined, text[function.name]))
        defined.add(function.name)
    return "".join(parts)


@functools.cache
def _kit_texts():
    texts = tomllib.loads(KIT_TEXT.read_text(encoding="utf-8"))
    for module, table in texts.items():
        expected = set(CONTRACT.get(module, ())) | {"module"}
        if module in GIVEN or module not in CONTRACT or set(table) != expected:
            raise ValueError(f"{KIT_TEXT.name} [{module}]: expected the keys {sorted(expected)}, found {sorted(table)}")
        for key, doc in table.items():
            if "\\" in doc or '"""' in doc:
                raise ValueError(f"{KIT_TEXT.name} {module}.{key}: a docstring may hold no backslash or \"\"\"")
    return texts


def kit_text(name):
    """{'module': the module's docstring paragraph, function: its docstring} of contract module
    `name`, from starter_kit.toml (stripped of the blank lines around them)."""
    texts = _kit_texts()
    if name not in texts:
        raise KeyError(f"{KIT_TEXT.name} has no [{name}] table: every contract module the kit writes needs one")
    return {key: doc.strip() for key, doc in texts[name].items()}


def _contract_functions(name, tree):
    """The contract functions of module `name` as the reference defines them, in its order; one the
    reference imports from a helper module (Q7's plot_history, from q7_train) is taken from there."""
    found = {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name in CONTRACT[name]}
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module not in CONTRACT and (REFERENCE_DIR / f"{node.module}.py").is_file():
            helper = ast.parse((REFERENCE_DIR / f"{node.module}.py").read_text(encoding="utf-8"))
            found.update({f.name: f for f in helper.body if isinstance(f, ast.FunctionDef)
                          and f.name in CONTRACT[name] and f.name not in found})
    return [found[function] for function in CONTRACT[name] if function in found]


def _constants(tree):
    """{name: value node} for the module's top-level NAME = literal (and A, B = 1, 2) assignments."""
    found = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
            pairs = zip(target.elts, value.elts, strict=False) if isinstance(target, ast.Tuple) and isinstance(value, ast.Tuple) \
                else [(target, value)]
            found.update({t.id: v for t, v in pairs if isinstance(t, ast.Name)})
    return found


def _stub(module, function, constants, defined, doc):
    """def line with the reference's signature (reference constants written out as their values),
    the docstring `doc`, and a NotImplementedError naming the function."""
    args = function.args
    args.defaults = [stub_default(module, function, d, constants, defined) for d in args.defaults]
    args.kw_defaults = [None if d is None else stub_default(module, function, d, constants, defined)
                        for d in args.kw_defaults]
    body = f'"""{doc}\n"""\n' if "\n" in doc else f'"""{doc}"""\n'
    body += f'raise NotImplementedError("{module}.{function.name}")\n'
    return f"def {function.name}({ast.unparse(args)}):\n" + textwrap.indent(body, "    ")


def stub_default(module, function, node, constants, defined):
    """A default as the kit writes it: YOUR_CHOICE as None, a name the kit defines (a setting, a
    function defined above, an import) as it is, a reference constant that is a literal as its
    value. Anything else would name something the kit lacks: ValueError."""
    if isinstance(node, ast.Name) and node.id in YOUR_CHOICE:
        return ast.Constant(None)
    if isinstance(node, ast.Name) and node.id not in defined and node.id in constants:
        try:
            ast.literal_eval(constants[node.id])
            return constants[node.id]
        except ValueError:
            pass
    missing = sorted({n.id for n in ast.walk(node) if isinstance(n, ast.Name)} - defined)
    if missing:
        raise ValueError(f"{module}.{function.name}: a default names {', '.join(missing)}, which the starter kit "
                         "does not define; add it to SETTINGS or make the reference's default a literal")
    return node
