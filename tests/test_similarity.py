"""`autograde similarity`: copied code is found through renaming, reordering, moving functions to
another file and new comments; the starter kit counts for nothing; the report shows student text as
text.

The corpus: six independent solutions of Q2's nn.py (fixtures/similarity/<student>/nn.py, written
in different styles), the reference's nn.py (copied from solution/ at test time), the starter kit
alone, the starter kit with one function filled in, and three planted copies that the test makes
with `disguise` below from three different originals (every local name, parameter, helper and
constant renamed consistently; docstrings and comments removed and new ones written; the top-level
functions put in another order; the code re-laid out by ast.unparse: other quotes, spacing and
parentheses). copy_of_dan is handed in as a .zip, its modules two folders down; copy_of_carol has
half its functions moved to another file (layers.py).

Measured (K=12, WINDOW=8, COMMON=0.5, 12 submissions): the planted pairs score 0.99 (copy_of_dan ~
dan), 0.98 (alice ~ copy_of_alice) and 0.98 (carol ~ copy_of_carol); the best independent pair
scores 0.13 (alice ~ frank): a margin of 0.85. Every pair with the bare starter kit scores 0 (all
its fingerprints are boilerplate); the kit with sigmoid filled in scores at most 0.02 with anyone.
The assertions leave room: planted >= 0.9, independent <= 0.3, margin >= 0.6.
"""
import ast
import json
import random
import re
import shutil
import zipfile

import pytest

from autograde import PROJECT_DIR, REFERENCE_DIR
from autograde.cli import main
from autograde.course.similarity import (
    DEFAULT_THRESHOLD,
    Pair,
    find_similar,
)
from autograde.starter import write_starter
from spec_tests.contract import CONTRACT

FIXTURES = PROJECT_DIR / "fixtures" / "similarity"
INDEPENDENT = ("alice", "bob", "carol", "dan", "erin", "frank")
PLANTED = {("alice", "copy_of_alice"), ("copy_of_dan", "dan"), ("carol", "copy_of_carol")}
HOSTILE = "</pre></script><script>alert('pwned')</script><img src=x onerror=alert(1)>"


# ---------------------------------------------------------------- the disguiser

CONTRACT_NAMES = {name for functions in CONTRACT.values() for name in functions}
NEW_COMMENTS = ("# compute this part", "# TODO tidy up", "# helper", "# this took me a while",
                "# see lecture 19", "# vectorised version", "# shapes checked by hand")


class _Renamer(ast.NodeTransformer):
    def __init__(self, mapping):
        self.mapping = mapping

    def visit_Name(self, node):
        node.id = self.mapping.get(node.id, node.id)
        return node

    def visit_arg(self, node):
        node.arg = self.mapping.get(node.arg, node.arg)
        return node

    def visit_FunctionDef(self, node):
        node.name = self.mapping.get(node.name, node.name)
        self.generic_visit(node)
        return node

    def visit_Call(self, node):
        self.generic_visit(node)
        if isinstance(node.func, ast.Name) and node.func.id in self.mapping.values():
            for keyword_ in node.keywords:      # a keyword argument of a renamed local function
                keyword_.arg = self.mapping.get(keyword_.arg, keyword_.arg)
        return node


