"""Grade a folder (or a zip) of exercise submissions: one command → ``grades.csv`` + feedback HTML.

    python -m llmcourse.grade SUBMISSIONS [--out DIR] [--timeout S] [--cell-timeout S]
                              [--memory-mb M] [--jobs N] [--assignment A ...] [--course DIR]
    make grade SUBMISSIONS=<folder or zip>          # the same, with --out grading/

Run it from the course root (the folder with ``solutions/`` and ``nbgrader_config.py``) or pass
``--course``. ``SUBMISSIONS`` is a folder or a ``.zip`` laid out as nbgrader's *submitted* folder::

    <student>/<assignment>/<assignment>.ipynb       e.g. alice/ch00_intro/ch00_intro.ipynb
    <student>/<assignment>.ipynb                    also accepted

A zip may hold that layout at its top level or inside one folder. Files and folders whose names
start with ``.`` or ``__MACOSX`` are ignored; a lone notebook with another name inside an
assignment folder is graded and the renaming is noted.

How one submission is graded, never touching the course's own ``.nbgrader/`` or ``notebooks/``:

1. A temporary course is made once: ``solutions/`` and ``nbgrader_config.py`` are copied, and
   ``generate_assignment`` runs once per assignment, filling a temporary gradebook.
2. Each submission is graded in its own subprocess (a copy of that gradebook, a wall-clock
   limit per notebook, a memory cap), so a looping, crashing or hostile notebook costs the
   others nothing. In it: the notebook is parsed and repaired — test and locked cells that
   were deleted, edited or stripped of their nbgrader metadata are restored from the release,
   inflated points are reset — then nbgrader autogrades it (each cell has a time limit,
   ``Execute.timeout``; outputs are capped), the static forbidden-call check of
   :mod:`llmcourse.grading` zeroes the test cells of a function that uses a forbidden call,
   and nbgrader's feedback HTML is written with our notes on top.
3. ``OUT/grades.csv`` gets one row per submission:
   ``student, assignment, score, max_score, status, message``. ``score`` is empty unless the
   notebook was graded, so a notebook that could not be graded never looks like an honest 0.

======================  =====================================================================
status                  meaning
======================  =====================================================================
graded                  autograded; ``message`` lists failed tests and forbidden calls (if any)
graded_with_repairs     autograded after restoring test cells or metadata; ``message`` says what
invalid_notebook        not a notebook (bad JSON, wrong structure, too big): parser's reason
failed                  could not finish: the kernel died, or the notebook ran past ``--timeout``
unknown_assignment      no ``solutions/<assignment>/`` for that name
missing_notebook        an assignment folder without a notebook, or a student folder with none
======================  =====================================================================

Shared by every chapter's exercise; ``tests/test_exercises.py`` uses :class:`Course` in-process.
"""

from __future__ import annotations

import argparse
import copy
import csv
import html
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import warnings
import zipfile
from collections import Counter
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import nbformat
import nbformat.validator
from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
from nbformat import NotebookNode
from nbgrader.api import Gradebook
from nbgrader.apps import NbGraderAPI
from nbgrader.converters import Autograde
from nbgrader.coursedir import CourseDirectory
from nbgrader.preprocessors import Execute, GetGrades, NbGraderPreprocessor
from sqlalchemy.exc import SAWarning
from tqdm import tqdm
from traitlets.config import Config
from traitlets.config.loader import PyFileConfigLoader

from llmcourse.authoring import nbgrader_metadata
from llmcourse.grading import forbidden_uses_in_cells, module_constants, parse_forbidden_checks

DEFAULT_TIMEOUT = 120          # seconds for one whole notebook (the subprocess is killed after)
DEFAULT_MEMORY_MB = 4096       # address-space cap of the grading subprocess and its kernel
MAX_NOTEBOOK_BYTES = 50 * 2**20
MAX_OUTPUT_CHARS = 20_000      # per cell, kept while executing; the rest is dropped
STUDENT = "student"            # the one student of each per-submission course
IGNORED = re.compile(r"^(\.|__MACOSX$|__pycache__$)")
CSV_COLUMNS = ["student", "assignment", "score", "max_score", "status", "message"]


@dataclass
class Result:
    """The outcome of grading one submission (one CSV row)."""

    student: str
    assignment: str
    status: str
    message: str = ""
    score: float | None = None
    max_score: float | None = None
    cells: dict[str, list[float]] = field(default_factory=dict)  # grade id → [score, max score]
    notes: list[str] = field(default_factory=list)               # repairs and penalties, for the student
    failures: list[str] = field(default_factory=list)            # "test_x (0/3: AssertionError: ...)"

    def row(self) -> dict[str, str]:
        fmt = lambda x: "" if x is None else f"{x:g}"  # noqa: E731
        return {"student": self.student, "assignment": self.assignment, "score": fmt(self.score),
                "max_score": fmt(self.max_score), "status": self.status, "message": self.message}


# --------------------------------------------------------------------------- finding submissions

