"""Argument checks shared by the course's modules: one line each, so the maths reads first.

Each check returns the value it was given, so a call fits on one line (``k = positive_int("k", k)``),
and raises ``ValueError`` with a message that names the argument, says what was expected and
what came instead. ``bool`` is never accepted as a number (``True`` is an ``int`` in Python).
:func:`eval_mode` is the one context manager the modules share: eval mode for a block, then back.

Private: the course's modules use these; learners never need them.
"""

from __future__ import annotations

import contextlib
import functools
import numbers
from collections.abc import Iterator, Sequence

import torch

_DTYPES = {                       # dtype="..." → (what the message says, the test)
    "float": ("a floating-point dtype", lambda d: d.is_floating_point),
    "int": ("an integer dtype", lambda d: not (d.is_floating_point or d.is_complex or d == torch.bool)),
    "long": ("dtype long", lambda d: d == torch.long),
    "bool": ("dtype bool", lambda d: d == torch.bool),
}


def is_int(value: object) -> bool:
    """``True`` for a Python integer that is not a ``bool``.

    >>> is_int(3), is_int(True), is_int(3.0)
    (True, False, False)
    """
    return isinstance(value, int) and not isinstance(value, bool)


def int_at_least(name: str, value: object, minimum: int, note: str = "") -> int:
    """``value`` is an integer ``≥ minimum``.

    >>> int_at_least("steps", 0, 0)
    0
    >>> int_at_least("steps", -1, 0)
    Traceback (most recent call last):
    ValueError: steps must be an integer ≥ 0, got -1
    """
    if not is_int(value) or value < minimum:
        raise ValueError(f"{name} must be an integer ≥ {minimum}{note}, got {value!r}")
    return value


def positive_int(name: str, value: object, note: str = "") -> int:
    """``value`` is an integer ``≥ 1``.

    >>> positive_int("n_heads", 4)
    4
    >>> positive_int("n_heads", True)
    Traceback (most recent call last):
    ValueError: n_heads must be a positive integer, got True
    """
    if not is_int(value) or value < 1:
        raise ValueError(f"{name} must be a positive integer{note}, got {value!r}")
    return value


def _real(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def positive(name: str, value: object, note: str = "") -> float:
    """``value`` is a real number ``> 0`` (NaN is refused: it is not ``> 0``).

    >>> positive("lr", 0.1)
    0.1
    >>> positive("temperature", 0, " (or greedy=True)")
    Traceback (most recent call last):
    ValueError: temperature must be a number > 0 (or greedy=True), got 0
    """
    if not _real(value) or not value > 0:
        raise ValueError(f"{name} must be a number > 0{note}, got {value!r}")
    return value


def non_negative(name: str, value: object, note: str = "") -> float:
    """``value`` is a real number ``≥ 0``.

    >>> non_negative("weight_decay", 0.0)
    0.0
    >>> non_negative("alpha", -1, " (add-alpha smoothing)")
    Traceback (most recent call last):
    ValueError: alpha must be a number ≥ 0 (add-alpha smoothing), got -1
    """
    if not _real(value) or not value >= 0:
        raise ValueError(f"{name} must be a number ≥ 0{note}, got {value!r}")
    return value


def probability(name: str, value: object) -> float:
    """``value`` is a probability in ``[0, 1)`` (a dropout rate: 1 would drop everything); returns a float.

    >>> probability("dropout", 0)
    0.0
    >>> probability("dropout", 1.0)
    Traceback (most recent call last):
    ValueError: dropout must be a probability in [0, 1), got 1.0
    """
    if not _real(value) or not 0 <= value < 1:
        raise ValueError(f"{name} must be a probability in [0, 1), got {value!r}")
    return float(value)


def one_of(name: str, value: object, options: Sequence | dict) -> object:
    """``value`` is one of ``options`` (a dict: one of its keys).

    >>> one_of("cell", "gru", {"gru": 1, "lstm": 2})
    'gru'
    >>> one_of("cell", "transformer", {"gru": 1, "lstm": 2})
    Traceback (most recent call last):
    ValueError: cell must be one of ['gru', 'lstm'], got 'transformer'
    """
    if value not in options:
        raise ValueError(f"{name} must be one of {sorted(options)}, got {value!r}")
    return value


@functools.lru_cache(maxsize=1024)
def _pattern(shape: str) -> tuple[bool, int, tuple[tuple[int, int], ...]]:
    """``"(..., T, 5)"`` → (any leading dimensions?, number of named or sized dimensions, the sizes
    required, as (negative index, size) pairs). Parsed once per pattern: checks run at every call."""
    dims = [d.strip() for d in shape.strip("()").split(",") if d.strip()]
    lead = dims[:1] == ["..."]
    dims = dims[1:] if lead else dims
    return lead, len(dims), tuple((i - len(dims), int(d)) for i, d in enumerate(dims) if d.isdigit())


def tensor(name: str, x: object, shape: str, dtype: str | None = None) -> torch.Tensor:
    """``x`` is a tensor of ``shape`` (and ``dtype``, if given).

    ``shape`` is written as in the docstrings: ``"(B, T)"``, ``"(..., T, d)"``, ``"(B, 5)"``. A name
    stands for any size (names are not compared with each other), a number for that size, a leading
    ``...`` for any number of leading dimensions. ``dtype`` is ``"float"`` (any floating point),
    ``"int"`` (any integer type, not bool), ``"long"`` or ``"bool"``.

    >>> tensor("x", torch.zeros(2, 5), "(B, 5)").shape
    torch.Size([2, 5])
    >>> tensor("prompt", torch.zeros(3), "(B, T)", dtype="long")
    Traceback (most recent call last):
    ValueError: prompt must be a tensor of shape (B, T) and dtype long, got shape (3,) and dtype torch.float32
    """
    # torch.compile traces the check once per graph; it warns about (and bypasses) lru_cache
    lead, n, sizes = (_pattern.__wrapped__ if torch.compiler.is_compiling() else _pattern)(shape)
    fits = isinstance(x, torch.Tensor) and (x.dim() >= n if lead else x.dim() == n) \
        and all(x.shape[i] == size for i, size in sizes) and (dtype is None or _DTYPES[dtype][1](x.dtype))
    if not fits:
        expected = f" and {_DTYPES[dtype][0]}" if dtype is not None else ""
        got = f"shape {tuple(x.shape)} and dtype {x.dtype}" if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"{name} must be a tensor of shape {shape}{expected}, got {got}")
    return x


