"""Results into nbgrader's gradebook, and the grader's own CSV, written as each notebook finishes.

Instructors keep nbgrader's tools: every graded submission is written to ``OUT/gradebook.db``
(nbgrader's database: students, submissions, a grade per test cell, the notes as a comment), so
``nbgrader export``, formgrader and any script reading the gradebook work on it, and
``OUT/nbgrader_grades.csv`` is nbgrader's own CSV export of it. ``OUT/grades.csv`` is the
grader's summary with one row per submission — including the ones that could not be graded, with
a status and a reason — rewritten atomically after each result, so a killed run leaves a valid
file and ``--resume`` knows what is done (``OUT/results/<student>/<assignment>.json``).
"""

from __future__ import annotations

import csv
import json
import os
import tempfile
import warnings
from pathlib import Path

from llmcourse.grading.runner import GRADED, Result

CSV_COLUMNS = ["student", "assignment", "score", "max_score", "status", "message"]


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see the old or the new file, never a part."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
        f.write(text)
    os.replace(tmp, path)


def write_csv(path: Path, results: list[Result]) -> None:
    """The grader's CSV, one row per submission, sorted by student then assignment."""
    lines = []

    class _Sink:
        def write(self, text: str) -> None:
            lines.append(text)

    writer = csv.DictWriter(_Sink(), fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(r.row() for r in sorted(results, key=lambda r: (r.student, r.assignment)))
    write_atomic(path, "".join(lines))


def result_path(out: Path, student: str, assignment: str) -> Path:
    return out / "results" / student / f"{assignment or '_'}.json"


def save_result(out: Path, result: Result) -> None:
    write_atomic(result_path(out, result.student, result.assignment), json.dumps(result.to_json()))


def load_results(out: Path) -> dict[tuple[str, str], Result]:
    """Results of an earlier run (for ``--resume``); unreadable files are ignored (re-graded)."""
    found = {}
    for path in sorted((out / "results").glob("*/*.json")):
        try:
            result = Result.from_json(json.loads(path.read_text(encoding="utf-8")))
        except (ValueError, TypeError, KeyError, OSError):
            continue
        found[(result.student, result.assignment)] = result
    return found


def record(db_url: str, result: Result) -> None:
    """Write one graded submission into nbgrader's gradebook (replacing an earlier one)."""
    if result.status not in GRADED + ("tampered",):
        return
    from nbgrader.api import Gradebook, MissingEntry
    from sqlalchemy.exc import SAWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SAWarning)
        with Gradebook(db_url) as gb:
            gb.update_or_create_student(result.student)
            try:
                gb.remove_submission(result.assignment, result.student)
            except MissingEntry:
                pass
            gb.add_submission(result.assignment, result.student)
            notebook = gb.find_submission_notebook(result.assignment, result.assignment, result.student)
            for test in result.tests:
                grade = gb.find_grade(test.grade_id, result.assignment, result.assignment, result.student)
                grade.auto_score = test.score
                grade.needs_manual_grade = False
            for comment in notebook.comments:
                comment.auto_comment = result.message[:10_000]
                break
            gb.db.commit()


def export_nbgrader_csv(db_url: str, path: Path) -> None:
    """nbgrader's own CSV export of the gradebook (its columns)."""
    from nbgrader.api import Gradebook
    from nbgrader.plugins.export import CsvExportPlugin

    with Gradebook(db_url) as gb:
        plugin = CsvExportPlugin()
        plugin.to = str(path)
        plugin.export(gb)