@dataclass
class Submission:
    student: str
    assignment: str
    notebook: Path | None = None
    status: str = ""     # set when there is nothing to grade (unknown_assignment, missing_notebook)
    message: str = ""
    notes: list[str] = field(default_factory=list)


def _visible(path: Path) -> list[Path]:
    return sorted(p for p in path.iterdir() if not IGNORED.match(p.name))


def _submissions_root(root: Path, known: set[str]) -> Path:
    """Step into a single wrapping folder (e.g. a zip of ``submitted/``) when there is one."""
    for _ in range(2):
        entries = _visible(root)
        if len(entries) != 1 or not entries[0].is_dir():
            return root
        inner = _visible(entries[0])
        if any(p.name in known or p.name.removesuffix(".ipynb") in known for p in inner):
            return root  # the single folder is a student's
        root = entries[0]
    return root


def find_submissions(root: Path, known: set[str], only: set[str] | None = None) -> list[Submission]:
    """Every (student, assignment) pair under ``root``; see the module docstring for the layout."""
    found: dict[tuple[str, str], Submission] = {}
    for student_dir in _visible(root):
        if not student_dir.is_dir():
            continue
        student = student_dir.name
        before = len(found)
        for entry in _visible(student_dir):
            if entry.is_dir():
                assignment = entry.name
                notebooks = [p for p in _visible(entry) if p.suffix == ".ipynb" and p.is_file()]
            elif entry.suffix == ".ipynb":
                assignment, notebooks = entry.stem, [entry]
            else:
                continue
            if only and assignment not in only:
                continue
            key = (student, assignment)
            if key in found:
                found[key].notes.append(f"also found {entry.relative_to(root)}; it was ignored")
                continue
            sub = found[key] = Submission(student, assignment)
            exact = [p for p in notebooks if p.name == f"{assignment}.ipynb"]
            if assignment not in known:
                sub.status = "unknown_assignment"
                sub.message = (f"no assignment named {assignment!r} in solutions/ "
                               f"(known: {', '.join(sorted(known)) or 'none'})")
            elif exact or len(notebooks) == 1:
                sub.notebook = (exact or notebooks)[0]
                if not exact:
                    sub.notes.append(f"the notebook was named {notebooks[0].name}; graded as {assignment}.ipynb")
            elif not notebooks:
                sub.status, sub.message = "missing_notebook", f"no notebook in {entry.relative_to(root)}/"
            else:
                names = ", ".join(p.name for p in notebooks)
                sub.status = "missing_notebook"
                sub.message = f"several notebooks ({names}) and none named {assignment}.ipynb"
        if len(found) == before and not only:
            found[(student, "")] = Submission(student, "", status="missing_notebook",
                                              message=f"no notebook or assignment folder in {student}/")
    return [found[k] for k in sorted(found)]


def extract_zip(path: Path, dest: Path) -> Path:
    """Extract a zip of submissions safely (no absolute paths, no ``..``, no links)."""
    with zipfile.ZipFile(path) as archive:
        members = archive.infolist()
        if sum(m.file_size for m in members) > 4 * 2**30:
            raise ValueError(f"{path}: more than 4 GiB uncompressed; is this the right zip?")
        for member in members:
            parts = Path(member.filename).parts
            if member.filename.startswith("/") or ".." in parts or (member.external_attr >> 28) == 0o12:
                continue  # unsafe path or symbolic link
            archive.extract(member, dest)
    return dest


# --------------------------------------------------------------------------- the temporary course

class CappedExecute(Execute):
    """nbgrader's Execute, keeping at most MAX_OUTPUT_CHARS of output per cell as it arrives."""

    def preprocess(self, nb, resources, *args, **kwargs):
        self._output_chars: dict[int, int] = {}
        return super().preprocess(nb, resources, *args, **kwargs)

    def output(self, outs, msg, display_id, cell_index):
        content = msg.get("content", {})
        size = len(str(content.get("text", ""))) + sum(len(str(v)) for v in content.get("data", {}).values())
        used = self._output_chars.get(cell_index, 0)
        self._output_chars[cell_index] = used + size
        if used + size <= MAX_OUTPUT_CHARS:
            return super().output(outs, msg, display_id, cell_index)
        if used < MAX_OUTPUT_CHARS and msg["msg_type"] == "stream":  # keep the beginning of this one
            msg = copy.deepcopy(msg)
            msg["content"]["text"] = content["text"][: MAX_OUTPUT_CHARS - used]
            super().output(outs, msg, display_id, cell_index)
        if used <= MAX_OUTPUT_CHARS:
            outs.append(NotebookNode(output_type="stream", name="stderr", text=(
                f"\n[output truncated by the grader: more than {MAX_OUTPUT_CHARS:,} characters]\n")))
        return None


class HideHiddenTests(NbGraderPreprocessor):
    """Feedback preprocessor: show what hidden tests printed or raised, not their code."""

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type == "code" and "### BEGIN HIDDEN TESTS" in cell.source:
            cell.source = re.sub(r"### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS",
                                 "# (hidden tests: their code is not shown, their output is)", cell.source, flags=re.S)
        return cell, resources


