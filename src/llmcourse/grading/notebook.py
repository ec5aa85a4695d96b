"""A submitted notebook: read safely, and restored where the learner may not change it.

:func:`read_notebook` turns any file into a notebook or a readable reason (not JSON, too big,
too deep, not a notebook). :func:`repair` puts back what a learner may not change — read-only and
test cells edited, deleted or stripped of their metadata, inflated points — from the release,
and says what it did; the grader runs test cells from the instructor's source anyway, so a
repair never changes what is tested, only what the feedback shows. :func:`fill_solutions`
answers a release notebook the way a learner would (the solution, or a typical wrong answer):
the exercise tests use it.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import nbformat
import nbformat.validator
from nbformat import NotebookNode

from llmcourse.grading.authoring import nbgrader_metadata

MAX_NOTEBOOK_BYTES = 50 * 2**20


def grade_id(cell) -> str | None:
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
    graded = {grade_id(c): c for c in release.cells if grade_id(c)}
    by_cell_id = {c.get("id"): c for c in release.cells if grade_id(c)}
    matched: set[str] = set()
    for i, cell in enumerate(nb.cells):
        gid = grade_id(cell)
        old = cell.metadata.get("nbgrader")
        old = old if isinstance(old, dict) else {}
        if gid in graded and gid not in matched:
            original = graded[gid]
        elif gid not in matched and cell.get("id") in by_cell_id and grade_id(by_cell_id[cell["id"]]) not in matched:
            original = by_cell_id[cell["id"]]
            notes.append(f"{_describe(original)} had lost its grading metadata; it was restored")
            old = {}
        else:
            if gid is not None:
                cell.metadata.pop("nbgrader", None)
                if gid in matched:
                    notes.append(f"a copy of cell `{gid}` was run as an ordinary cell, not graded")
            continue
        gid = grade_id(original)
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
        gid = grade_id(original)
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
        gid, cid = grade_id(cell), cell.get("id")
        for j, c in enumerate(nb.cells):
            if (gid and grade_id(c) == gid) or (not gid and cid and c.get("id") == cid):
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
        gid = grade_id(cell)
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
    except RecursionError:
        raise ValueError("valid JSON nested too deeply to be a notebook") from None
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
