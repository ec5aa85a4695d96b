"""Grading one notebook: the learner's cells in the sandbox, the test cells here.

1. The submission is read and repaired (:mod:`llmcourse.grading.notebook`); its code cells, minus
   the test cells, are the learner's program.
2. A :class:`~llmcourse.grading.session.Kernel` runs them in a fresh sandbox, each with the
   per-cell time limit; their outputs and errors go to the feedback.
3. The test cells of the instructor's *source* (never the submission's) run in this process, in a
   namespace made by the source's set-up cells, with each name the learner defines bound to a
   proxy. A test cell scores its points if it finishes without an exception.
4. Forbidden calls — found statically in the submission's code, or reported by the sandbox's
   monitor while a function ran — zero that function's test cells; tampering with the checks
   zeroes the notebook (status ``tampered``).
"""

from __future__ import annotations

import builtins
import contextlib
import hashlib
import io
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path

from llmcourse.grading.exercise import Exercise
from llmcourse.grading.notebook import grade_id, read_notebook, repair
from llmcourse.grading.sandbox import Limits
from llmcourse.grading.session import CellTimeout, Kernel, KernelFailure, LearnerError, Remote, Zygote
from llmcourse.grading.static import forbidden_uses_in_cells
from llmcourse.grading.wire import TEST_MODULE

MAX_TEST_OUTPUT = 5_000
GRADED = ("graded", "graded_with_repairs")


@dataclass
class TestResult:
    grade_id: str
    points: float
    score: float
    hidden: bool
    message: str = ""                                          # why it failed, written for the learner
    learner_traceback: list[str] = field(default_factory=list)
    output: str = ""                                           # what the test cell printed


@dataclass
class LearnerCell:
    index: int
    source: str
    status: str                                                # ok, error, timeout
    output: str = ""
    error: str = ""
    grade_id: str = ""                                         # the release cell it answers, if any


@dataclass
class Result:
    """The outcome of grading one submission (one CSV row, one feedback page)."""

    student: str
    assignment: str
    status: str
    message: str = ""
    score: float | None = None
    max_score: float | None = None
    notes: list[str] = field(default_factory=list)             # repairs, penalties, for the learner
    failures: list[str] = field(default_factory=list)          # "test_x (0/3: ...)"
    tests: list[TestResult] = field(default_factory=list)
    cells: list[LearnerCell] = field(default_factory=list)
    checksum: str = ""                                         # sha256 of the submitted file (for --resume)
    seconds: float = 0.0

    @property
    def scores(self) -> dict[str, list[float]]:
        return {t.grade_id: [t.score, t.points] for t in self.tests}

    def row(self) -> dict[str, str]:
        fmt = lambda x: "" if x is None else f"{x:g}"  # noqa: E731
        return {"student": self.student, "assignment": self.assignment, "score": fmt(self.score),
                "max_score": fmt(self.max_score), "status": self.status, "message": self.message}

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> "Result":
        data = dict(data)
        data["tests"] = [TestResult(**t) for t in data.get("tests", [])]
        data["cells"] = [LearnerCell(**c) for c in data.get("cells", [])]
        return cls(**data)

    def finish(self, status: str, summary: str) -> "Result":
        self.status = status
        self.message = " | ".join(self.notes + [summary])
        return self


@dataclass(frozen=True)
class Options:
    cell_timeout: float = 30.0
    limits: Limits = Limits()
    course_root: Path | None = None