def nbgrader_config(course_file: Path, root: Path, cell_timeout: int | None = None,
                    show_hidden_tests: bool = False) -> Config:
    """The course's ``nbgrader_config.py`` plus the grader's settings, for a course rooted at ``root``."""
    config = PyFileConfigLoader(course_file.name, path=str(course_file.parent)).load_config()
    config.CourseDirectory.root = str(root)
    config.CourseDirectory.db_url = "sqlite:///" + str(root / "gradebook.db")
    if cell_timeout is not None:
        config.Execute.timeout = int(cell_timeout)
    config.Autograde.autograde_preprocessors = [
        CappedExecute if pp is Execute else pp for pp in Autograde.class_traits()["autograde_preprocessors"].default()
    ]
    config.LimitOutput.max_lines = 200
    config.LimitOutput.max_traceback = 60
    config.GenerateFeedback.preprocessors = [GetGrades, CSSHTMLHeaderPreprocessor] + (
        [] if show_hidden_tests else [HideHiddenTests])
    config.NbGraderAPI.log_level = "WARN"
    return config


def _api(config: Config) -> NbGraderAPI:
    bin_dir = os.path.dirname(sys.executable)  # nbgrader calls `alembic` when it creates a gradebook
    if bin_dir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")
    return NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)


@dataclass
class _Spec:
    """What the grader knows about one assignment, read from its source and release notebooks."""

    release: NotebookNode
    checks: dict[str, dict[str, Any]]   # function → {"forbidden", "hint", "tests": [grade ids]}


def _read_spec(work: Path, assignment: str) -> _Spec:
    """Read the release notebook, and which forbidden lists the source's test cells check."""
    source = nbformat.read(work / "solutions" / assignment / f"{assignment}.ipynb", as_version=4)
    constants = module_constants([c.source for c in source.cells if c.cell_type == "code"])
    checks: dict[str, dict[str, Any]] = {}
    for index, cell in enumerate(source.cells):
        meta = nbgrader_metadata(cell, index)
        if not meta or not meta.get("grade"):
            continue
        for check in parse_forbidden_checks(cell.source, constants):
            entry = checks.setdefault(check.function, {"forbidden": [], "hint": check.hint, "tests": []})
            entry["forbidden"] += [r for r in check.forbidden if r not in entry["forbidden"]]
            entry["tests"].append(meta["grade_id"])
    release = nbformat.read(work / "notebooks" / assignment / f"{assignment}.ipynb", as_version=4)
    return _Spec(release, checks)


def assignments_of(course_dir: Path) -> set[str]:
    """The assignments of a course: ``solutions/<name>/<name>.ipynb``."""
    return {p.name for p in (Path(course_dir) / "solutions").iterdir() if (p / f"{p.name}.ipynb").is_file()}


class Course:
    """A temporary nbgrader course made from a course folder's ``solutions/``.

    ``Course(course_dir, work, assignments)`` copies ``nbgrader_config.py`` and those assignments'
    ``solutions/`` folders into ``work`` and generates them there (release notebooks in
    ``work/notebooks/``, gradebook ``work/gradebook.db``); :meth:`prepare` adds one more later.
    Then :meth:`grade` grades any notebook, in this process or in an isolated one.
    """

    def __init__(self, course_dir: str | Path, work: str | Path, assignments: list[str] = (), *,
                 cell_timeout: int | None = None, show_hidden_tests: bool = False):
        self.course_dir, self.work = Path(course_dir).resolve(), Path(work).resolve()
        self.cell_timeout, self.show_hidden_tests = cell_timeout, show_hidden_tests
        for required in ("solutions", "nbgrader_config.py"):
            if not (self.course_dir / required).exists():
                raise FileNotFoundError(f"{self.course_dir} has no {required}: "
                                        "run from the course root or pass --course")
        self.known = assignments_of(self.course_dir)
        self.work.mkdir(parents=True, exist_ok=True)
        shutil.copy(self.course_dir / "nbgrader_config.py", self.work / "nbgrader_config.py")
        self.specs: dict[str, _Spec] = {}
        for name in assignments:
            self.prepare(name)

    def prepare(self, assignment: str) -> None:
        """Copy the assignment's source folder and run ``generate_assignment`` (once)."""
        if assignment in self.specs:
            return
        if assignment not in self.known:
            raise KeyError(f"no assignment {assignment!r} in {self.course_dir / 'solutions'}")
        shutil.copytree(self.course_dir / "solutions" / assignment, self.work / "solutions" / assignment,
                        ignore=shutil.ignore_patterns(".ipynb_checkpoints"), dirs_exist_ok=True)
        config = nbgrader_config(self.work / "nbgrader_config.py", self.work, self.cell_timeout, self.show_hidden_tests)
        result = _api(config).generate_assignment(assignment, force=True)
        if not result["success"]:
            raise RuntimeError(f"nbgrader generate_assignment {assignment} failed:\n"
                               f"{result.get('log', '')}{result.get('error', '')}")
        self.specs[assignment] = _read_spec(self.work, assignment)

    def release_path(self, assignment: str) -> Path:
        return self.work / "notebooks" / assignment / f"{assignment}.ipynb"

    def source_path(self, assignment: str) -> Path:
        return self.work / "solutions" / assignment / f"{assignment}.ipynb"

    def grade(self, assignment: str, notebook: str | Path, *, run_dir: str | Path, student: str = STUDENT,
              feedback: str | Path | None = None, notes: list[str] | None = None, isolate: bool = False,
              timeout: float = DEFAULT_TIMEOUT, memory_mb: int = DEFAULT_MEMORY_MB) -> Result:
        """Grade one notebook file.

        Args:
            assignment: a generated assignment of this course.
            notebook: the submitted ``.ipynb`` (any name).
            run_dir: an empty folder for this grading run (nbgrader's course lives there).
            student: the name in the result and the feedback.
            feedback: where to write the feedback HTML (none if ``None``).
            notes: notes to show first (e.g. about the submission's layout).
            isolate: grade in a subprocess with ``timeout`` seconds and ``memory_mb`` MiB
                (the command does); otherwise in this process (fast, for tests).
        """
        run_dir = Path(run_dir)
        run_dir.mkdir(parents=True, exist_ok=True)
        job = {"work": str(self.work), "assignment": assignment, "student": student, "notebook": str(notebook),
               "run_dir": str(run_dir), "feedback": str(feedback) if feedback else None, "notes": notes or [],
               "cell_timeout": self.cell_timeout, "show_hidden_tests": self.show_hidden_tests}
        if not isolate:
            return _grade_job(job, self)
        return _grade_isolated(job, timeout, memory_mb)


