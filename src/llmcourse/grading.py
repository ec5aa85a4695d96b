"""Exercise checks shared by every chapter: calls that an exercise does not allow.

An exercise that asks the learner to *build* softmax cannot accept ``torch.softmax``, nor the
package's own ``llmcourse.intro.softmax``. Each exercise lists what it forbids, per function,
and two places run the same static check (nothing is executed, nothing is monkeypatched):

* in the learner's kernel, as the first line of every test cell::

      check_forbidden(softmax, NOT_ALLOWED["softmax"], hint="build it from exp, max and sum")

  which fails the test with a message naming the line (JupyterLab's *Validate* shows it);
* in the grader (:mod:`llmcourse.grade`), outside the kernel, on the submitted notebook: the
  authoritative check, which zeroes the test cells of an offending function.

A forbidden entry is either

* a dotted name — ``"torch.softmax"``, ``"torch.nn.functional.softmax"``,
  ``"llmcourse.intro"`` (a whole module, and everything in it), or
* a method name written with a leading dot — ``".softmax"`` (any attribute access
  ``something.softmax``, e.g. ``logits.softmax(-1)``).

The grader learns each exercise's lists from the ``check_forbidden(...)`` calls in the source
notebook's test cells (:func:`parse_forbidden_checks`): the first argument is the function's
name, the list is a literal or a notebook constant bound to a literal (``NOT_ALLOWED["softmax"]``
with ``NOT_ALLOWED = {...}`` in a read-only cell). Test cells should not define helper
functions that call a forbidden function under a name a learner might also use.

Import aliases are resolved the way Python binds names: ``import torch.nn.functional as F``,
``from torch import softmax as s``, ``from llmcourse import intro``, star imports, a
module-level ``sm = torch.softmax``, ``getattr(torch, "softmax")``, and helper functions that
the checked function calls. Deliberate obfuscation (``eval``, names built from strings at run
time) is out of reach of a static check; the hidden tests and a human reader remain.

Used by every chapter's exercise (Chapter 00 introduces it).
"""

from __future__ import annotations

import ast
import importlib
import inspect
import sys
import textwrap
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["Finding", "ForbiddenCheck", "forbidden_uses", "forbidden_uses_in_cells", "check_forbidden",
           "module_constants", "parse_forbidden_checks"]

_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)


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

def _parse(source: str) -> ast.Module:
    """Parse Python source, first turning IPython syntax (``%magic``, ``!cmd``) into calls."""
    try:
        return ast.parse(source)
    except SyntaxError:
        from IPython.core.inputtransformer2 import TransformerManager

        return ast.parse(TransformerManager().transform_cell(source))


def _parse_cells(cells: Iterable[str]) -> list[tuple[int, ast.Module]]:
    """Parse each cell; cells that are not valid Python are skipped (they define nothing)."""
    trees = []
    for index, source in enumerate(cells):
        try:
            trees.append((index, _parse(source)))
        except (SyntaxError, ValueError):
            continue
    return trees


def _is_str(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, str)


def _text(node: ast.AST) -> str:
    try:
        return ast.unparse(node)
    except Exception:  # pragma: no cover - unparse handles every node ast.parse makes
        return type(node).__name__


# --------------------------------------------------------------------------- forbidden entries

def _normalise(forbidden: Iterable[str]) -> list[str]:
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


def _match_dotted(dotted: str, rules: Sequence[str]) -> int | None:
    """Index of the first dotted rule equal to ``dotted`` or a module/object containing it."""
    for i, rule in enumerate(rules):
        if not rule.startswith(".") and (dotted == rule or dotted.startswith(rule + ".")):
            return i
    return None


def _match_method(attr: str, rules: Sequence[str]) -> int | None:
    for i, rule in enumerate(rules):
        if rule.startswith(".") and rule[1:] == attr:
            return i
    return None


def _related(module: str, rules: Sequence[str]) -> bool:
    return any(not r.startswith(".") and (module == r or module.startswith(r + ".") or r.startswith(module + "."))
               for r in rules)


_STAR_CACHE: dict[str, set[str] | None] = {}


def _star_exports(module: str) -> set[str] | None:
    """Names ``from module import *`` binds, or ``None`` when unknown (then assume any name).

    Only called for modules named by the exercise's own forbidden list (trusted code).
    """
    if module not in _STAR_CACHE:
        try:
            mod = sys.modules.get(module) or importlib.import_module(module)
            names = getattr(mod, "__all__", None)
            _STAR_CACHE[module] = set(names) if names is not None else {n for n in dir(mod) if not n[0] == "_"}
        except Exception:
            _STAR_CACHE[module] = None
    return _STAR_CACHE[module]


