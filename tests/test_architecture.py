"""The package boundaries, read from the import statements of every module (function-level imports
included): the sandbox knows nothing of the homework, the spec tests nothing of the grader that
runs them, and no two modules import each other, directly or in a circle."""
import ast

import pytest

from autograde import PROJECT_DIR

PACKAGES = ("sandbox", "spec_tests", "autograde", "hw5data")


def _module_name(path):
    parts = path.relative_to(PROJECT_DIR).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports():
    """{module: {first-party modules it imports}} for every module of PACKAGES (spec files included),
    imports of hw5_solution included."""
    graph = {}
    modules = {_module_name(p): p for package in PACKAGES for p in (PROJECT_DIR / package).rglob("*.py")}
    for name, path in modules.items():
        found = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module)
                found |= {f"{node.module}.{alias.name}" for alias in node.names}
        # hw5_solution (the bundled reference) is kept too, so that a package that must not see it can be checked.
        graph[name] = {m for m in found if (m in modules or m.split(".")[0] == "hw5_solution") and m != name}
    return graph


GRAPH = _imports()


@pytest.mark.parametrize("package, forbidden", [("sandbox", ("spec_tests", "autograde", "hw5data", "hw5_solution")),
                                                ("spec_tests", ("autograde",)), ("hw5data", ("spec_tests", "autograde", "sandbox"))])
def test_a_package_imports_nothing_of_those_built_on_it(package, forbidden):
    crossing = {(m, i) for m, imported in GRAPH.items() if m.split(".")[0] == package
                for i in imported if i.split(".")[0] in forbidden}
    assert crossing == set()


def test_no_module_imports_itself_through_others():
    """Depth-first search for a cycle in the module graph (a package's __init__ importing its own
    submodules is a package exposing its parts, not a circle: those edges are left out)."""
    graph = {m: {i for i in imported if not i.startswith(f"{m}.")} for m, imported in GRAPH.items()}
    state, cycles = {}, []

    def visit(module, path):
        state[module] = "open"
        for other in sorted(graph.get(module, ())):
            if state.get(other) == "open":
                cycles.append(path[path.index(other):] + [other])
            elif other not in state:
                visit(other, path + [other])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert cycles == []


def test_the_checker_sees_the_imports_it_judges():
    """The graph is read right: a few edges that must be there."""
    assert "sandbox.channel" in GRAPH["sandbox.worker"] and "spec_tests.protocol" in GRAPH["autograde.child"]
    assert "autograde.reports.common" in GRAPH["autograde.reports.html"]


def _reaches_into_privates(path):
    """(line, what) for each private name (one leading underscore) of a first-party module that the
    file imports or reads as module._name, and each test module it imports."""
    first_party = set(PACKAGES) | {"tests", "hw5_solution", "benchmarks"}
    found, modules = [], set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in first_party:
                    modules.add(alias.asname or alias.name.split(".")[0])
                if alias.name.startswith("tests.test_"):
                    found.append((node.lineno, alias.name))
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in first_party:
            for alias in node.names:
                if alias.name.startswith("_") and not alias.name.startswith("__"):
                    found.append((node.lineno, f"{node.module}.{alias.name}"))
                modules.add(alias.asname or alias.name)
            if node.module.startswith("tests.test_") or any(a.name.startswith("test_") for a in node.names):
                found.append((node.lineno, node.module))
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in modules \
                and node.attr.startswith("_") and not node.attr.startswith("__"):
            found.append((node.lineno, f"{node.value.id}.{node.attr}"))
    return found


def test_tests_use_public_names_and_import_no_other_test_module():
    """What tests share lives in tests/support; what they call of the product is its public API."""
    files = [*(PROJECT_DIR / "tests").rglob("*.py"), *(PROJECT_DIR / "benchmarks").rglob("*.py")]
    crossing = {f"{p.relative_to(PROJECT_DIR)}:{line}: {what}" for p in files for line, what in _reaches_into_privates(p)}
    assert crossing == set()


REVIEW_MODULES = ("autograde.course.review", "autograde.course.review_app", "autograde.course.review_data",
                  "autograde.course.review_store", "autograde.course.review_sheet", "autograde.course.writeup")
RUNS_SUBMISSIONS = ("sandbox", "autograde.grading", "autograde.child", "spec_tests")


def _reached(module):
    """Every first-party module that module imports, directly or through others."""
    seen, todo = set(), [module]
    while todo:
        for other in GRAPH.get(todo.pop(), ()):
            if other not in seen:
                seen.add(other)
                todo.append(other)
    return seen


@pytest.mark.parametrize("module", REVIEW_MODULES)
def test_the_review_app_never_reaches_the_code_that_runs_submissions(module):
    """The review app serves people over stored gradings: nothing it imports can run a submission."""
    assert module in GRAPH, f"{module} is not where the review app's modules are expected"
    assert {m for m in _reached(module) if m.startswith(RUNS_SUBMISSIONS)} == set()
