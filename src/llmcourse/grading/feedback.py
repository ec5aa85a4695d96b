"""The feedback page a learner receives: their notebook, each test's result, no hidden test code.

Rendered from ``templates/feedback.html.j2`` (Jinja2, autoescaped). Markdown from the release
(instructions) is rendered; everything the learner wrote — code, outputs, their own markdown —
is shown as escaped text. Test cells show the release's source (visible tests in full, hidden
tests as the one-line comment the release keeps) and the result: points, and for a failure the
message the test's author wrote, plus the learner's own lines of a traceback from their code.
"""

from __future__ import annotations

from pathlib import Path

import jinja2

from llmcourse.grading.exercise import Exercise
from llmcourse.grading.gradebook import write_atomic
from llmcourse.grading.notebook import grade_id
from llmcourse.grading.runner import Result

_ENV = jinja2.Environment(loader=jinja2.PackageLoader("llmcourse.grading", "templates"),
                          autoescape=True, trim_blocks=True, lstrip_blocks=True)


def _markdown(text: str) -> str:
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False}).enable("table").render(text)


def render(result: Result, exercise: Exercise | None) -> str:
    """The feedback page as HTML."""
    blocks = []
    tests = {t.grade_id: t for t in result.tests}
    answers = {c.grade_id: c for c in result.cells if c.grade_id}
    for cell in exercise.release.cells if exercise is not None else []:
        gid = grade_id(cell)
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "markdown":
            blocks.append({"kind": "markdown", "html": _markdown(cell.source)})
        elif meta.get("grade"):
            blocks.append({"kind": "test", "source": cell.source, "result": tests.get(gid)})
        elif cell.cell_type == "code":
            learner = answers.get(gid)
            title = f"your answer ({gid})" if meta.get("solution") else "set-up (read-only)"
            source = learner.source if learner else cell.source if not meta.get("solution") else "(not in your notebook)"
            blocks.append({"kind": "code", "title": title, "source": source, "cell": learner})
    extra = [c for c in result.cells if not c.grade_id and c.source.strip()]
    return _ENV.get_template("feedback.html.j2").render(result=result, blocks=blocks, extra=extra)


def write_feedback(path: Path, result: Result, exercise: Exercise | None) -> None:
    write_atomic(path, render(result, exercise))