def _loaded_object(dotted: str) -> Any:
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


# --------------------------------------------------------------------------- module-level names

@dataclass
class _UserDef:
    """A function, lambda or class the learner wrote (followed when the checked function calls it)."""

    node: ast.AST
    cell: int | None


@dataclass
class _Binding:
    order: int
    value: str | _UserDef | None  # dotted name of an import/alias, a user definition, or unknown
    line: int
    cell: int | None


def _module_statements(body: list[ast.stmt]):
    """Statements that run at module level, in order, including those nested in if/try/with/for."""
    for stmt in body:
        yield stmt
        if isinstance(stmt, _SCOPES):
            continue
        for field in ("body", "orelse", "finalbody"):
            yield from _module_statements(getattr(stmt, field, None) or [])
        for handler in getattr(stmt, "handlers", None) or []:
            yield from _module_statements(handler.body)
        for case in getattr(stmt, "cases", None) or []:
            yield from _module_statements(case.body)


class _Module:
    """The module-level names of some code, as bound after running it top to bottom."""

    def __init__(self, rules: Sequence[str], fallback: Callable[[str], str | None] | None = None):
        self.rules = rules
        self.fallback = fallback
        self.bindings: dict[str, _Binding] = {}
        self.stars: list[tuple[int, str]] = []
        self._order = 0

    def _bind(self, name: str, value: str | _UserDef | None, node: ast.AST, cell: int | None) -> None:
        self._order += 1
        self.bindings[name] = _Binding(self._order, value, getattr(node, "lineno", 0), cell)

    def add(self, tree: ast.Module, cell: int | None = None) -> None:
        for stmt in _module_statements(tree.body):
            if isinstance(stmt, ast.Import):
                for alias in stmt.names:
                    if alias.asname:
                        self._bind(alias.asname, alias.name, stmt, cell)
                    else:
                        top = alias.name.split(".")[0]
                        self._bind(top, top, stmt, cell)
            elif isinstance(stmt, ast.ImportFrom):
                module = "." * stmt.level + (stmt.module or "")
                for alias in stmt.names:
                    if alias.name == "*":
                        self._order += 1
                        self.stars.append((self._order, module))
                    else:
                        self._bind(alias.asname or alias.name, f"{module}.{alias.name}", stmt, cell)
            elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                self._bind(stmt.name, _UserDef(stmt, cell), stmt, cell)
            elif isinstance(stmt, (ast.Assign, ast.AnnAssign)) and stmt.value is not None:
                targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
                if len(targets) == 1 and isinstance(targets[0], ast.Name):
                    value = stmt.value
                    bound = _UserDef(value, cell) if isinstance(value, ast.Lambda) else self.dotted(value)
                    self._bind(targets[0].id, bound, stmt, cell)
                else:
                    self._bind_stores(targets, stmt, cell)
            elif isinstance(stmt, (ast.AugAssign, ast.For, ast.AsyncFor)):
                self._bind_stores([stmt.target], stmt, cell)
            elif isinstance(stmt, (ast.With, ast.AsyncWith)):
                self._bind_stores([item.optional_vars for item in stmt.items if item.optional_vars], stmt, cell)

    def _bind_stores(self, targets: list[ast.AST], stmt: ast.AST, cell: int | None) -> None:
        for target in targets:
            for node in ast.walk(target):
                if isinstance(node, ast.Name):
                    self._bind(node.id, None, stmt, cell)

    def resolve(self, name: str) -> str | _UserDef | None:
        """What a global ``name`` refers to after the whole module ran (``None``: unknown/builtin)."""
        binding = self.bindings.get(name)
        for order, module in reversed(self.stars):
            if binding is not None and order < binding.order:
                break
            if _related(module, self.rules):
                exports = _star_exports(module)
                if exports is None or name in exports:
                    return f"{module}.{name}"
        if binding is not None and binding.value is not None:
            return binding.value
        return self.fallback(name) if self.fallback else None

    def dotted(self, expr: ast.AST, resolve: Callable[[str], Any] | None = None) -> str | None:
        """The dotted name an expression refers to (``F.softmax`` → ``torch.nn.functional.softmax``)."""
        resolve = resolve or self.resolve
        if isinstance(expr, ast.Name):
            target = resolve(expr.id)
            return target if isinstance(target, str) else None
        if isinstance(expr, ast.Attribute):
            base = self.dotted(expr.value, resolve)
            return f"{base}.{expr.attr}" if base else None
        if isinstance(expr, ast.Call):
            func, args = expr.func, expr.args
            if isinstance(func, ast.Name) and func.id == "getattr" and len(args) >= 2 and _is_str(args[1]):
                base = self.dotted(args[0], resolve)
                return f"{base}.{args[1].value}" if base else None
            if len(args) == 1 and _is_str(args[0]) and (
                (isinstance(func, ast.Name) and func.id == "__import__")
                or self.dotted(func, resolve) == "importlib.import_module"
            ):
                return args[0].value
        return None