def checksum(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def grade_notebook(exercise: Exercise, path: Path, *, student: str = "student", options: Options = Options(),
                   notes: list[str] | None = None, zygote: Zygote | None = None) -> Result:
    """Grade the notebook at ``path`` against ``exercise``; never raises for a bad submission.

    ``zygote`` (the test suite's, for the course's own notebooks only) forks the kernel from a
    warm sandbox instead of starting one (see :class:`~llmcourse.grading.session.Zygote`).
    """
    start = time.monotonic()
    result = Result(student, exercise.name, "failed", notes=list(notes or []), checksum=checksum(path))
    try:
        nb = read_notebook(Path(path))
    except (ValueError, OSError) as exc:
        return result.finish("invalid_notebook", str(exc))
    result.notes += repair(nb, exercise.release)
    program = [(i, c) for i, c in enumerate(nb.cells)
               if c.cell_type == "code" and not (c.metadata.get("nbgrader") or {}).get("grade")]
    static = _static_findings(exercise, program)
    kernel = Kernel(options.limits, options.course_root, exercise.rules,
                    (f"{exercise.name}.ipynb", Path(path).read_bytes()),
                    on_forbidden_check=lambda f, rules, hint: _refuse(f, static, hint), zygote=zygote)
    try:
        with kernel:
            for index, cell in program:
                ran = kernel.run_cell(index, cell.source, options.cell_timeout)
                error = ran.get("error") or {}
                text = f"{error.get('ename', '')}: {error.get('evalue', '')}".strip(": ") if error else ""
                result.cells.append(LearnerCell(index, cell.source, ran["status"], ran.get("stdout", ""), text,
                                                grade_id(cell) or ""))
            result.tests = _run_tests(exercise, kernel, options)
    except KernelFailure as exc:
        result.seconds = time.monotonic() - start
        return result.finish("failed", f"{exc}, so it could not be graded")
    _apply_penalties(result, exercise, static, kernel.reports)
    result.score = sum(t.score for t in result.tests)
    result.max_score = exercise.max_score
    result.failures = [f"{t.grade_id} ({t.score:g}/{t.points:g}{': ' + t.message if t.message else ''})"
                       for t in result.tests if t.score < t.points]
    result.seconds = time.monotonic() - start
    tampered = [r for r in kernel.reports if r["kind"] == "tamper"]
    if tampered:
        return result.finish("tampered", "the notebook interfered with grading (" +
                             "; ".join(r["how"] for r in tampered[:3]) + "): every test scores 0")
    summary = f"failed: {'; '.join(result.failures)}" if result.failures else "all tests passed"
    repaired = any("restored" in n or "put back" in n or "reset" in n or "not graded" in n for n in result.notes)
    return result.finish("graded_with_repairs" if repaired else "graded", summary)


def _static_findings(exercise: Exercise, program: list) -> dict[str, str]:
    """Function → its forbidden uses, read from the submission's code (nothing executed)."""
    sources = [cell.source for _, cell in program]
    found = {}
    for function, rules in exercise.rules.items():
        findings = forbidden_uses_in_cells(sources, rules, function=function)
        if findings:
            found[function] = "; ".join(f"{f.rule} ({_where(program[f.cell], f.line)})" for f in findings)
    return found


def _where(numbered_cell, line: int) -> str:
    index, cell = numbered_cell
    gid = grade_id(cell)
    return f"line {line} of cell `{gid}`" if gid else f"line {line} of cell {index + 1}"


def _refuse(function: str, static: dict[str, str], hint: str) -> None:
    if function in static:
        raise AssertionError(f"`{function}` uses {static[function]}, which this exercise does not allow"
                             + (f": {hint}" if hint else ""))


def _run_tests(exercise: Exercise, kernel: Kernel, options: Options) -> list[TestResult]:
    namespace = {"__name__": TEST_MODULE, "__builtins__": builtins}
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        for source in exercise.setup:
            exec(compile(source, "<set-up>", "exec"), namespace)
    for name in exercise.names:
        namespace[name] = Remote(kernel, ("global", name), "function", name)
    results = []
    for test in exercise.tests:
        printed = io.StringIO()
        kernel.deadline = time.monotonic() + options.cell_timeout
        message, lines = "", []
        try:
            with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(printed):
                exec(compile(test.source, f"<test {test.grade_id}>", "exec"), namespace)
        except KernelFailure:
            raise
        except CellTimeout as exc:
            message = str(exc)
        except LearnerError as exc:
            message = f"your code raised {exc.learner_type}: {str(exc)[:300]}".rstrip(": ")
            lines = exc.learner_traceback
        except AssertionError as exc:
            message = str(exc)[:1000] or _failed_line(exc, test)
        except Exception as exc:  # the test could not use what the learner's code returned
            message = f"the test could not use what your code returned: {type(exc).__name__}: {str(exc)[:300]}"
            if not test.hidden:
                message += f" ({_failed_line(exc, test)})"
        finally:
            kernel.deadline = None
        output = printed.getvalue()
        results.append(TestResult(test.grade_id, test.points, 0.0 if message else test.points, test.hidden,
                                  message, lines, output[:MAX_TEST_OUTPUT]))
    return results


def _failed_line(exc: BaseException, test) -> str:
    """The line of a visible test that failed (hidden tests' lines are never shown)."""
    if test.hidden:
        return "a hidden test failed"
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == f"<test {test.grade_id}>"]
    if not frames:
        return "a test failed"
    line = test.source.splitlines()[frames[-1].lineno - 1].strip()
    return f"failed: {line[:200]}"


def _apply_penalties(result: Result, exercise: Exercise, static: dict[str, str], reports: list[dict]) -> None:
    by_id = {t.grade_id: t for t in result.tests}
    runtime: dict[str, list[str]] = {}
    for report in reports:
        if report["kind"] == "forbidden" and report.get("function") in exercise.rules:
            runtime.setdefault(report["function"], []).append(f"{report['rule']} ({report['how']})")
    for function in exercise.rules:
        if function not in static and function not in runtime:
            continue
        tests = exercise.tests_of(function)
        hint = f" ({exercise.hints[function]})" if exercise.hints.get(function) else ""
        uses = static.get(function) or "; ".join(dict.fromkeys(runtime[function])) + " at run time"
        result.notes.append(f"`{function}` uses {uses}, which this exercise does not allow{hint}: "
                            f"its tests score 0 ({', '.join(tests)})")
        for gid in tests:
            test = by_id[gid]
            test.score = 0.0
            if not test.message:
                test.message = f"`{function}` uses something this exercise does not allow (see the notes above)"
    if any(r["kind"] == "tamper" for r in reports):
        for test in result.tests:
            test.score = 0.0
            test.message = test.message or "not counted: the notebook interfered with grading"