# --------------------------------------------------------------------------- repairing a submission

def _grade_id(cell) -> str | None:
    meta = cell.get("metadata", {}).get("nbgrader")
    return meta.get("grade_id") if isinstance(meta, dict) else None


def _describe(cell) -> str:
    meta = cell.metadata.nbgrader
    kind = "test cell" if meta.get("grade") else "solution cell" if meta.get("solution") else "read-only cell"
    return f"{kind} `{meta['grade_id']}`"


def repair(nb: NotebookNode, release: NotebookNode) -> list[str]:
    """Restore what the learner may not change, in place, from the release notebook; return notes.

    Cells are matched to the release by nbgrader grade id, else (metadata removed) by cell id.
    Matched cells get the release's nbgrader metadata back (points included), read-only cells
    their source; test cells and read-only code cells that are missing are re-inserted after the
    nearest release neighbour that is still there. Solution cells are never re-inserted: the
    learner may have moved their code elsewhere.
    """
    notes: list[str] = []
    graded = {_grade_id(c): c for c in release.cells if _grade_id(c)}
    by_cell_id = {c.get("id"): c for c in release.cells if _grade_id(c)}
    matched: set[str] = set()
    for i, cell in enumerate(nb.cells):
        gid = _grade_id(cell)
        old = cell.metadata.get("nbgrader")
        old = old if isinstance(old, dict) else {}
        if gid in graded and gid not in matched:
            original = graded[gid]
        elif gid not in matched and cell.get("id") in by_cell_id and _grade_id(by_cell_id[cell["id"]]) not in matched:
            original = by_cell_id[cell["id"]]
            notes.append(f"{_describe(original)} had lost its grading metadata; it was restored")
            old = {}
        else:
            if gid is not None:
                cell.metadata.pop("nbgrader", None)
                if gid in matched:
                    notes.append(f"a copy of cell `{gid}` was run as an ordinary cell, not graded")
            continue
        gid = _grade_id(original)
        matched.add(gid)
        meta = original.metadata.nbgrader
        if meta.get("grade") and "points" in old and old["points"] != meta.get("points"):
            notes.append(f"the points of {_describe(original)} were changed to {old['points']}; "
                         f"reset to {meta['points']}")
        elif old and any(old.get(k, False) != meta.get(k, False) for k in ("grade", "solution", "locked", "task")):
            notes.append(f"the grading metadata of {_describe(original)} had been changed; it was restored")
        if cell.cell_type != original.cell_type or (meta.get("locked") and cell.source != original.source):
            notes.append(f"{_describe(original)} had been edited; the original was put back")
            nb.cells[i] = cell = copy.deepcopy(original)
        for key in ("nbgrader", "editable", "deletable"):
            if key in original.metadata:
                cell.metadata[key] = copy.deepcopy(original.metadata[key])
    for r_index, original in enumerate(release.cells):
        gid = _grade_id(original)
        meta = original.metadata.get("nbgrader", {})
        restorable = meta.get("grade") or (meta.get("locked") and original.cell_type == "code")
        if not gid or gid in matched or not restorable:
            continue
        nb.cells.insert(_insert_position(nb, release, r_index), copy.deepcopy(original))
        matched.add(gid)
        notes.append(f"{_describe(original)} was missing; it was put back from the original notebook")
    return notes