# --------------------------------------------------------------------------- scanning code

def _params(node: ast.AST) -> set[str]:
    args = getattr(node, "args", None)
    if not isinstance(args, ast.arguments):
        return set()
    every = args.posonlyargs + args.args + args.kwonlyargs + [a for a in (args.vararg, args.kwarg) if a]
    return {a.arg for a in every}


def _scope_nodes(node: ast.AST):
    """Nodes of ``node``'s own scope; nested functions/lambdas/classes are yielded but not entered."""
    todo = list(ast.iter_child_nodes(node))
    while todo:
        child = todo.pop()
        yield child
        if not isinstance(child, _SCOPES):
            todo.extend(ast.iter_child_nodes(child))


class _Scanner:
    """Finds forbidden uses in a scope and in the learner's helpers it calls."""

    def __init__(self, module: _Module, rules: Sequence[str]):
        self.module = module
        self.rules = rules
        self.findings: dict[tuple[int | None, int], Finding] = {}
        self.seen: set[int] = set()

    def report(self, node: ast.AST, rule_index: int, cell: int | None, written: str, offset: int) -> None:
        line = getattr(node, "lineno", 0) + offset
        self.findings.setdefault((cell, line), Finding(line, self.rules[rule_index], written, cell))

    def scan(self, root: ast.AST, cell: int | None, *, outer: tuple[set[str], dict[str, str]] = (set(), {}),
             module_level: bool = False, offset: int = 0) -> None:
        if id(root) in self.seen:
            return
        self.seen.add(id(root))
        local_names, local_imports = set(outer[0]), dict(outer[1])
        nodes = list(_scope_nodes(root))
        if not module_level:
            local_names |= _params(root)
            declared_global: set[str] = set()
            for node in nodes:
                if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
                    local_names.add(node.id)
                elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    local_names.add(node.name)
                elif isinstance(node, ast.Global):
                    declared_global |= set(node.names)
                elif isinstance(node, ast.Import):
                    for alias in node.names:
                        name = alias.asname or alias.name.split(".")[0]
                        local_imports[name] = alias.name if alias.asname else name
                elif isinstance(node, ast.ImportFrom):
                    for alias in node.names:
                        if alias.name != "*":
                            local_imports[alias.asname or alias.name] = f"{node.module}.{alias.name}"
            local_names -= declared_global
            local_names -= set(local_imports)

        def resolve(name: str) -> Any:
            if name in local_imports:
                return local_imports[name]
            if name in local_names:
                return None
            return self.module.resolve(name)

        inner = {id(n.value) for n in nodes if isinstance(n, ast.Attribute)}
        for node in nodes:
            if isinstance(node, _SCOPES):
                self.scan(node, cell, outer=(local_names, local_imports), offset=offset)
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                else:
                    names = [f"{node.module}.{a.name}" if a.name != "*" else str(node.module) for a in node.names]
                for name in names:
                    hit = _match_dotted(name, self.rules)
                    if hit is not None:
                        self.report(node, hit, cell, _text(node), offset)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
                target = resolve(node.id)
                if isinstance(target, _UserDef):
                    self.scan(target.node, target.cell)  # a helper the learner wrote: check it too
                elif isinstance(target, str) and id(node) not in inner:
                    hit = _match_dotted(target, self.rules)
                    if hit is not None:
                        self.report(node, hit, cell, node.id, offset)
            elif isinstance(node, ast.Attribute):
                self._check_attribute(node, node.attr, resolve, cell, offset, maximal=id(node) not in inner)
            elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "getattr"
                  and len(node.args) >= 2 and _is_str(node.args[1])):
                self._check_attribute(node, node.args[1].value, resolve, cell, offset, maximal=id(node) not in inner)
            elif isinstance(node, ast.Call):
                dotted = self.module.dotted(node, resolve)  # __import__("m"), importlib.import_module("m")
                hit = _match_dotted(dotted, self.rules) if dotted else None
                if hit is not None:
                    self.report(node, hit, cell, _text(node), offset)

    def _check_attribute(self, node: ast.AST, attr: str, resolve: Callable, cell: int | None, offset: int,
                         maximal: bool) -> None:
        hits = []
        if maximal:
            dotted = self.module.dotted(node, resolve)
            if dotted:
                hits.append(_match_dotted(dotted, self.rules))
        hits.append(_match_method(attr, self.rules))
        hits = [h for h in hits if h is not None]
        if hits:
            self.report(node, min(hits), cell, _text(node), offset)

    def sorted_findings(self) -> list[Finding]:
        return sorted(self.findings.values(), key=lambda f: (f.cell if f.cell is not None else -1, f.line))


