"""How much of an exercise's solution the book already shows: the copy-proof check.

No graded function may be answerable by pasting code the book prints. For every function of an
exercise's solution cells and every code block of the book — code cells, the package source that
chapters render with ``show_source``, fenced blocks in Markdown — this module compares the two as
*normalised tokens*: comments and docstrings dropped, the function's own parameters and local
names renamed in order of appearance (``V0``, ``V1``, ...), string literals collapsed, so that
renaming variables does not hide a copy. The score is the **containment**: the share of the
solution's token 4-grams found in the block (1.0: every phrase of the answer is in the book).

    python -m llmcourse.grading.similarity            # the table: each function's closest block

``tests/test_copyproof.py`` fails when a function's containment reaches :data:`THRESHOLD`.
"""

from __future__ import annotations

import ast
import builtins
import io
import json
import keyword
import re
import sys
import tokenize
from dataclasses import dataclass
from pathlib import Path

NGRAM = 4
THRESHOLD = 0.5
_SKIP = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENCODING,
         tokenize.ENDMARKER}


def _strip_docstrings(source: str) -> str:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return source
    lines = source.splitlines(keepends=True)
    spans = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Module)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
                spans.append((first.lineno, first.end_lineno))
    for start, end in sorted(spans, reverse=True):
        lines[start - 1:end] = ["\n"]
    return "".join(lines)


def _local_names(source: str) -> set[str]:
    """Parameters and names assigned inside functions: the names a copier would rename."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            args = node.args
            names |= {a.arg for a in args.posonlyargs + args.args + args.kwonlyargs + [args.vararg, args.kwarg] if a}
            for inner in ast.walk(node):
                if isinstance(inner, ast.Name) and isinstance(inner.ctx, ast.Store):
                    names.add(inner.id)
    return names


def normalise(source: str) -> list[str]:
    """The token sequence compared: see the module docstring."""
    source = _strip_docstrings(source)
    local = _local_names(source)
    renamed: dict[str, str] = {}
    out = []
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type in _SKIP:
                continue
            text = tok.string
            if tok.type == tokenize.NAME and text in local and not keyword.iskeyword(text) \
                    and not hasattr(builtins, text):
                text = renamed.setdefault(text, f"V{len(renamed)}")
            elif tok.type == tokenize.STRING:
                text = "STR"
            out.append(text)
    except (tokenize.TokenError, IndentationError, SyntaxError):
        pass
    return out


def shingles(tokens: list[str], n: int = NGRAM) -> set[tuple[str, ...]]:
    return {tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1)}


def containment(answer: list[str], block: list[str]) -> float:
    """Share of the answer's n-grams that occur in the block."""
    mine = shingles(answer)
    return len(mine & shingles(block)) / len(mine) if mine else 0.0


# --------------------------------------------------------------------------- what the book shows

_FENCE = re.compile(r"```(?:python|py|ipython3?)?\n(.*?)```", re.S)


def book_blocks(book: Path) -> list[tuple[str, str]]:
    """``(where, code)`` for every code block a reader of the book sees."""
    blocks = []
    for path in sorted(book.glob("*.md")):
        blocks += [(path.name, code) for code in _FENCE.findall(path.read_text(encoding="utf-8"))]
    for path in sorted(book.glob("*.ipynb")):
        nb = json.loads(path.read_text(encoding="utf-8"))
        for i, cell in enumerate(nb["cells"]):
            source = "".join(cell.get("source", []))
            if cell["cell_type"] == "code":
                blocks.append((f"{path.name} cell {i}", source))
                for out in cell.get("outputs", []):
                    data = out.get("data", {})
                    for mime in ("text/markdown", "text/plain"):
                        text = "".join(data.get(mime, []))
                        blocks += [(f"{path.name} cell {i} output", code) for code in _FENCE.findall(text)]
            else:
                blocks += [(f"{path.name} cell {i}", code) for code in _FENCE.findall(source)]
    return blocks


def solution_functions(notebook: Path) -> list[tuple[str, str]]:
    """``(name, source)`` of every function or class defined in the solution cells."""
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    found = []
    for cell in nb["cells"]:
        if "solution" not in cell.get("metadata", {}).get("tags", []):
            continue
        source = "".join(cell["source"])
        tree = ast.parse(source)
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                found.append((node.name, ast.get_source_segment(source, node)))
    return found


@dataclass
class Closest:
    assignment: str
    function: str
    score: float
    where: str


def closest_blocks(root: Path) -> list[Closest]:
    """Each solution function with the book block most similar to it."""
    blocks = [(where, normalise(code)) for where, code in book_blocks(root / "book")]
    rows = []
    for notebook in sorted((root / "solutions").glob("ch*/ch*.ipynb")):
        for name, source in solution_functions(notebook):
            tokens = normalise(source)
            score, where = max(((containment(tokens, b), w) for w, b in blocks), default=(0.0, ""))
            rows.append(Closest(notebook.stem, name, score, where))
    return rows


def main(argv: list[str] | None = None) -> int:
    root = Path(argv[0] if argv else ".")
    print(f"{'assignment':24} {'function':24} containment  closest block")
    for row in closest_blocks(root):
        flag = "  <-- too close" if row.score >= THRESHOLD else ""
        print(f"{row.assignment:24} {row.function:24} {row.score:10.2f}   {row.where}{flag}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
