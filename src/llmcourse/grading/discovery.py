"""Finding the submissions in a folder or a zip; every entry ends up graded or explained.

The layout is nbgrader's *submitted* folder::

    <student>/<assignment>/<assignment>.ipynb       e.g. alice/ch00_intro/ch00_intro.ipynb
    <student>/<assignment>.ipynb                    also accepted

A zip may hold that layout at its top level or inside one folder. Names starting with ``.``,
``__MACOSX`` and ``__pycache__`` are ignored; a lone notebook with another name inside an
assignment folder is graded and the renaming noted. What cannot be graded still gets a
:class:`Submission` with a status and a reason — an unknown assignment, a folder without a
notebook, a zip entry skipped for a path outside the archive or a symbolic link — so it gets a
row in the CSV, never silence.
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

IGNORED = re.compile(r"^(\.|__MACOSX$|__pycache__$)")
MAX_ZIP_BYTES = 4 * 2**30


@dataclass
class Submission:
    """One (student, assignment) pair; ``status`` is set when there is nothing to grade."""

    student: str
    assignment: str
    notebook: Path | None = None
    status: str = ""
    message: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def key(self) -> tuple[str, str]:
        return self.student, self.assignment


def _visible(path: Path) -> list[Path]:
    return sorted(p for p in path.iterdir() if not IGNORED.match(p.name))


def submissions_root(root: Path, known: set[str]) -> Path:
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
        if student_dir.is_symlink():
            found[(student_dir.name, "")] = Submission(student_dir.name, "", status="skipped",
                                                       message="a symbolic link, not a folder: not followed")
            continue
        if not student_dir.is_dir():
            continue
        student = student_dir.name
        before = len(found)
        for entry in _visible(student_dir):
            if entry.is_dir() and not entry.is_symlink():
                assignment = entry.name
                notebooks = [p for p in _visible(entry) if p.suffix == ".ipynb" and p.is_file() and not p.is_symlink()]
            elif entry.suffix == ".ipynb" and not entry.is_symlink():
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


def extract_zip(path: Path, dest: Path) -> list[Submission]:
    """Extract a zip of submissions safely; return a row for every entry it refused to extract.

    Refused: absolute paths, ``..`` components, symbolic links. The row names the student (the
    first path component, when there is one) so the instructor sees whose file was skipped.
    """
    skipped = []
    with zipfile.ZipFile(path) as archive:
        members = archive.infolist()
        if sum(m.file_size for m in members) > MAX_ZIP_BYTES:
            raise ValueError(f"{path}: more than {MAX_ZIP_BYTES / 2**30:.0f} GiB uncompressed; is this the right zip?")
        for member in members:
            parts = PurePosixPath(member.filename.replace("\\", "/")).parts
            if member.filename.startswith(("/", "\\")) or ".." in parts or (member.external_attr >> 28) == 0o12:
                reason = "a symbolic link" if (member.external_attr >> 28) == 0o12 else "a path outside the archive"
                clean = [p for p in parts if p not in ("/", "..", ".")]
                student = clean[0] if clean else member.filename
                skipped.append(Submission(student[:100], "", status="skipped",
                                          message=f"zip entry {member.filename!r} is {reason}: not extracted"))
                continue
            archive.extract(member, dest)
    return skipped