def disguise(source, seed):
    """What a student hiding a copy does: every name the module defines (locals, parameters,
    helper functions, constants) renamed consistently, the contract's names and imports kept;
    docstrings and comments dropped and new ones written; top-level functions reordered (a function
    still after those its default arguments name); the layout rewritten (ast.unparse)."""
    rng = random.Random(seed)
    tree = ast.parse(source)
    imported = {alias.asname or alias.name.split(".")[0] for node in ast.walk(tree)
                if isinstance(node, (ast.Import, ast.ImportFrom)) for alias in node.names}
    defined = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            defined.add(node.id)
        elif isinstance(node, ast.arg):
            defined.add(node.arg)
        elif isinstance(node, ast.FunctionDef):
            defined.add(node.name)
    defined -= imported | CONTRACT_NAMES | {"_"}
    stems = ["val", "tmp", "arr", "mat", "res", "thing", "q", "z", "item", "data", "part", "num"]
    mapping = {name: f"{rng.choice(stems)}_{i}" for i, name in enumerate(sorted(defined))}
    tree = _Renamer(mapping).visit(tree)
    for node in ast.walk(tree):     # docstrings out; some functions get a new one
        if isinstance(node, (ast.FunctionDef, ast.Module)) and node.body and isinstance(node.body[0], ast.Expr) \
                and isinstance(node.body[0].value, ast.Constant) and isinstance(node.body[0].value.value, str):
            node.body.pop(0)
        if isinstance(node, ast.FunctionDef) and rng.random() < 0.5:
            node.body.insert(0, ast.Expr(ast.Constant(f"My implementation of {node.name}.")))
    head = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    others = [n for n in tree.body if not isinstance(n, (ast.Import, ast.ImportFrom, ast.FunctionDef))]
    functions = [n for n in tree.body if isinstance(n, ast.FunctionDef)]
    names = {f.name for f in functions}
    needs = {f.name: {n.id for d in f.args.defaults + f.args.kw_defaults if d for n in ast.walk(d)
                      if isinstance(n, ast.Name) and n.id in names} for f in functions}
    placed, order = set(), []
    while functions:        # a random order in which each function follows the ones its defaults name
        ready = [f for f in functions if needs[f.name] <= placed]
        chosen = rng.choice(ready)
        functions.remove(chosen)
        order.append(chosen)
        placed.add(chosen.name)
    blocks = [ast.unparse(n) for n in head] + [ast.unparse(n) for n in others]
    for function in order:
        text = ast.unparse(function)
        lines = text.splitlines()
        for index in sorted(rng.sample(range(1, len(lines)), min(2, len(lines) - 1)), reverse=True):
            indent = re.match(r"\s*", lines[index]).group()
            lines.insert(index, indent + rng.choice(NEW_COMMENTS))
        blocks.append(rng.choice(NEW_COMMENTS) + "\n" + "\n".join(lines))
    disguised = "# HW5 Q2\n" + "\n\n\n".join(blocks) + "\n"
    ast.parse(disguised)    # still Python
    return disguised


# ---------------------------------------------------------------- the corpus

