"""Every chapter's exercise, checked the same way (no edit needed when a chapter is added).

For each ``solutions/chNN_slug/chNN_slug.ipynb``:

1. drift: the committed student notebook ``notebooks/<a>/<a>.ipynb`` equals a fresh
   ``generate_assignment``, byte for byte;
2. the solution scores full marks, 3. the untouched student notebook scores zero;
4. every mutant in ``tests/mutants/<a>.py`` (``MUTANTS``: name → {solution grade id: wrong
   code}, at least 3) scores less than full marks, and the test cells named in its optional
   ``EXPECTED_ZERO`` score 0;
5. the student notebook holds no solution code and no hidden tests.

Grading goes through :func:`llmcourse.grading.runner.grade_notebook`, as ``make grade`` does: the
notebook's cells in a sandbox, the test cells in this process (one temporary course per session).
The solution and the untouched notebook each get a sandbox of their own, as in ``make grade`` (2 to
8 s each); the mutants are forked from one warm sandbox (the ``zygote`` fixture: the same grading,
without starting Python and importing torch each time).
"""

from __future__ import annotations

import re
import runpy
from pathlib import Path

import nbformat
import pytest

from llmcourse.grading.authoring import nbgrader_metadata
from llmcourse.grading.exercise import Course, assignments_of
from llmcourse.grading.notebook import fill_solutions
from llmcourse.grading.runner import Options, grade_notebook

ROOT = Path(__file__).resolve().parents[1]
ASSIGNMENTS = sorted(assignments_of(ROOT))
MUTANTS_DIR = Path(__file__).parent / "mutants"
MIN_MUTANTS = 3


def _mutants(assignment: str) -> dict:
    path = MUTANTS_DIR / f"{assignment}.py"
    return runpy.run_path(str(path)) if path.exists() else {}


MUTANT_CASES = [(a, name) for a in ASSIGNMENTS for name in _mutants(a).get("MUTANTS", {})]


@pytest.fixture(scope="session")
def course(tmp_path_factory) -> Course:
    return Course(ROOT, tmp_path_factory.mktemp("course"))


@pytest.fixture
def prepared(course):
    """Generate an assignment in the session's course on first use."""

    def prepare(assignment: str) -> Course:
        course.prepare(assignment)
        return course

    return prepare


def _grade(course: Course, assignment: str, nb, tmp_path: Path, zygote=None):
    path = tmp_path / f"{assignment}.ipynb"
    nbformat.write(nb, path)
    return grade_notebook(course.prepare(assignment), path, options=Options(course_root=ROOT), zygote=zygote)


def _source(course: Course, assignment: str):
    return nbformat.read(course.source_path(assignment), as_version=4)


def _release(course: Course, assignment: str):
    return nbformat.read(course.release_path(assignment), as_version=4)


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_student_notebook_is_up_to_date(prepared, assignment):
    course = prepared(assignment)
    committed = ROOT / "notebooks" / assignment / f"{assignment}.ipynb"
    assert committed.exists(), f"{committed.relative_to(ROOT)} is missing: run " \
                               f"`nbgrader generate_assignment {assignment} --force` from the repository root"
    assert committed.read_bytes() == course.release_path(assignment).read_bytes(), (
        f"{committed.relative_to(ROOT)} differs from what solutions/{assignment} generates: run "
        f"`nbgrader generate_assignment {assignment} --force` from the repository root and commit it")


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_solution_scores_full_marks(prepared, assignment, tmp_path):
    course = prepared(assignment)
    result = _grade(course, assignment, fill_solutions(_release(course, assignment), _source(course, assignment)), tmp_path)
    assert result.status == "graded", result.message
    assert result.max_score and result.score == result.max_score, f"the solution lost points: {result.message}"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_untouched_student_notebook_scores_zero(prepared, assignment, tmp_path):
    course = prepared(assignment)
    result = _grade(course, assignment, _release(course, assignment), tmp_path)
    assert result.status == "graded", result.message
    passed = [gid for gid, (score, _) in result.scores.items() if score > 0]
    assert result.score == 0, f"the unanswered notebook scores {result.score}: these tests pass without an answer: {passed}"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_exercise_has_enough_mutants(assignment):
    mutants = _mutants(assignment).get("MUTANTS", {})
    assert len(mutants) >= MIN_MUTANTS, (
        f"tests/mutants/{assignment}.py must define MUTANTS with at least {MIN_MUTANTS} typical wrong "
        f"answers (mutant name → {{solution grade id: wrong code}}); found {len(mutants)}")


