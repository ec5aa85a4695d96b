"""Small helpers the chapter notebooks use to show things: package source, tables.

Chapters render the package code they introduce with :func:`show_source` instead of pasting a
second copy of it, so the book and the package can never disagree.
"""

from __future__ import annotations

import inspect
import textwrap
from collections.abc import Iterable, Sequence
from typing import Any


def show_source(obj: Any, *, lines: tuple[int, int] | None = None) -> Any:
    """Display the source code of a package function or class as highlighted Python.

    ``lines=(first, last)`` (1-based, inclusive, relative to the object's source) shows a part.
    Returns an ``IPython.display.Markdown`` object (shown by Jupyter and by the book).
    """
    from IPython.display import Markdown

    try:
        source = inspect.getsource(obj)
    except (TypeError, OSError) as exc:
        raise TypeError(f"show_source needs a function, class or module with Python source, got {obj!r}") from exc
    source = textwrap.dedent(source)
    if lines is not None:
        first, last = lines
        source = "\n".join(source.splitlines()[first - 1:last])
    module = getattr(obj, "__module__", None) or getattr(obj, "__name__", "")
    header = f"*From `{module}`:*\n\n" if module else ""
    return Markdown(f"{header}```python\n{source.rstrip()}\n```")


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def table(rows: Iterable[Sequence[Any]], headers: Sequence[str], *, floatfmt: str = ".3f") -> Any:
    """Display ``rows`` as a Markdown table: floats with ``floatfmt``, integers with thousands
    separators, and columns that hold only numbers right-aligned so their digits line up.

    >>> print(table([("a", 0.51234, 107968), ("b", 1.0, 950)], ["token", "p", "count"]).data)
    | token | p | count |
    |---|---:|---:|
    | a | 0.512 | 107,968 |
    | b | 1.000 | 950 |
    """
    from IPython.display import Markdown

    rows = [list(row) for row in rows]

    def fmt(v: Any) -> str:
        if isinstance(v, float):
            return format(v, floatfmt)
        if _is_number(v):
            return format(v, ",")
        return str(v).replace("|", "\\|").replace("\n", "\\n")

    numeric = [bool(rows) and all(_is_number(row[k]) for row in rows if k < len(row)) for k in range(len(headers))]
    out = ["| " + " | ".join(headers) + " |", "|" + "".join("---:|" if n else "---|" for n in numeric)]
    out += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in rows]
    return Markdown("\n".join(out))
