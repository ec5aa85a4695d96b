"""The static forbidden-call check: what names a learner's function uses, read from its code.

Runs in the grader on the submitted notebook's cells (nothing is executed) and, through
:func:`llmcourse.grading.check_forbidden`, in the learner's kernel when they validate. Import
aliases are resolved the way Python binds names: ``import torch.nn.functional as F``,
``from torch import softmax as s``, ``from llmcourse import intro``, star imports, a module-level
``sm = torch.softmax``, ``getattr(torch, "softmax")``, ``importlib.import_module("llmcourse.intro")``,
and the learner's helper functions that the checked function calls. Names built at run time are
out of reach of any static check; the sandbox's run-time monitor (:mod:`llmcourse.grading.monitor`)
sees those.

Used by every chapter's exercise (Chapter 00 introduces it).
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from llmcourse.grading.rules import (SCOPES, Finding, is_str, match_dotted, match_method, normalise, parse,
                                     parse_cells, related, star_exports, text)

__all__ = ["forbidden_uses", "forbidden_uses_in_cells"]

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
        if isinstance(stmt, SCOPES):
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
            if related(module, self.rules):
                exports = star_exports(module)
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
            if isinstance(func, ast.Name) and func.id == "getattr" and len(args) >= 2 and is_str(args[1]):
                base = self.dotted(args[0], resolve)
                return f"{base}.{args[1].value}" if base else None
            if len(args) == 1 and is_str(args[0]) and (
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
        if not isinstance(child, SCOPES):
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
            if isinstance(node, SCOPES):
                self.scan(node, cell, outer=(local_names, local_imports), offset=offset)
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                else:
                    names = [f"{node.module}.{a.name}" if a.name != "*" else str(node.module) for a in node.names]
                for name in names:
                    hit = match_dotted(name, self.rules)
                    if hit is not None:
                        self.report(node, hit, cell, text(node), offset)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
                target = resolve(node.id)
                if isinstance(target, _UserDef):
                    self.scan(target.node, target.cell)  # a helper the learner wrote: check it too
                elif isinstance(target, str) and id(node) not in inner:
                    hit = match_dotted(target, self.rules)
                    if hit is not None:
                        self.report(node, hit, cell, node.id, offset)
            elif isinstance(node, ast.Attribute):
                self._check_attribute(node, node.attr, resolve, cell, offset, maximal=id(node) not in inner)
            elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "getattr"
                  and len(node.args) >= 2 and is_str(node.args[1])):
                self._check_attribute(node, node.args[1].value, resolve, cell, offset, maximal=id(node) not in inner)
            elif isinstance(node, ast.Call):
                dotted = self.module.dotted(node, resolve)  # __import__("m"), importlib.import_module("m")
                hit = match_dotted(dotted, self.rules) if dotted else None
                if hit is not None:
                    self.report(node, hit, cell, text(node), offset)

    def _check_attribute(self, node: ast.AST, attr: str, resolve: Callable, cell: int | None, offset: int,
                         maximal: bool) -> None:
        hits = []
        if maximal:
            dotted = self.module.dotted(node, resolve)
            if dotted:
                hits.append(match_dotted(dotted, self.rules))
        hits.append(match_method(attr, self.rules))
        hits = [h for h in hits if h is not None]
        if hits:
            self.report(node, min(hits), cell, text(node), offset)

    def sorted_findings(self) -> list[Finding]:
        return sorted(self.findings.values(), key=lambda f: (f.cell if f.cell is not None else -1, f.line))


def _check_function(module: _Module, scanner: _Scanner, function: str) -> None:
    """Scan the function (or alias) that the module's final binding of ``function`` refers to."""
    binding = module.bindings.get(function)
    target = module.resolve(function)
    if isinstance(target, _UserDef):
        scanner.scan(target.node, target.cell)
    elif isinstance(target, str) and binding is not None:
        hit = match_dotted(target, scanner.rules)
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
    rules = normalise(forbidden)
    trees = parse_cells(cells)
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
    rules = normalise(forbidden)
    tree = parse(source)
    module = _Module(rules)
    module.add(tree)
    scanner = _Scanner(module, rules)
    if function is None:
        scanner.scan(tree, None, module_level=True)
    else:
        _check_function(module, scanner, function)
    return [str(f) for f in scanner.sorted_findings()]
