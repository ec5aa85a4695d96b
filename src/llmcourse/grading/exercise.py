"""What an assignment is, read from its instructor source and its generated release.

An :class:`Exercise` holds what grading needs and nothing of a submission: the set-up code
(``locked`` cells, run in the grader before the tests), the names the learner defines (functions
and classes of the ``solution`` cells: the names that become proxies), the test cells with their
points (source with hidden tests, and the release version the feedback may show), and each
function's forbidden list, read from the ``check_forbidden(...)`` lines of the test cells.

A :class:`Course` makes a temporary nbgrader course from the course folder (``solutions/`` and
``nbgrader_config.py`` copied, ``generate_assignment`` run once per assignment), so grading
never touches the instructor's ``.nbgrader/`` or ``notebooks/``.
"""

from __future__ import annotations

import ast
import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbformat import NotebookNode
from traitlets.config import Config
from traitlets.config.loader import PyFileConfigLoader

from llmcourse.grading.authoring import nbgrader_metadata
from llmcourse.grading.forbidden import module_constants, parse_forbidden_checks
from llmcourse.grading.notebook import grade_id

HIDDEN = "### BEGIN HIDDEN TESTS"


@dataclass
class TestCell:
    """One autograded cell: ``source`` runs in the grader; ``shown`` is what feedback may show."""

    grade_id: str
    points: float
    source: str
    shown: str
    hidden: bool
    functions: list[str] = field(default_factory=list)   # the functions its check_forbidden lines name


@dataclass
class Exercise:
    name: str
    source: NotebookNode
    release: NotebookNode
    setup: list[str]
    names: list[str]
    tests: list[TestCell]
    rules: dict[str, list[str]]
    hints: dict[str, str]

    @property
    def max_score(self) -> float:
        return float(sum(t.points for t in self.tests))

    def tests_of(self, function: str) -> list[str]:
        return [t.grade_id for t in self.tests if function in t.functions]

    @classmethod
    def from_notebooks(cls, name: str, source: NotebookNode, release: NotebookNode) -> "Exercise":
        constants = module_constants([c.source for c in source.cells if c.cell_type == "code"])
        shown = {grade_id(c): c.source for c in release.cells if grade_id(c)}
        setup, names, tests, rules, hints = [], [], [], {}, {}
        for index, cell in enumerate(source.cells):
            meta = nbgrader_metadata(cell, index) if cell.cell_type == "code" else None
            if not meta:
                continue
            if meta.get("grade"):
                checks = parse_forbidden_checks(cell.source, constants)
                for check in checks:
                    rules.setdefault(check.function, [])
                    rules[check.function] += [r for r in check.forbidden if r not in rules[check.function]]
                    hints.setdefault(check.function, check.hint)
                tests.append(TestCell(meta["grade_id"], float(meta["points"]), cell.source,
                                      shown.get(meta["grade_id"], ""), HIDDEN in cell.source,
                                      [c.function for c in checks]))
            elif meta.get("solution"):
                names += [n for n in defined_names(cell.source) if n not in names]
            elif meta.get("locked"):
                setup.append(cell.source)
        return cls(name, source, release, setup, names, tests, rules, hints)


def defined_names(source: str) -> list[str]:
    """Top-level functions and classes a cell defines (the names a test may call)."""
    tree = ast.parse(source)
    return [node.name for node in tree.body if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]


def nbgrader_config(course_file: Path, root: Path, db_url: str | None = None) -> Config:
    """The course's ``nbgrader_config.py``, for a course rooted at ``root``."""
    config = PyFileConfigLoader(course_file.name, path=str(course_file.parent)).load_config()
    config.CourseDirectory.root = str(root)
    config.CourseDirectory.db_url = db_url or "sqlite:///" + str(root / "gradebook.db")
    config.NbGraderAPI.log_level = "WARN"
    return config


def nbgrader_api(config: Config):
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    bin_dir = os.path.dirname(sys.executable)  # nbgrader calls `alembic` when it creates a gradebook
    if bin_dir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")
    return NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)


def assignments_of(course_dir: Path) -> set[str]:
    """The assignments of a course: ``solutions/<name>/<name>.ipynb``."""
    return {p.name for p in (Path(course_dir) / "solutions").iterdir() if (p / f"{p.name}.ipynb").is_file()}


class Course:
    """A temporary nbgrader course made from a course folder's ``solutions/``.

    ``Course(course_dir, work)`` copies ``nbgrader_config.py`` (and ``_config.yml``) into ``work``; :meth:`prepare`
    copies an assignment's source folder there and generates its release (in ``work/notebooks``)
    and its gradebook entries (``db_url``, by default ``work/gradebook.db``).
    """

    def __init__(self, course_dir: str | Path, work: str | Path, assignments=(), *, db_url: str | None = None):
        self.course_dir, self.work = Path(course_dir).resolve(), Path(work).resolve()
        for required in ("solutions", "nbgrader_config.py"):
            if not (self.course_dir / required).exists():
                raise FileNotFoundError(f"{self.course_dir} has no {required}: run from the course root or pass --course")
        self.known = assignments_of(self.course_dir)
        self.work.mkdir(parents=True, exist_ok=True)
        shutil.copy(self.course_dir / "nbgrader_config.py", self.work / "nbgrader_config.py")
        if (self.course_dir / "_config.yml").is_file():  # the repository address for the install cell
            shutil.copy(self.course_dir / "_config.yml", self.work / "_config.yml")
        self.db_url = db_url
        self.exercises: dict[str, Exercise] = {}
        for name in assignments:
            self.prepare(name)

    def prepare(self, assignment: str) -> Exercise:
        """Copy the assignment's source folder and run ``generate_assignment`` (once)."""
        if assignment in self.exercises:
            return self.exercises[assignment]
        if assignment not in self.known:
            raise KeyError(f"no assignment {assignment!r} in {self.course_dir / 'solutions'}")
        shutil.copytree(self.course_dir / "solutions" / assignment, self.work / "solutions" / assignment,
                        ignore=shutil.ignore_patterns(".ipynb_checkpoints"), dirs_exist_ok=True)
        config = nbgrader_config(self.work / "nbgrader_config.py", self.work, self.db_url)
        result = nbgrader_api(config).generate_assignment(assignment, force=True)
        if not result["success"]:
            raise RuntimeError(f"nbgrader generate_assignment {assignment} failed:\n"
                               f"{result.get('log', '')}{result.get('error', '')}")
        source = nbformat.read(self.source_path(assignment), as_version=4)
        release = nbformat.read(self.release_path(assignment), as_version=4)
        self.exercises[assignment] = Exercise.from_notebooks(assignment, source, release)
        return self.exercises[assignment]

    def release_path(self, assignment: str) -> Path:
        return self.work / "notebooks" / assignment / f"{assignment}.ipynb"

    def source_path(self, assignment: str) -> Path:
        return self.work / "solutions" / assignment / f"{assignment}.ipynb"
