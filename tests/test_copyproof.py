"""No graded function can be answered by pasting code the book shows.

Two checks over every exercise (``solutions/``) against every code block of the book (``book/``:
code cells, the package source chapters render with ``show_source``, fenced Markdown):

1. **similarity** — each solution function's normalised tokens
   (:mod:`llmcourse.grading.similarity`) must not be contained in any one book block at or above
   the threshold;
2. **pasting** — the book's own version of each graded function, pasted into a correct notebook
   as the learner's answer (renamed to the graded name, with the other functions of its block),
   must lose points on that function's tests. The book's version is every function the book shows
   under the same name, plus the counterparts listed in ``tests/mutants/<assignment>.py`` as
   ``BOOK_COUNTERPARTS = {"graded name": ["book function name", ...]}``.
"""

from __future__ import annotations

import ast
import runpy
import textwrap
from pathlib import Path

import nbformat
import pytest

from llmcourse.grading.exercise import Course, assignments_of
from llmcourse.grading.notebook import fill_solutions
from llmcourse.grading.runner import Options, grade_notebook
from llmcourse.grading.similarity import THRESHOLD, book_blocks, closest_blocks, solution_functions

ROOT = Path(__file__).resolve().parents[1]
ASSIGNMENTS = sorted(assignments_of(ROOT))
# What a learner pasting the book's code would add so that it runs (annotations are not evaluated).
PRELUDE = ("from __future__ import annotations\nimport math\nimport torch\nimport torch.nn.functional as F\n"
           "from torch import Tensor, nn\nfrom typing import *\nfrom collections.abc import *\n"
           # the package's one-line argument checks, which the book's listings call
           "from llmcourse._checks import *\n")


def test_no_solution_is_contained_in_a_book_block():
    rows = closest_blocks(ROOT)
    assert len(rows) >= 30
    close = [f"{r.assignment}.{r.function}: {r.score:.2f} of its 4-grams are in {r.where}" for r in rows
             if r.score >= THRESHOLD]
    assert not close, "solutions too close to code the book shows:\n" + "\n".join(close)


def _book_functions() -> list[tuple[str, str, str]]:
    """(where, function name, code) for every function the book shows; the code is what a learner
    would copy from that block: its imports and its function and class definitions."""
    found = []
    for where, code in book_blocks(ROOT / "book"):
        try:
            tree = ast.parse(textwrap.dedent(code))
        except SyntaxError:
            continue
        kept = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.ClassDef))]
        copied = ast.unparse(ast.Module(body=kept, type_ignores=[]))
        for node in kept:
            if isinstance(node, ast.FunctionDef) and not (node.args.args and node.args.args[0].arg == "self"):
                found.append((where, node.name, copied))
    return found


def _pastes() -> list[tuple[str, str, str, str]]:
    shown = _book_functions()
    cases = []
    for assignment in ASSIGNMENTS:
        spec_path = ROOT / "tests" / "mutants" / f"{assignment}.py"
        counterparts = runpy.run_path(str(spec_path)).get("BOOK_COUNTERPARTS", {}) if spec_path.exists() else {}
        notebook = ROOT / "solutions" / assignment / f"{assignment}.ipynb"
        for function, _ in solution_functions(notebook):
            names = {function, *counterparts.get(function, [])}
            seen = set()
            for where, name, code in shown:
                if name in names and code not in seen:
                    seen.add(code)
                    cases.append((assignment, function, f"{name} from {where}", _rename(code, name, function)))
    return cases


def _rename(code: str, old: str, new: str) -> str:
    tree = ast.parse(code)
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name == old:
            node.name = new
        elif isinstance(node, ast.Name) and node.id == old:
            node.id = new
    return PRELUDE + ast.unparse(tree)


PASTES = _pastes()


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Course:
    return Course(ROOT, tmp_path_factory.mktemp("copyproof"))


def test_the_book_shows_versions_of_graded_functions():
    """The paste test is not vacuous: the book shows its own version of many graded ideas."""
    assert len(PASTES) >= 10, PASTES


@pytest.mark.parametrize(("assignment", "function", "origin", "code"), PASTES,
                         ids=[f"{a}-{f}-{o.split(' from ')[0]}-{i}" for i, (a, f, o, _) in enumerate(PASTES)])
def test_pasting_the_books_version_loses_points(course, assignment, function, origin, code, tmp_path, zygote):
    exercise = course.prepare(assignment)
    release = nbformat.read(course.release_path(assignment), as_version=4)
    source = nbformat.read(course.source_path(assignment), as_version=4)
    nb = fill_solutions(release, source)
    nb.cells.append(nbformat.v4.new_code_cell(code))   # a later definition wins, as in the kernel
    path = tmp_path / f"{assignment}.ipynb"
    nbformat.write(nb, path)
    result = grade_notebook(exercise, path, options=Options(course_root=ROOT), zygote=zygote)
    pasted = result.cells[-1]
    assert pasted.source == code and pasted.status == "ok", (
        f"the pasted {origin} did not run, so the test proves nothing: {pasted.status} {pasted.error}")
    tests = exercise.tests_of(function) or [t.grade_id for t in exercise.tests if function in t.grade_id]
    earned = sum(t.score for t in result.tests if t.grade_id in tests)
    possible = sum(t.points for t in result.tests if t.grade_id in tests)
    assert possible > 0, f"no test cell grades {function}"
    assert earned < possible, (f"{assignment}: pasting the book's {origin} as `{function}` earns all {possible:g} "
                               f"points of {tests}")