def bool_mask(name: str, mask: object) -> torch.Tensor | None:
    """``mask`` is ``None`` or a bool tensor (``True`` = may attend), any shape.

    >>> bool_mask("mask", None) is None
    True
    >>> bool_mask("mask", torch.ones(2, 2))
    Traceback (most recent call last):
    ValueError: mask must be a bool tensor (True = may attend), got torch.float32
    """
    if mask is not None and (not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool):
        got = mask.dtype if isinstance(mask, torch.Tensor) else type(mask).__name__
        raise ValueError(f"{name} must be a bool tensor (True = may attend), got {got}")
    return mask


def same(what: str, **values: object) -> object:
    """Every value (given by name) is equal: e.g. the ``d`` of queries and keys. Returns that value.

    >>> same("d", q=4, k=4)
    4
    >>> same("Tk", k=5, v=6)
    Traceback (most recent call last):
    ValueError: k and v need the same Tk, got k: 5, v: 6
    """
    first, *rest = values.values()
    if any(v != first for v in rest):
        names = list(values)
        raise ValueError(f"{', '.join(names[:-1])} and {names[-1]} need the same {what}, got "
                         + ", ".join(f"{n}: {v}" for n, v in values.items()))
    return first


def broadcast(what: str, *shapes: Sequence[int]) -> torch.Size:
    """The shape ``shapes`` broadcast to; ``what`` names them in the error when they do not broadcast.

    >>> broadcast("the batch dimensions", (2, 1), (3,))
    torch.Size([2, 3])
    >>> broadcast("mask and scores", (2,), (3,))
    Traceback (most recent call last):
    ValueError: mask and scores do not broadcast: (2,), (3,)
    """
    try:
        return torch.broadcast_shapes(*shapes)
    except RuntimeError:
        raise ValueError(f"{what} do not broadcast: {', '.join(str(tuple(s)) for s in shapes)}") from None


def in_vocab(name: str, ids: torch.Tensor, vocab_size: int) -> torch.Tensor:
    """Every id of ``ids`` (an integer tensor, any shape) lies in ``[0, vocab_size)``.

    >>> in_vocab("ids", torch.tensor([0, 2]), 3).tolist()
    [0, 2]
    >>> in_vocab("ids", torch.tensor([[0, 3]]), 3)
    Traceback (most recent call last):
    ValueError: ids must lie in [0, vocab_size) = [0, 3), got values from 0 to 3

    Under ``torch.compile`` the check is skipped: reading the values back would split the graph
    at every call (the embedding lookup still fails on an id out of range).
    """
    if torch.compiler.is_compiling():
        return ids
    if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= vocab_size):
        raise ValueError(f"{name} must lie in [0, vocab_size) = [0, {vocab_size}), "
                         f"got values from {int(ids.min())} to {int(ids.max())}")
    return ids


@contextlib.contextmanager
def eval_mode(model: object) -> Iterator[object]:
    """Put ``model`` in ``eval()`` mode inside the ``with`` block, then back in the mode it was in.

    The mode is restored even when the block raises. Gradients are a separate matter: wrap the
    block in ``torch.no_grad()`` as well where nothing is trained. An object that is not a
    ``torch.nn.Module`` has no modes (e.g. the counting :class:`~llmcourse.ngram.NGramModel`) and
    is left as it is.

    >>> layer = torch.nn.Dropout(0.5)
    >>> with eval_mode(layer):
    ...     layer.training
    False
    >>> layer.training
    True
    """
    if not isinstance(model, torch.nn.Module):
        yield model
        return
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)
