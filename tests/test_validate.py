"""What a learner sees when pressing *Validate* in JupyterLab (nbgrader's Validator).

A correct notebook validates; the untouched one fails; one that calls a forbidden function fails
with the message that names the call — the learner is warned before submitting.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path

import nbformat
import pytest
from nbgrader.validator import Validator

from llmcourse.grading.notebook import fill_solutions

ROOT = Path(__file__).resolve().parents[1]
A = "ch00_intro"


def _validate(nb, tmp_path: Path, name: str) -> dict:
    path = tmp_path / name
    nbformat.write(nb, path)
    return Validator().validate(str(path))


def _errors(result: dict) -> str:
    text = " ".join(f.get("error", "") for f in result.get("failed", []))
    return re.sub(r"<[^>]+>", "", text)


@pytest.fixture(scope="module")
def notebooks():
    release = nbformat.read(ROOT / "notebooks" / A / f"{A}.ipynb", as_version=4)
    source = nbformat.read(ROOT / "solutions" / A / f"{A}.ipynb", as_version=4)
    return release, fill_solutions(release, source)


def test_correct_notebook_validates(notebooks, tmp_path):
    _, good = notebooks
    assert _validate(good, tmp_path, "good.ipynb") == {}


def test_untouched_notebook_fails_validation(notebooks, tmp_path):
    release, _ = notebooks
    result = _validate(release, tmp_path, "blank.ipynb")
    assert len(result.get("failed", [])) >= 3 and "NotImplementedError" in _errors(result)


def test_forbidden_call_is_reported_by_validate(notebooks, tmp_path):
    _, good = notebooks
    cheat = copy.deepcopy(good)
    for cell in cheat.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "softmax":
            cell.source = "def softmax(logits, dim=-1):\n    return torch.softmax(logits, dim=dim)\n"
    result = _validate(cheat, tmp_path, "cheat.ipynb")
    assert result.get("failed"), "validate should fail a notebook that calls torch.softmax"
    assert "torch.softmax" in _errors(result) and "does not allow" in _errors(result)
