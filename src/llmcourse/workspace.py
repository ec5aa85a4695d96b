"""The learner's workspace: copies of the chapters and exercises to work in, outside the tracked files.

``make lab`` (``python -m llmcourse workspace``) fills ``workspace/`` — a folder git ignores — and
opens JupyterLab there, so a learner's edits and Validate's changes never touch a tracked file and
``git pull`` never conflicts with them::

    workspace/
        README.md
        chapters/chNN_slug.ipynb                 the book's chapters, with their stored outputs
        exercises/chNN_slug/chNN_slug.ipynb      the student versions of the exercises

A file already in the workspace is never overwritten: it is the learner's work. A chapter or
exercise added to the course later is copied in on the next run. To start an exercise afresh,
delete (or rename) its copy and run ``make lab`` again.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

README = """\
# Your workspace

`make lab` made this folder from the course and opened JupyterLab in it. Git ignores it, so
what you change here is yours: `git pull` updates the course and never touches these files.

- `chapters/` — the book's chapters. Run them, change them, break them.
- `exercises/chNN_slug/chNN_slug.ipynb` — the exercises. Fill in the cells marked
  `# YOUR CODE HERE`, run the tests under each task, press **Validate** in the notebook's
  toolbar, and hand in the file as your instructor says.

`make lab` copies only what is missing here: a chapter or exercise added to the course later
appears on the next run, and your files are never overwritten. To start an exercise again,
delete or rename your copy and run `make lab`.
"""


@dataclass
class WorkspaceReport:
    """What :func:`make_workspace` did: the paths it copied and the ones it left as they were."""

    copied: list[Path] = field(default_factory=list)
    kept: list[Path] = field(default_factory=list)

    def summary(self) -> str:
        return (f"workspace: {len(self.copied)} notebook(s) copied in, "
                f"{len(self.kept)} already there and left as they are")


def make_workspace(course: str | Path, dest: str | Path) -> WorkspaceReport:
    """Copy the chapters (``book/ch*.ipynb``, ``book/appendix_*.ipynb``) and exercises
    (``notebooks/<a>/<a>.ipynb``) of the course folder ``course`` into ``dest``, never overwriting.

    Raises:
        FileNotFoundError: ``course`` has no ``book/`` or ``notebooks/`` folder.
    """
    course, dest = Path(course).resolve(), Path(dest).resolve()
    for needed in ("book", "notebooks"):
        if not (course / needed).is_dir():
            raise FileNotFoundError(f"{course} has no {needed}/ folder: run from the course repository's root")
    if dest == course:
        raise ValueError("the workspace cannot be the course folder itself")
    pairs = [(p, dest / "chapters" / p.name)
             for p in sorted([*(course / "book").glob("ch*.ipynb"), *(course / "book").glob("appendix_*.ipynb")])]
    pairs += [(p, dest / "exercises" / p.parent.name / p.name)
              for p in sorted((course / "notebooks").glob("*/*.ipynb")) if p.stem == p.parent.name]
    report = WorkspaceReport()
    for source, target in pairs:
        if target.exists():
            report.kept.append(target)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        report.copied.append(target)
    readme = dest / "README.md"
    if not readme.exists():
        readme.write_text(README, encoding="utf-8")
    return report
