"""Forbidden calls, as the learner's kernel and the grader's test cells see them.

An exercise that asks the learner to *build* softmax cannot accept ``torch.softmax``, nor the
package's own ``llmcourse.intro.softmax``. Each test cell starts with::

    check_forbidden(softmax, NOT_ALLOWED["softmax"], hint="build it from exp, max and sum")

In the learner's kernel (JupyterLab's *Validate*) this runs the static check on the function's
code and fails with a message naming the line. When the grader runs the test cell, ``softmax`` is
a proxy for the learner's function in the sandbox, and the same line asks the grader's own
findings (static and run-time) instead. The grader also reads these lines
(:func:`parse_forbidden_checks`) to learn which function each test cell grades and what it may
not use. See :mod:`llmcourse.grading.rules` for the forms an entry takes.
"""

from __future__ import annotations

import ast
import inspect
import sys
import textwrap
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from llmcourse.grading.rules import loaded_object, normalise, parse, parse_cells, text
from llmcourse.grading.static import _Binding, _Module, _Scanner, _UserDef

def _history() -> list[str]:
    """The cells run so far in this IPython kernel (``In``/``_ih``), or ``[]`` outside IPython."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    if shell is None:
        return []
    return [str(cell) for cell in (shell.user_ns.get("_ih") or shell.user_ns.get("In") or [])]


def _module_source(func: Callable) -> list[str]:
    """Outside IPython: the source of the module that defines ``func``, if there is one."""
    try:
        return [inspect.getsource(inspect.getmodule(func))]
    except (OSError, TypeError):
        return []


def _live_resolver(func: Callable, rules: Sequence[str]) -> Callable[[str], str | None]:
    """Resolve a global name through the kernel's live objects (modules and forbidden objects)."""
    namespace = getattr(func, "__globals__", {})
    objects = [(rule, loaded_object(rule)) for rule in rules if not rule.startswith(".")]

    def resolve(name: str) -> str | None:
        if name not in namespace:
            return None
        obj = namespace[name]
        if inspect.ismodule(obj):
            return obj.__name__
        for rule, forbidden_obj in objects:
            if forbidden_obj is not None and obj is forbidden_obj:
                return rule
        return None

    return resolve


def check_forbidden(func: Callable, forbidden: Iterable[str], *, notebook_source: str | Sequence[str] | None = None,
                    hint: str = "") -> None:
    """Fail (``AssertionError``) when the learner's ``func`` uses something the exercise forbids.

    Meant as the first line of an exercise's test cells. The function's own source comes from
    ``inspect.getsource``; names it uses are resolved against ``notebook_source`` (a string or a
    list of cell sources) or, by default, the cells run so far in this kernel, so an alias made
    in an earlier cell (``import torch.nn.functional as F``) is seen through.

    Args:
        func: the learner's function, e.g. ``softmax``.
        forbidden: dotted names and ``.method`` names, see the module docstring.
        notebook_source: the code to find imports in (default: this kernel's history).
        hint: what to do instead, appended to the message (e.g. ``"build it from exp, max and sum"``).

    Example:
        >>> def double(x):
        ...     return x * 2
        >>> check_forbidden(double, ["torch.softmax"], notebook_source="")  # passes silently
    """
    __tracebackhide__ = True  # IPython and pytest show the learner our message, not our frames
    rules = normalise(forbidden)
    grader_check = getattr(type(func), "__llmcourse_forbidden_check__", None)
    if grader_check is not None:  # a test cell run by the grader: `func` is a proxy into the sandbox
        return grader_check(func, rules, hint)
    name = getattr(func, "__name__", repr(func))
    advice = f": {hint}" if hint else ""
    try:
        own_source = textwrap.dedent(inspect.getsource(func))
    except (OSError, TypeError):
        for rule in rules:
            if not rule.startswith(".") and loaded_object(rule) is func:
                raise AssertionError(f"`{name}` is {rule}, which this exercise does not allow{advice}") from None
        raise AssertionError(
            f"could not read the source code of `{name}` ({type(func).__name__}): write it as "
            f"`def {name}(...):` in a cell of this notebook and run that cell") from None

    if notebook_source is None:
        cells = _history() or _module_source(func)
    elif isinstance(notebook_source, str):
        cells = [notebook_source]
    else:
        cells = list(notebook_source)
    module = _Module(rules, fallback=_live_resolver(func, rules))
    for _, tree in parse_cells(cells):
        module.add(tree, None)

    try:
        tree = parse(own_source)
    except SyntaxError:
        return  # e.g. a lambda in the middle of an expression: nothing reliable to check
    target = next((n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
                   and n.name == name), None)
    if target is None:
        target = next((n for n in ast.walk(tree) if isinstance(n, ast.Lambda)), tree)
    module.bindings[name] = _Binding(module._order + 1, _UserDef(target, None), 0, None)  # recursion: same code
    code = getattr(func, "__code__", None)
    offset = code.co_firstlineno - 1 if code is not None else 0  # report lines of the cell, not the snippet
    scanner = _Scanner(module, rules)
    scanner.scan(target, None, offset=offset)
    findings = scanner.sorted_findings()
    if findings:
        uses = "; ".join(str(f) for f in findings)
        raise AssertionError(f"`{name}` uses {uses}, which this exercise does not allow{advice}")


# --------------------------------------------------------------------------- reading test cells

@dataclass(frozen=True)
class ForbiddenCheck:
    """A ``check_forbidden(function, forbidden, hint=...)`` call found in a test cell."""

    function: str
    forbidden: tuple[str, ...]
    hint: str = ""


def _constant(node: ast.AST, constants: dict[str, Any]) -> Any:
    if isinstance(node, ast.Name) and node.id in constants:
        return constants[node.id]
    if isinstance(node, ast.Subscript):
        container = _constant(node.value, constants)
        key = _constant(node.slice, constants)
        return container[key]
    return ast.literal_eval(node)


def module_constants(cells: Iterable[str]) -> dict[str, Any]:
    """Module-level ``NAME = <literal>`` assignments in some code cells (later ones win)."""
    constants: dict[str, Any] = {}
    for _, tree in parse_cells(cells):
        for stmt in tree.body:
            if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
                try:
                    constants[stmt.targets[0].id] = ast.literal_eval(stmt.value)
                except ValueError:
                    pass
    return constants


def parse_forbidden_checks(source: str, constants: dict[str, Any] | None = None) -> list[ForbiddenCheck]:
    """The ``check_forbidden(...)`` calls in a test cell's source.

    The forbidden list may be a literal or a name (or ``NAME["key"]``) bound to a literal in
    ``constants`` (see :func:`module_constants`).

    Raises:
        ValueError: when a call's function or list cannot be read statically.

    Example:
        >>> parse_forbidden_checks('check_forbidden(softmax, ["torch.softmax"], hint="use exp")')
        [ForbiddenCheck(function='softmax', forbidden=('torch.softmax',), hint='use exp')]
    """
    constants = constants or {}
    checks = []
    for node in ast.walk(parse(source)):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        called = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
        if called != "check_forbidden":
            continue
        where = f"line {node.lineno}: {text(node)}"
        if len(node.args) < 2 or not isinstance(node.args[0], ast.Name):
            raise ValueError(f"{where}: expected check_forbidden(<function name>, <forbidden list>, ...)")
        try:
            forbidden = _constant(node.args[1], constants)
            hint = next((_constant(k.value, constants) for k in node.keywords if k.arg == "hint"), "")
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{where}: the forbidden list must be a literal or a constant of the notebook ({exc})")
        checks.append(ForbiddenCheck(node.args[0].id, tuple(normalise(forbidden)), str(hint)))
    return checks
