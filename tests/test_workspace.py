"""The learner's workspace made by `make lab`: copies of chapters and exercises, never overwritten."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from llmcourse.__main__ import main
from llmcourse.workspace import make_workspace

ROOT = Path(__file__).resolve().parents[1]


def test_workspace_holds_every_chapter_and_exercise(tmp_path):
    report = make_workspace(ROOT, tmp_path / "ws")
    chapters = sorted(p.name for p in (tmp_path / "ws" / "chapters").glob("*.ipynb"))
    assert chapters == sorted(p.name for p in (ROOT / "book").glob("*.ipynb") if p.stem != "intro")
    exercises = sorted(p.relative_to(tmp_path / "ws" / "exercises").as_posix()
                       for p in (tmp_path / "ws" / "exercises").glob("*/*.ipynb"))
    assert exercises == sorted(p.relative_to(ROOT / "notebooks").as_posix() for p in (ROOT / "notebooks").glob("*/*.ipynb"))
    assert len(report.copied) == len(chapters) + len(exercises) and not report.kept
    assert (tmp_path / "ws" / "README.md").is_file()


def test_workspace_never_overwrites_the_learners_work(tmp_path):
    ws = tmp_path / "ws"
    make_workspace(ROOT, ws)
    mine = ws / "exercises" / "ch05_attention" / "ch05_attention.ipynb"
    mine.write_text("my work")
    removed = ws / "chapters" / "ch07_gpt.ipynb"
    removed.unlink()
    report = make_workspace(ROOT, ws)
    assert mine.read_text() == "my work"
    assert report.copied == [removed] and removed.read_bytes() == (ROOT / "book" / "ch07_gpt.ipynb").read_bytes()


def test_workspace_is_ignored_by_git_and_refuses_a_wrong_course(tmp_path, capsys):
    ignored = subprocess.run(["git", "check-ignore", "-q", "workspace/exercises/x.ipynb"], cwd=ROOT)
    assert ignored.returncode == 0, "workspace/ must be git-ignored: learners' edits must never be tracked files"
    assert main(["workspace", str(tmp_path / "ws"), "--course", str(tmp_path)]) == 2
    assert "has no book/ folder" in capsys.readouterr().err
    with pytest.raises(ValueError, match="course folder itself"):
        make_workspace(ROOT, ROOT)