@pytest.mark.parametrize(("assignment", "mutant"), MUTANT_CASES)
def test_mutant_loses_points(prepared, assignment, mutant, tmp_path, record_property, zygote):
    course = prepared(assignment)
    spec = _mutants(assignment)
    nb = fill_solutions(_release(course, assignment), _source(course, assignment), spec["MUTANTS"][mutant])
    result = _grade(course, assignment, nb, tmp_path, zygote)
    caught = [gid for gid, (score, top) in result.scores.items() if score < top]
    record_property("caught_by", ",".join(caught))
    print(f"{assignment}/{mutant}: {result.score:g}/{result.max_score:g}, caught by {caught}")
    assert result.status == "graded", result.message
    assert result.score < result.max_score, f"mutant {mutant!r} scores full marks: no test catches this mistake"
    for gid in spec.get("EXPECTED_ZERO", {}).get(mutant, []):
        assert result.scores[gid][0] == 0, f"mutant {mutant!r}: {gid} should score 0, got {result.scores[gid]}"


def _block_lines(source_nb, marker: str) -> set[str]:
    """Lines inside ``### BEGIN <marker>`` blocks that appear nowhere else in the source notebook."""
    inside, outside = set(), set()
    pattern = re.compile(rf"### BEGIN {marker}(.*?)### END {marker}", re.S)
    for cell in source_nb.cells:
        for block in pattern.findall(cell.source):
            inside |= {line.strip() for line in block.splitlines()}
        outside |= {line.strip() for line in pattern.sub("", cell.source).splitlines()}
    return {line for line in inside - outside if len(line) >= 12 and not line.startswith("#")}


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_student_notebook_hides_solutions_and_hidden_tests(assignment):
    release = nbformat.read(ROOT / "notebooks" / assignment / f"{assignment}.ipynb", as_version=4)
    source = nbformat.read(ROOT / "solutions" / assignment / f"{assignment}.ipynb", as_version=4)
    text = "\n".join(cell.source for cell in release.cells)
    for marker in ("### BEGIN SOLUTION", "### END SOLUTION", "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"):
        assert marker not in text, f"notebooks/{assignment}: found {marker!r}"
    released = {line.strip() for line in text.splitlines()}
    for kind in ("SOLUTION", "HIDDEN TESTS"):
        leaked = sorted(_block_lines(source, kind) & released)
        assert not leaked, f"notebooks/{assignment} shows lines of the {kind.lower()}: {leaked[:5]}"
    outputs = [c for c in release.cells if c.cell_type == "code" and (c.outputs or c.execution_count)]
    assert not outputs, f"notebooks/{assignment}: cells with stored outputs {[c.get('id') for c in outputs]}"
    graded = [nbgrader_metadata(c, i) for i, c in enumerate(source.cells)]
    assert any(m and m.get("grade") for m in graded), f"solutions/{assignment} has no test cells"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_student_notebook_installs_the_course_package_first(assignment, monkeypatch):
    """A downloaded exercise runs anywhere: its first cell pip-installs the package from _config.yml's repository."""
    import importlib.util

    from IPython.core.inputtransformer2 import TransformerManager

    from llmcourse.grading.authoring import repository_url

    url = repository_url(ROOT / "_config.yml")
    assert url.startswith("https://"), "_config.yml names no repository url"
    first = nbformat.read(ROOT / "notebooks" / assignment / f"{assignment}.ipynb", as_version=4).cells[0]
    assert first.cell_type == "code" and first.metadata["nbgrader"]["grade_id"] == "install"
    assert first.metadata["nbgrader"]["locked"], "the install cell must be read-only"
    code = TransformerManager().transform_cell(first.source)  # what IPython runs: %pip → run_line_magic

    class Shell:
        def __init__(self):
            self.magics = []

        def run_line_magic(self, name, line, _stack_depth=1):
            self.magics.append((name, line))

    installed, missing = Shell(), Shell()
    exec(code, {"get_ipython": lambda: installed})  # llmcourse importable here: nothing to do
    assert installed.magics == []
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    exec(code, {"get_ipython": lambda: missing})
    assert missing.magics == [("pip", f'install --quiet "llmcourse @ git+{url}"')]