def _insert_position(nb: NotebookNode, release: NotebookNode, r_index: int) -> int:
    def find(cell) -> int | None:
        gid, cid = _grade_id(cell), cell.get("id")
        for j, c in enumerate(nb.cells):
            if (gid and _grade_id(c) == gid) or (not gid and cid and c.get("id") == cid):
                return j
        return None

    for before in reversed(release.cells[:r_index]):
        j = find(before)
        if j is not None:
            return j + 1
    for after in release.cells[r_index + 1:]:
        j = find(after)
        if j is not None:
            return j
    return len(nb.cells)


def fill_solutions(release: NotebookNode, source: NotebookNode,
                   replacements: dict[str, str] | None = None) -> NotebookNode:
    """A copy of the release notebook with its solution cells answered, as a learner would submit it.

    Each solution cell gets the source notebook's answer (markers included: they are comments)
    or, for the grade ids in ``replacements``, the given code (e.g. a typical wrong answer).
    """
    answers = {}
    for index, cell in enumerate(source.cells):
        meta = nbgrader_metadata(cell, index)
        if meta and meta.get("solution"):
            answers[meta["grade_id"]] = cell.source
    replacements = replacements or {}
    unknown = set(replacements) - set(answers)
    if unknown:
        raise KeyError(f"no solution cell with grade id {sorted(unknown)} (solution cells: {sorted(answers)})")
    nb = copy.deepcopy(release)
    for cell in nb.cells:
        gid = _grade_id(cell)
        if gid in answers:
            cell.source = replacements.get(gid, answers[gid])
    return nb


def read_notebook(path: Path) -> NotebookNode:
    """Parse a submitted notebook; raises ValueError with a readable reason when it is not one."""
    size = path.stat().st_size
    if size > MAX_NOTEBOOK_BYTES:
        raise ValueError(f"the file is {size / 2**20:.0f} MB; a notebook must be under "
                         f"{MAX_NOTEBOOK_BYTES / 2**20:.0f} MB (clear its outputs and submit again)")
    text = path.read_bytes().decode("utf-8", errors="replace")
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON: {exc}") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("cells", raw.get("worksheets")), list):
        raise ValueError("valid JSON but not a Jupyter notebook (no list of cells)")
    try:
        nb = nbformat.reads(text, as_version=4)
        seen: set[str] = set()
        for index, cell in enumerate(nb.cells):  # missing or repeated cell ids: give fresh ones
            if not isinstance(cell.get("id"), str) or cell["id"] in seen:
                cell["id"] = f"llmcourse-{index}"
            seen.add(cell["id"])
        _, fixed = nbformat.validator.normalize(nb, strip_invalid_metadata=True)
        nb = nbformat.from_dict(fixed)
        nbformat.validate(nb)
    except Exception as exc:  # nbformat raises several kinds for broken structure
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ValueError(f"not a valid notebook: {reason[:300]}") from None
    return nb


# --------------------------------------------------------------------------- grading one notebook

