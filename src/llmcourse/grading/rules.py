"""Forbidden entries and the parsing helpers shared by the static and the kernel-side checks.

A forbidden entry is either

* a dotted name — ``"torch.softmax"``, ``"torch.nn.functional.softmax"``,
  ``"llmcourse.intro"`` (a whole module, and everything in it), or
* a method name written with a leading dot — ``".softmax"`` (any attribute access
  ``something.softmax``, e.g. ``logits.softmax(-1)``).

Each exercise lists, per graded function, what it forbids (``NOT_ALLOWED`` in its set-up cell).
Three checks read the lists: :mod:`llmcourse.grading.static` on the code, in the grader;
:func:`llmcourse.grading.check_forbidden` in the learner's kernel, when they validate; and
:mod:`llmcourse.grading.monitor` at run time, in the sandbox.
"""

from __future__ import annotations

import ast
import importlib
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)


@dataclass(frozen=True)
class Finding:
    """One forbidden use: ``rule`` (the forbidden entry) written as ``written`` at ``line``.

    ``cell`` is the index of the notebook cell (in the list given to the check) or ``None``.
    """

    line: int
    rule: str
    written: str
    cell: int | None = None

    def where(self) -> str:
        """``"line 3"`` or ``"cell 2, line 3"``."""
        return f"line {self.line}" if self.cell is None else f"cell {self.cell}, line {self.line}"

    def __str__(self) -> str:
        what = f"the method {self.rule}" if self.rule.startswith(".") else self.rule
        if self.written and self.written != self.rule:
            return f"{what} ({self.where()}, written `{self.written}`)"
        return f"{what} ({self.where()})"


# --------------------------------------------------------------------------- parsing

def parse(source: str) -> ast.Module:
    """Parse Python source, first turning IPython syntax (``%magic``, ``!cmd``) into calls."""
    try:
        return ast.parse(source)
    except SyntaxError:
        from IPython.core.inputtransformer2 import TransformerManager

        return ast.parse(TransformerManager().transform_cell(source))


def parse_cells(cells: Iterable[str]) -> list[tuple[int, ast.Module]]:
    """Parse each cell; cells that are not valid Python are skipped (they define nothing)."""
    trees = []
    for index, source in enumerate(cells):
        try:
            trees.append((index, parse(source)))
        except (SyntaxError, ValueError):
            continue
    return trees


def is_str(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, str)


def text(node: ast.AST) -> str:
    try:
        return ast.unparse(node)
    except Exception:  # pragma: no cover - unparse handles every node ast.parse makes
        return type(node).__name__


# --------------------------------------------------------------------------- forbidden entries

def normalise(forbidden: Iterable[str]) -> list[str]:
    if isinstance(forbidden, str):
        raise TypeError(f"forbidden must be a list of names, got the single string {forbidden!r}")
    rules = []
    for entry in forbidden:
        entry = str(entry).strip()
        body = entry[1:] if entry.startswith(".") else entry
        if not body or not all(part.isidentifier() for part in body.split(".")):
            raise ValueError(f"forbidden entry {entry!r} is neither a dotted name nor '.method'")
        if entry.startswith(".") and "." in body:
            raise ValueError(f"forbidden method entry {entry!r} must be one name, like '.softmax'")
        rules.append(entry)
    return rules


def match_dotted(dotted: str, rules: Sequence[str]) -> int | None:
    """Index of the first dotted rule equal to ``dotted`` or a module/object containing it."""
    for i, rule in enumerate(rules):
        if not rule.startswith(".") and (dotted == rule or dotted.startswith(rule + ".")):
            return i
    return None


def match_method(attr: str, rules: Sequence[str]) -> int | None:
    for i, rule in enumerate(rules):
        if rule.startswith(".") and rule[1:] == attr:
            return i
    return None


def related(module: str, rules: Sequence[str]) -> bool:
    return any(not r.startswith(".") and (module == r or module.startswith(r + ".") or r.startswith(module + "."))
               for r in rules)


STAR_CACHE: dict[str, set[str] | None] = {}


def star_exports(module: str) -> set[str] | None:
    """Names ``from module import *`` binds, or ``None`` when unknown (then assume any name).

    Only called for modules named by the exercise's own forbidden list (trusted code).
    """
    if module not in STAR_CACHE:
        try:
            mod = sys.modules.get(module) or importlib.import_module(module)
            names = getattr(mod, "__all__", None)
            STAR_CACHE[module] = set(names) if names is not None else {n for n in dir(mod) if not n[0] == "_"}
        except Exception:
            STAR_CACHE[module] = None
    return STAR_CACHE[module]


def loaded_object(dotted: str) -> Any:
    """The object a dotted name refers to, looked up only in modules already imported."""
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        module = sys.modules.get(".".join(parts[:i]))
        if module is None:
            continue
        obj = module
        for attr in parts[i:]:
            obj = getattr(obj, attr, None)
            if obj is None:
                return None
        return obj
    return None