def _check_function(module: _Module, scanner: _Scanner, function: str) -> None:
    """Scan the function (or alias) that the module's final binding of ``function`` refers to."""
    binding = module.bindings.get(function)
    target = module.resolve(function)
    if isinstance(target, _UserDef):
        scanner.scan(target.node, target.cell)
    elif isinstance(target, str) and binding is not None:
        hit = _match_dotted(target, scanner.rules)
        if hit is not None:
            scanner.findings.setdefault(
                (binding.cell, binding.line), Finding(binding.line, scanner.rules[hit], f"{function} = {target}",
                                                      binding.cell))


def forbidden_uses_in_cells(cells: Sequence[str], forbidden: Iterable[str], *,
                            function: str | None = None) -> list[Finding]:
    """Forbidden uses in the code cells of a notebook (each cell a string), in order.

    Like :func:`forbidden_uses`, but each :class:`Finding` names its cell (an index into
    ``cells``) and cells that are not valid Python are skipped. With ``function``, the final
    definition of that name is checked (a later cell redefining it wins, as in the kernel).
    """
    rules = _normalise(forbidden)
    trees = _parse_cells(cells)
    module = _Module(rules)
    for index, tree in trees:
        module.add(tree, index)
    scanner = _Scanner(module, rules)
    if function is None:
        for index, tree in trees:
            scanner.scan(tree, index, module_level=True)
    else:
        _check_function(module, scanner, function)
    return scanner.sorted_findings()


def forbidden_uses(source: str, forbidden: Iterable[str], *, function: str | None = None) -> list[str]:
    """Forbidden uses in Python ``source``, as readable strings with line numbers.

    Args:
        source: Python code (IPython magics are tolerated).
        forbidden: dotted names (``"torch.softmax"``, a whole module ``"tokenizers"``) and
            method names (``".softmax"``).
        function: if given, only uses inside that function's body count (and inside helper
            functions of the source that it calls); imports are collected from the whole source.

    Returns:
        One string per offending line, e.g. ``"torch.nn.functional.softmax (line 4, written `F.softmax`)"``;
        empty when the code is clean.

    Raises:
        SyntaxError: when ``source`` is not valid Python.

    Example:
        >>> forbidden_uses("import torch.nn.functional as F\\ny = F.softmax(x, -1)", ["torch.nn.functional.softmax"])
        ['torch.nn.functional.softmax (line 2, written `F.softmax`)']
    """
    rules = _normalise(forbidden)
    tree = _parse(source)
    module = _Module(rules)
    module.add(tree)
    scanner = _Scanner(module, rules)
    if function is None:
        scanner.scan(tree, None, module_level=True)
    else:
        _check_function(module, scanner, function)
    return [str(f) for f in scanner.sorted_findings()]


# --------------------------------------------------------------------------- in the learner's kernel

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
    objects = [(rule, _loaded_object(rule)) for rule in rules if not rule.startswith(".")]

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
    rules = _normalise(forbidden)
    name = getattr(func, "__name__", repr(func))
    advice = f": {hint}" if hint else ""
    try:
        own_source = textwrap.dedent(inspect.getsource(func))
    except (OSError, TypeError):
        for rule in rules:
            if not rule.startswith(".") and _loaded_object(rule) is func:
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
    for _, tree in _parse_cells(cells):
        module.add(tree, None)

    try:
        tree = _parse(own_source)
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
    for _, tree in _parse_cells(cells):
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
    for node in ast.walk(_parse(source)):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        called = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
        if called != "check_forbidden":
            continue
        where = f"line {node.lineno}: {_text(node)}"
        if len(node.args) < 2 or not isinstance(node.args[0], ast.Name):
            raise ValueError(f"{where}: expected check_forbidden(<function name>, <forbidden list>, ...)")
        try:
            forbidden = _constant(node.args[1], constants)
            hint = next((_constant(k.value, constants) for k in node.keywords if k.arg == "hint"), "")
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{where}: the forbidden list must be a literal or a constant of the notebook ({exc})")
        checks.append(ForbiddenCheck(node.args[0].id, tuple(_normalise(forbidden)), str(hint)))
    return checks