def _forbidden_penalties(nb, spec: _Spec) -> list[tuple[str, list[str], str]]:
    """(function, test grade ids to zero, note) for each function that uses something forbidden."""
    code_cells = [(i, c) for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    sources = [c.source for _, c in code_cells]
    penalties = []
    for function, check in spec.checks.items():
        findings = forbidden_uses_in_cells(sources, check["forbidden"], function=function)
        if not findings:
            continue
        uses = "; ".join(f"{f.rule} ({_where(code_cells[f.cell], f.line)})" for f in findings)
        hint = f" ({check['hint']})" if check["hint"] else ""
        note = (f"`{function}` uses {uses}, which this exercise does not allow{hint}: "
                f"its tests score 0 ({', '.join(check['tests'])})")
        penalties.append((function, check["tests"], note))
    return penalties


def _where(numbered_cell: tuple[int, Any], line: int) -> str:
    index, cell = numbered_cell
    gid = _grade_id(cell)
    return f"line {line} of cell `{gid}`" if gid else f"line {line} of cell {index + 1}"


def _solution_cell_of(release, function: str) -> str | None:
    for cell in release.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution") and re.search(rf"^\s*def\s+{re.escape(function)}\s*\(", cell.source, re.M):
            return meta["grade_id"]
    return None


def _failure_reason(log: str) -> str:
    if "DeadKernelError" in log or "Kernel died" in log or "kernel died" in log:
        return ("the Python kernel died while running the notebook (os._exit(), a crash in native code "
                "or running out of memory), so it could not be graded")
    if "became unresponsive" in log or "Timeout" in log or "timed out" in log:
        return "the kernel stopped responding (it ignored the per-cell time limit), so it could not be graded"
    last = [line for line in log.strip().splitlines() if line.strip()][-1:] or ["unknown error"]
    return f"nbgrader could not grade it: {last[0][:300]}"


def _cell_problems(autograded: Path, cells: dict[str, list[float]]) -> dict[str, str]:
    """For each failed test cell, the first line of its error (e.g. 'AssertionError: ...')."""
    problems: dict[str, str] = {}
    try:
        nb = nbformat.read(autograded, as_version=4)
    except Exception:
        return problems
    for cell in nb.cells:
        gid = _grade_id(cell)
        if gid not in cells or cells[gid][0] >= cells[gid][1]:
            continue
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                if out.get("ename") in ("CellTimeoutError", "KeyboardInterrupt"):
                    problems[gid] = "stopped by the time limit per cell (an endless loop?)"
                else:
                    value = str(out.get("evalue", "")).strip().splitlines()[:1]
                    problems[gid] = f"{out.get('ename')}: {value[0][:160] if value else ''}".rstrip(": ")
                break
    return problems


def _grade_job(job: dict, course: Course | None = None) -> Result:
    """Grade one submission (in this process): repair, autograde, forbidden check, feedback."""
    work, assignment = Path(job["work"]), job["assignment"]
    run_dir, student = Path(job["run_dir"]), job["student"]
    result = Result(student, assignment, status="failed", notes=list(job.get("notes", [])))
    spec = course.specs[assignment] if course else _read_spec(work, assignment)
    try:
        nb = read_notebook(Path(job["notebook"]))
    except (ValueError, OSError) as exc:
        return _finish(result, "invalid_notebook", str(exc), job)
    result.notes += repair(nb, spec.release)

    shutil.copy(work / "gradebook.db", run_dir / "gradebook.db")
    (run_dir / "solutions").mkdir(exist_ok=True)
    source_link = run_dir / "solutions" / assignment
    if not source_link.exists():
        source_link.symlink_to(work / "solutions" / assignment, target_is_directory=True)
    submitted = run_dir / "submitted" / STUDENT / assignment / f"{assignment}.ipynb"
    submitted.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, submitted)
    config = nbgrader_config(work / "nbgrader_config.py", run_dir, job["cell_timeout"], job["show_hidden_tests"])
    api = _api(config)
    with warnings.catch_warnings():  # nbgrader's own SQLAlchemy warnings say nothing about the submission
        warnings.simplefilter("ignore", SAWarning)
        outcome = api.autograde(assignment, STUDENT, force=True, create=True)
    if not outcome["success"]:
        return _finish(result, "failed", _failure_reason(outcome.get("log", "") + outcome.get("error", "")), job)

    repaired = bool(result.notes)
    with Gradebook(config.CourseDirectory.db_url) as gb:
        for function, tests, note in _forbidden_penalties(nb, spec):  # the authoritative check
            for gid in tests:
                gb.find_grade(gid, assignment, assignment, STUDENT).manual_score = 0
            solution = _solution_cell_of(spec.release, function)
            if solution:
                gb.find_comment(solution, assignment, assignment, STUDENT).manual_comment = note
            result.notes.append(note)
        gb.db.commit()
        notebook = gb.find_submission_notebook(assignment, assignment, STUDENT)
        result.score, result.max_score = float(notebook.score), float(notebook.max_score)
        result.cells = {g.name: [float(g.score), float(g.max_score)] for g in notebook.grades}

    autograded = run_dir / "autograded" / STUDENT / assignment / f"{assignment}.ipynb"
    problems = _cell_problems(autograded, result.cells)
    order = [_grade_id(c) for c in spec.release.cells]
    result.failures = [f"{gid} ({s:g}/{m:g}{': ' + problems[gid] if gid in problems else ''})"
                       for gid, (s, m) in sorted(result.cells.items(), key=lambda kv: order.index(kv[0])) if s < m]
    summary = f"failed: {'; '.join(result.failures)}" if result.failures else "all tests passed"
    page = None
    if job.get("feedback"):
        api.generate_feedback(assignment, STUDENT, force=True)
        html_path = run_dir / "feedback" / STUDENT / assignment / f"{assignment}.html"
        page = html_path.read_text(encoding="utf-8") if html_path.exists() else None
    return _finish(result, "graded_with_repairs" if repaired else "graded", summary, job, page)


def _finish(result: Result, status: str, summary: str, job: dict, page: str | None = None) -> Result:
    """Set status and message (notes first, then ``summary``) and write the feedback page."""
    result.status = status
    result.message = " | ".join(result.notes + [summary])
    if job.get("feedback"):
        write_feedback(Path(job["feedback"]), result, page, reason=summary)
    return result


def write_feedback(path: Path, result: Result, page: str | None = None, reason: str = "") -> None:
    """Write the feedback HTML: our notes in a box on top of nbgrader's page (or alone).

    ``reason`` says why a submission was not graded (shown unless it was).
    """
    score = f"{result.score:g} / {result.max_score:g}" if result.score is not None else "not graded"
    items = "".join(f"<li>{html.escape(note)}</li>" for note in result.notes)
    if result.failures:
        tests = "".join(f"<li>{html.escape(t)}</li>" for t in result.failures)
        items += f"<li>tests that failed (details under each test cell below):<ul>{tests}</ul></li>"
    if result.status not in ("graded", "graded_with_repairs") and reason:
        items += f"<li>{html.escape(reason)}</li>"
    box = (f'<div id="llmcourse-grading" style="border:2px solid #b03a2e;border-radius:6px;padding:0.8em 1.2em;'
           f'margin:1em;font-family:sans-serif;background:#fdf2f0">'
           f"<h2>{html.escape(result.assignment or 'submission')} — {html.escape(result.student)}</h2>"
           f"<p><b>Score:</b> {score} &nbsp; <b>Status:</b> {html.escape(result.status)}</p>"
           + (f"<p>From the grader:</p><ul>{items}</ul>" if items else "") + "</div>")
    if page is None or not re.search(r"<body[^>]*>", page):
        page = f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>Feedback</title></head><body></body></html>"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(re.sub(r"(<body[^>]*>)", lambda m: m.group(1) + box, page, count=1), encoding="utf-8")


# --------------------------------------------------------------------------- isolation

def _limit_resources(memory_mb: int) -> None:
    """Cap this process (and the kernel it starts, which inherits the limits)."""
    import resource

    cap = memory_mb * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))       # address space: MemoryError past it
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))         # no core dumps from crashing kernels
    resource.setrlimit(resource.RLIMIT_FSIZE, (2**30, 2**30))  # no file over 1 GiB