@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("similarity") / "submissions"
    for student in INDEPENDENT:
        shutil.copytree(FIXTURES / student, root / student)
    (root / "reference").mkdir()
    shutil.copyfile(REFERENCE_DIR / "nn.py", root / "reference" / "nn.py")
    write_starter(root / "kit_only")
    write_starter(root / "kit_plus_sigmoid")
    nn = root / "kit_plus_sigmoid" / "nn.py"
    nn.write_text(nn.read_text(encoding="utf-8").replace('raise NotImplementedError("nn.sigmoid")',
                                                          "return 1 / (1 + np.exp(-x))"), encoding="utf-8")
    copy = root / "copy_of_alice"
    copy.mkdir()
    (copy / "nn.py").write_text(disguise((FIXTURES / "alice" / "nn.py").read_text(encoding="utf-8"), 1), encoding="utf-8")
    # a hostile comment in a copied file: the report must show it as text
    (copy / "nn.py").write_text((copy / "nn.py").read_text(encoding="utf-8").replace("# HW5 Q2", f"# HW5 Q2 {HOSTILE}"),
                                encoding="utf-8")
    text = disguise((FIXTURES / "dan" / "nn.py").read_text(encoding="utf-8"), 2)
    with zipfile.ZipFile(root / "copy_of_dan.zip", "w") as archive:
        archive.writestr("hw5/python/nn.py", text)
        archive.writestr("hw5/writeup.txt", "see the pdf")
    # functions moved across files: half of them go to layers.py, which nn.py imports
    copy = root / "copy_of_carol"
    copy.mkdir()
    tree = ast.parse(disguise((FIXTURES / "carol" / "nn.py").read_text(encoding="utf-8"), 3))
    functions = [node for node in tree.body if isinstance(node, ast.FunctionDef)]
    moved = functions[::2]
    kept = [node for node in tree.body if node not in moved]
    (copy / "layers.py").write_text("import numpy as np\n\n\n" + "\n\n\n".join(ast.unparse(f) for f in moved) + "\n",
                                    encoding="utf-8")
    (copy / "nn.py").write_text(f"from layers import {', '.join(f.name for f in moved)}\n"
                                + "\n\n".join(ast.unparse(node) for node in kept) + "\n", encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def everything(corpus):
    notices = []
    return find_similar(corpus, threshold=0, notices=notices), notices


def _score(pairs, a, b):
    a, b = sorted((a, b))
    return next(p.score for p in pairs if (p.a, p.b) == (a, b))


def test_planted_copies_rank_first_with_a_clear_margin(everything):
    pairs, _ = everything
    assert all(isinstance(p, Pair) for p in pairs)
    assert {(p.a, p.b) for p in pairs[:3]} == PLANTED
    worst_planted, best_other = pairs[2].score, pairs[3].score
    assert worst_planted >= 0.9 and best_other <= 0.3 and worst_planted - best_other >= 0.6
    assert best_other < DEFAULT_THRESHOLD <= worst_planted     # the default lists the copies only
    for pair in pairs[:3]:
        assert pair.regions >= 5       # functions reordered: a region each, not one for the file
        assert pair.a_matched_tokens >= 0.9 * pair.a_tokens and pair.b_matched_tokens >= 0.9 * pair.b_tokens


def test_functions_moved_to_another_file_still_match(everything):
    pairs, _ = everything
    carol = next(p for p in pairs if (p.a, p.b) == ("carol", "copy_of_carol"))
    assert {(f.a_file, f.b_file) for f in carol.files} == {("nn.py", "nn.py"), ("nn.py", "layers.py")}
    assert all(f.a_tokens > 50 for f in carol.files)


def test_the_zip_submission_is_read_one_folder_down(everything):
    pairs, notices = everything
    dan = next(p for p in pairs if (p.a, p.b) == ("copy_of_dan", "dan"))
    assert dan.files[0].a_file == "nn.py"       # hw5/python/ is the module folder: paths are relative to it
    assert any(name == "copy_of_dan" and "python/" in message for name, message in notices)


def test_the_starter_kit_counts_for_nothing(everything):
    pairs, _ = everything
    everyone = [*INDEPENDENT, "reference", "copy_of_alice", "copy_of_dan", "copy_of_carol"]
    assert all(_score(pairs, "kit_only", other) == 0 for other in [*everyone, "kit_plus_sigmoid"])
    assert max(_score(pairs, "kit_plus_sigmoid", other) for other in everyone) <= 0.1


def test_json_lists_pairs_most_similar_first(corpus, tmp_path, capsys):
    out = tmp_path / "pairs.json"
    assert main(["similarity", str(corpus), "--json", str(out)]) == 0
    listed = json.loads(out.read_text(encoding="utf-8"))
    assert {(p["a"], p["b"]) for p in listed} == PLANTED and len(listed) == 3
    scores = [p["score"] for p in listed]
    assert scores == sorted(scores, reverse=True) and all(0 <= s <= 1 for s in scores)
    first = listed[0]
    assert {"a", "b", "score", "regions", "files", "matches", "a_share", "b_share"} <= first.keys()
    assert first["files"][0]["a_tokens"] > 0 and first["regions"] == len(first["matches"])
    printed = capsys.readouterr().out
    assert "copy_of" in printed and "compared 12 submissions" in printed and "3 pairs scored 0.3 or more" in printed

    everything_out = tmp_path / "all.json"
    assert main(["similarity", str(corpus), "--json", str(everything_out), "--threshold", "0"]) == 0
    scores = [p["score"] for p in json.loads(everything_out.read_text(encoding="utf-8"))]
    assert len(scores) == 12 * 11 // 2 and scores == sorted(scores, reverse=True)


def test_the_report_shows_student_text_as_text(corpus, tmp_path):
    report = tmp_path / "report.html"
    assert main(["similarity", str(corpus), "--report", str(report), "--top", "3", "--threshold", "0"]) == 0
    page = report.read_text(encoding="utf-8")
    assert HOSTILE not in page and "<script" not in page.lower() and "onerror=alert(1)>" not in page
    assert html_escaped(HOSTILE) in page
    assert "http://" not in page and "https://" not in page and "<link" not in page     # self-contained
    assert page.count("<h2 id='pair-") == 3 and "copy_of_alice" in page and "<mark" in page


def test_hostile_submission_names_are_shown_as_text(tmp_path, capsys):
    root = tmp_path / "subs"
    hostile = "<i>[red]x"       # HTML and rich markup in a folder's name
    shutil.copytree(FIXTURES / "bob", root / hostile)
    shutil.copytree(FIXTURES / "bob", root / "bob")
    report = tmp_path / "report.html"
    assert main(["similarity", str(root), "--report", str(report), "-j", "1"]) == 0
    page = report.read_text(encoding="utf-8")
    assert "<i>" not in page and html_escaped(hostile) in page
    assert hostile in capsys.readouterr().out


def html_escaped(text):
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;").replace("'", "&#x27;")


def test_reading_in_several_processes_gives_the_same_pairs(corpus, everything):
    pairs, _ = everything
    again = find_similar(corpus, threshold=0, jobs=2)
    assert [(p.a, p.b, p.score, p.regions) for p in again] == [(p.a, p.b, p.score, p.regions) for p in pairs]


def test_bad_input_is_refused_with_a_message(tmp_path, capsys):
    missing = tmp_path / "nowhere"
    assert main(["similarity", str(missing)]) == 2
    assert f"{missing}: not a folder" in capsys.readouterr().err
    lonely = tmp_path / "lonely"
    shutil.copytree(FIXTURES / "alice", lonely / "alice")
    assert main(["similarity", str(lonely)]) == 2
    err = capsys.readouterr().err
    assert str(lonely) in err and "at least 2" in err
    with pytest.raises(NotADirectoryError):
        find_similar(missing)


def test_unreadable_files_are_skipped_with_a_notice(tmp_path):
    root = tmp_path / "subs"
    shutil.copytree(FIXTURES / "bob", root / "bob")
    shutil.copytree(FIXTURES / "bob", root / "bob_again")
    (root / "bob_again" / "latin1.py").write_bytes("# caf\xe9\nx = 1\n".encode("latin-1"))
    (root / "bob_again" / "huge.py").write_text("x = 1\n" * 200_000, encoding="utf-8")
    (root / "bob_again" / "broken.py").write_text("def f(:\n  return )\n\tx = '''never closed\n", encoding="utf-8")
    (root / "bob_again" / "linked.py").symlink_to(root / "bob" / "nn.py")
    (root / "bob_again" / "._nn.py").write_bytes(b"\x00\x05\x16\x07 macOS metadata")   # skipped without a word
    (root / "not_a_zip.zip").write_bytes(b"PK\x03\x04 this is no zip")
    notices = []
    pairs = find_similar(root, notices=notices)
    said = "\n".join(f"{name}: {message}" for name, message in notices)
    assert "latin1.py: not UTF-8" in said and "huge.py" in said and "broken.py" in said and "linked.py: a link" in said
    assert "not_a_zip: left out" in said and "._nn.py" not in said
    assert [(p.a, p.b) for p in pairs] == [("bob", "bob_again")] and pairs[0].score == 1
