"""Bring your own text: read any UTF-8 file, with errors that say what is wrong and where.

>>> import tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "poem.txt"
>>> _ = path.write_text("To be, or not to be", encoding="utf-8")
>>> load_text(path)
'To be, or not to be'

Chapter 01 — tokenization and Chapter 02 — language_models train on such files too (for
example the classic tiny-Shakespeare corpus) next to the story corpus.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["load_text"]


def load_text(path: str | os.PathLike[str]) -> str:
    """The text of the UTF-8 file at ``path``, exactly as stored (a leading BOM is dropped).

    Raises ``FileNotFoundError`` (missing), ``IsADirectoryError`` (a folder) or ``ValueError``
    naming the file and the byte offset of the first byte that is not valid UTF-8.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"load_text expects a path (str or os.PathLike), got {type(path).__name__}")
    p = Path(path)
    if p.is_dir():
        raise IsADirectoryError(f"{p} is a directory; load_text expects a UTF-8 text file")
    if not p.exists():
        raise FileNotFoundError(f"no such file: {p}")
    data = p.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        bad = data[e.start:e.end].hex(" ")
        raise ValueError(f"{p} is not valid UTF-8: byte offset {e.start} (bytes {bad}: {e.reason}); "
                         "convert the file to UTF-8 first") from None
    return text[1:] if text.startswith("\ufeff") else text