def _kill_tree(pid: int) -> None:
    import psutil

    try:
        parent = psutil.Process(pid)
        family = parent.children(recursive=True) + [parent]
    except psutil.NoSuchProcess:
        return
    for proc in family:
        try:
            proc.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(family, timeout=5)


def _grade_isolated(job: dict, timeout: float, memory_mb: int) -> Result:
    """Grade in a subprocess with a wall-clock limit and a memory cap; never raises for bad notebooks."""
    run_dir = Path(job["run_dir"])
    (run_dir / "job.json").write_text(json.dumps(dict(job, memory_mb=memory_mb)))
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONHASHSEED="0",
               IPYTHONDIR=str(run_dir / "ipython"),  # no personal IPython start-up files
               PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    result = None
    with open(run_dir / "worker.log", "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "llmcourse.grade", "--worker", str(run_dir / "job.json")],
                                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                                cwd=run_dir, start_new_session=True)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            result = Result(job["student"], job["assignment"], "failed", notes=list(job.get("notes", [])))
            reason = (f"grading took longer than the {timeout:g} s allowed for one notebook "
                      "(an endless loop that the per-cell time limit could not stop, or very slow code)")
        finally:
            _kill_tree(proc.pid)  # the worker on a timeout, and any kernel left behind
    result_file = run_dir / "result.json"
    if result is None and proc.returncode == 0 and result_file.exists():
        return Result(**json.loads(result_file.read_text()))
    if result is None:
        tail = (run_dir / "worker.log").read_bytes()[-3000:].decode("utf-8", "replace").strip().splitlines()
        why = "it ran out of memory" if any("MemoryError" in t for t in tail) else f"exit code {proc.returncode}"
        result = Result(job["student"], job["assignment"], "failed", notes=list(job.get("notes", [])))
        reason = f"the grading process stopped ({why}): {tail[-1][:300] if tail else 'no output'}"
    return _finish(result, "failed", reason, job)


def _worker(job_path: str) -> int:
    job = json.loads(Path(job_path).read_text())
    _limit_resources(job["memory_mb"])
    result = _grade_job(job)
    (Path(job["run_dir"]) / "result.json").write_text(json.dumps(asdict(result)))
    return 0


# --------------------------------------------------------------------------- the command

