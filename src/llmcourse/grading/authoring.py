"""Authoring exercise notebooks with cell tags instead of nbgrader's JSON metadata.

An exercise lives in ``solutions/chNN_slug/chNN_slug.ipynb``. Its author marks cells with
**tags** (JupyterLab: right sidebar → *Property Inspector* → *Cell Tags*), never with
hand-written JSON. ``nbgrader generate_assignment`` runs :class:`TagsToNbgrader` first (see
``nbgrader_config.py``), which turns the tags into nbgrader's metadata, strips volatile
metadata, and refuses a malformed notebook with a message naming the cell.

==============  ===========================================================================
tag             meaning
==============  ===========================================================================
``solution``    a code cell the learner fills in; the answer sits between
                ``### BEGIN SOLUTION`` and ``### END SOLUTION`` and is replaced by
                ``raise NotImplementedError()`` in the student version
``tests``       an autograded, read-only test cell; needs ``points:N``; may contain a
                ``### BEGIN HIDDEN TESTS`` … ``### END HIDDEN TESTS`` block
``points:N``    the points a ``tests`` cell is worth (an integer ≥ 1)
``locked``      a read-only cell (instructions, set-up code)
``id:NAME``     a readable, stable grade id (letters, digits, ``_`` and ``-``); defaults to
                the cell's own nbformat id
==============  ===========================================================================

Example (the tags of three cells of an exercise)::

    ["locked"]                       import torch
    ["solution", "id:softmax"]       def softmax(x): ### BEGIN SOLUTION ... ### END SOLUTION
    ["tests", "points:2", "id:test_softmax"]   assert ...

Used by every chapter's exercise; described for authors in ``book/instructors.md``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import nbformat
from nbconvert.preprocessors import Preprocessor
from traitlets import Bool, Unicode

KNOWN_TAGS = {"solution", "tests", "locked"}
_ID_RE = re.compile(r"^[A-Za-z0-9_-]+$")
# Volatile notebook metadata that would make generated student notebooks differ run to run.
_VOLATILE_CELL_METADATA = ("execution", "collapsed", "scrolled", "jp-MarkdownHeadingCollapsed")


class AuthoringError(ValueError):
    """A solution notebook whose tags cannot be turned into nbgrader metadata."""


def _cell_label(index: int, cell: Any) -> str:
    first = (cell.source.strip().splitlines() or [""])[0][:60]
    return f"cell {index} ({cell.cell_type}, starts {first!r})"


def nbgrader_metadata(cell: Any, index: int) -> dict | None:
    """Return the nbgrader metadata that ``cell``'s tags ask for, or ``None`` for a plain cell.

    >>> import nbformat
    >>> c = nbformat.v4.new_code_cell("assert True", metadata={"tags": ["tests", "points:2", "id:t1"]})
    >>> nbgrader_metadata(c, 0)["points"]
    2
    """
    tags = list(cell.get("metadata", {}).get("tags", []))
    kinds = [t for t in tags if t in KNOWN_TAGS]
    points = [t for t in tags if t.startswith("points:")]
    ids = [t for t in tags if t.startswith("id:")]
    where = _cell_label(index, cell)
    if not kinds:
        if points or ids:
            raise AuthoringError(f"{where}: has {points + ids} but no 'solution', 'tests' or 'locked' tag")
        return None
    if len(kinds) > 1:
        raise AuthoringError(f"{where}: tags {kinds} exclude each other; use exactly one")
    if len(ids) > 1:
        raise AuthoringError(f"{where}: more than one id tag: {ids}")
    grade_id = ids[0][3:] if ids else f"cell-{cell.get('id', index)}"
    if not _ID_RE.match(grade_id):
        raise AuthoringError(f"{where}: grade id {grade_id!r} may use only letters, digits, '_' and '-'")
    kind = kinds[0]
    meta: dict[str, Any] = {"grade_id": grade_id, "schema_version": 3}
    if kind == "solution":
        if cell.cell_type != "code":
            raise AuthoringError(f"{where}: 'solution' is for code cells")
        if "### BEGIN SOLUTION" not in cell.source or "### END SOLUTION" not in cell.source:
            raise AuthoringError(f"{where}: a 'solution' cell needs ### BEGIN SOLUTION / ### END SOLUTION")
        meta.update(grade=False, locked=False, solution=True, task=False)
    elif kind == "tests":
        if cell.cell_type != "code":
            raise AuthoringError(f"{where}: 'tests' is for code cells")
        if len(points) != 1 or not points[0][7:].isdigit() or int(points[0][7:]) < 1:
            raise AuthoringError(f"{where}: a 'tests' cell needs exactly one tag 'points:N' with N ≥ 1, got {points}")
        if "### BEGIN SOLUTION" in cell.source:
            raise AuthoringError(f"{where}: a 'tests' cell must not contain a solution block")
        meta.update(grade=True, locked=True, solution=False, task=False, points=int(points[0][7:]))
    else:  # locked
        if points:
            raise AuthoringError(f"{where}: 'locked' cells carry no points")
        meta.update(grade=False, locked=True, solution=False, task=False)
    return meta


def convert_notebook(nb: Any) -> Any:
    """Turn tags into nbgrader metadata in place and strip volatile metadata; returns ``nb``.

    Raises :class:`AuthoringError` naming the cell when tags are malformed or grade ids repeat.
    """
    seen: dict[str, int] = {}
    graded = 0
    for i, cell in enumerate(nb.cells):
        for key in _VOLATILE_CELL_METADATA:
            cell.metadata.pop(key, None)
        meta = nbgrader_metadata(cell, i)
        if meta is None:
            cell.metadata.pop("nbgrader", None)
            continue
        if meta["grade_id"] in seen:
            raise AuthoringError(
                f"{_cell_label(i, cell)}: grade id {meta['grade_id']!r} already used by cell {seen[meta['grade_id']]}"
            )
        seen[meta["grade_id"]] = i
        graded += bool(meta.get("grade"))
        cell.metadata["nbgrader"] = meta
    if graded == 0:
        raise AuthoringError("the notebook has no cell tagged 'tests': there is nothing to grade")
    nb.metadata.pop("widgets", None)
    if "language_info" in nb.metadata:
        nb.metadata["language_info"] = {"name": nb.metadata["language_info"].get("name", "python")}
    return nb


INSTALL_ID = "install"


def repository_url(config: str | Path) -> str:
    """The course repository's address, ``repository.url`` in the book's ``_config.yml`` ("" if unset)."""
    import yaml

    path = Path(config)
    if not path.is_file():
        return ""
    found = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("repository") or {}
    return str(found.get("url") or "").rstrip("/")


def install_cell_source(url: str) -> str:
    """The first cell of every student notebook: installs the course package where it is missing.

    >>> print(install_cell_source("https://example.org/course").splitlines()[-1])
        %pip install --quiet "llmcourse @ git+https://example.org/course"
    """
    if not re.fullmatch(r"https://[\w.-]+(/[\w.~-]+)+", url):
        raise AuthoringError(f"repository url {url!r} in _config.yml is not an https address of a repository")
    return (
        "# Run this cell first. Outside the course's own set-up (a downloaded copy of this notebook,\n"
        "# Colab, your own Python) it installs the course package from the course repository,\n"
        f"# {url}\n"
        "# Where `llmcourse` is already installed, as in `make lab`, it does nothing.\n"
        "import importlib.util\n"
        "\n"
        'if importlib.util.find_spec("llmcourse") is None:\n'
        f'    %pip install --quiet "llmcourse @ git+{url}"'
    )


def add_install_cell(nb: Any, url: str) -> Any:
    """Put the install cell (locked, grade id ``install``) first in ``nb``; returns ``nb``."""
    if any(f"id:{INSTALL_ID}" in cell.metadata.get("tags", []) for cell in nb.cells):
        raise AuthoringError(f"grade id {INSTALL_ID!r} is reserved for the install cell that generation adds")
    cell = nbformat.v4.new_code_cell(install_cell_source(url), metadata={"tags": ["locked", f"id:{INSTALL_ID}"]})
    cell.id = INSTALL_ID
    nb.cells.insert(0, cell)
    return nb


class TagsToNbgrader(Preprocessor):
    """nbgrader preprocessor: cell tags → nbgrader metadata (runs before nbgrader's own).

    With ``repository_url`` set (``nbgrader_config.py`` reads it from ``_config.yml``), the student
    notebook also gets the install cell first.
    """

    # nbconvert's Preprocessor is disabled by default and would be skipped without a word.
    enabled = Bool(True).tag(config=True)
    repository_url = Unicode("", help="the course repository (https) the install cell installs from").tag(config=True)

    def preprocess(self, nb, resources):  # noqa: D102 - nbconvert API
        if self.repository_url:
            add_install_cell(nb, self.repository_url)
        return convert_notebook(nb), resources


def check_solutions(root: str | Path = "solutions") -> list[str]:
    """Check every solution notebook under ``root``; return one problem string per bad notebook."""
    problems = []
    for path in sorted(Path(root).glob("ch*/*.ipynb")):
        if path.parent.name != path.stem:
            problems.append(f"{path}: notebook name must equal its folder name ({path.parent.name})")
            continue
        try:
            convert_notebook(nbformat.read(path, as_version=4))
        except (AuthoringError, nbformat.reader.NotJSONError) as exc:
            problems.append(f"{path}: {exc}")
    return problems


if __name__ == "__main__":
    import sys

    found = check_solutions(sys.argv[1] if len(sys.argv) > 1 else "solutions")
    print("\n".join(found) or "all solution notebooks are well tagged")
    sys.exit(1 if found else 0)