def grade_all(submissions: Path, out: Path, *, course_dir: Path, timeout: float = DEFAULT_TIMEOUT,
              cell_timeout: int | None = None, memory_mb: int = DEFAULT_MEMORY_MB, jobs: int = 1,
              only: list[str] | None = None, show_hidden_tests: bool = False, progress: bool = True) -> list[Result]:
    """Grade every submission under ``submissions`` (a folder or a zip) into ``out``; see the module docstring."""
    # Absolute paths: each submission is graded in a child process with its own working directory.
    submissions, out, course_dir = Path(submissions).resolve(), Path(out).resolve(), Path(course_dir).resolve()
    with tempfile.TemporaryDirectory(prefix="llmcourse-grade-") as tmp:
        tmp = Path(tmp)
        root = extract_zip(submissions, tmp / "zip") if submissions.is_file() else submissions
        known = assignments_of(course_dir)
        unknown_only = sorted(set(only or []) - known)
        if unknown_only:
            raise ValueError(f"unknown assignment(s) {', '.join(unknown_only)}; known: {', '.join(sorted(known))}")
        subs = find_submissions(_submissions_root(root, known), known, set(only) if only else None)
        if not subs:
            raise ValueError(f"no submissions found in {submissions}: "
                             "expected <student>/<assignment>/<assignment>.ipynb")
        course = Course(course_dir, tmp / "course", cell_timeout=cell_timeout, show_hidden_tests=show_hidden_tests)
        broken: dict[str, str] = {}  # assignments whose source notebook cannot be generated
        for assignment in sorted({s.assignment for s in subs if s.notebook}):
            try:
                course.prepare(assignment)
            except Exception as exc:
                broken[assignment] = f"the assignment itself could not be prepared (instructor's side): {exc}"[:500]
        if (out / "feedback").exists():
            shutil.rmtree(out / "feedback")
        out.mkdir(parents=True, exist_ok=True)

        def run(index: int, sub: Submission) -> Result:
            feedback = out / "feedback" / sub.student / f"{sub.assignment}.html" if sub.assignment else None
            job = {"student": sub.student, "assignment": sub.assignment, "notes": sub.notes,
                   "feedback": str(feedback) if feedback else None}
            try:
                if sub.notebook is None or sub.assignment in broken:
                    status, message = (sub.status, sub.message) if sub.notebook is None else (
                        "failed", broken[sub.assignment])
                    return _finish(Result(sub.student, sub.assignment, status, notes=list(sub.notes)),
                                   status, message, job)
                return course.grade(sub.assignment, sub.notebook, student=sub.student, run_dir=tmp / f"run{index}",
                                    feedback=feedback, notes=sub.notes, isolate=True, timeout=timeout,
                                    memory_mb=memory_mb)
            except Exception as exc:  # a grader bug must not cost the other students their grades
                result = Result(sub.student, sub.assignment, "failed", notes=list(sub.notes))
                return _finish(result, "failed", f"internal grader error: {exc!r}", job)

        results: list[Result] = []
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool, \
                tqdm(total=len(subs), desc="grading", unit="notebook", disable=not progress) as bar:
            futures = [pool.submit(run, i, sub) for i, sub in enumerate(subs)]
            for future in as_completed(futures):
                results.append(future.result())
                bar.set_postfix_str(f"{results[-1].student}: {results[-1].status}")
                bar.update()
    results.sort(key=lambda r: (r.student, r.assignment))
    with open(out / "grades.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        writer.writerows(r.row() for r in results)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m llmcourse.grade", description=__doc__.split("\n\n")[0],
        epilog="SUBMISSIONS: <student>/<assignment>/<assignment>.ipynb (or <student>/<assignment>.ipynb), "
               "a folder or a .zip. Writes OUT/grades.csv (student, assignment, score, max_score, status, "
               "message) and OUT/feedback/<student>/<assignment>.html. Statuses: graded, graded_with_repairs, "
               "invalid_notebook, failed, unknown_assignment, missing_notebook (see the module docstring).")
    parser.add_argument("submissions", nargs="?", help="folder or .zip: <student>/<assignment>/<assignment>.ipynb")
    parser.add_argument("--out", default="grading", help="output folder (default: grading/)")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT,
                        help=f"seconds allowed for one whole notebook (default: {DEFAULT_TIMEOUT})")
    parser.add_argument("--cell-timeout", type=int, default=None,
                        help="seconds allowed per cell (default: Execute.timeout of nbgrader_config.py)")
    parser.add_argument("--memory-mb", type=int, default=DEFAULT_MEMORY_MB,
                        help=f"memory cap per notebook in MiB (default: {DEFAULT_MEMORY_MB})")
    parser.add_argument("--jobs", type=int, default=1, help="notebooks graded at the same time (default: 1)")
    parser.add_argument("--assignment", nargs="+", metavar="A", help="grade only these assignments")
    parser.add_argument("--course", default=".", help="course root with solutions/ and nbgrader_config.py (default: .)")
    parser.add_argument("--show-hidden-tests", action="store_true", help="show hidden tests' code in the feedback")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return _worker(args.worker)
    if not args.submissions:
        parser.error("SUBMISSIONS is required: a folder or a .zip of <student>/<assignment>/<assignment>.ipynb")
    submissions, course_dir = Path(args.submissions), Path(args.course).resolve()
    if not submissions.exists():
        parser.error(f"{submissions} does not exist (expected a folder or a .zip of submissions)")
    if submissions.is_file() and not zipfile.is_zipfile(submissions):
        parser.error(f"{submissions} is neither a folder nor a readable .zip file")
    for required in ("solutions", "nbgrader_config.py"):
        if not (course_dir / required).exists():
            parser.error(f"{course_dir} has no {required}: run from the course root or pass --course")
    try:
        results = grade_all(submissions, Path(args.out), course_dir=course_dir, timeout=args.timeout,
                            cell_timeout=args.cell_timeout, memory_mb=args.memory_mb, jobs=args.jobs,
                            only=args.assignment, show_hidden_tests=args.show_hidden_tests)
    except (ValueError, zipfile.BadZipFile) as exc:
        parser.exit(2, f"{parser.prog}: error: {exc}\n")
    counts = Counter(r.status for r in results)
    summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    print(f"{len(results)} submissions: {summary} → {Path(args.out) / 'grades.csv'}, {Path(args.out) / 'feedback'}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
