"""The pure helpers of BPE and the base class of every tokenizer (Chapter 01 — tokenization).

Read top to bottom:

1. :func:`get_pair_counts` and :func:`merge` — the two pure helpers behind BPE, each with a
   tiny worked example.
2. :func:`_check_ids` and :func:`_lookup` — ids → vocabulary entries, naming the first id that
   is not in the vocabulary; every ``decode`` goes through them.
3. :class:`Tokenizer` — what every tokenizer of the chapter offers (``vocab_size``, ``encode``,
   ``decode``) and the pieces the four tokenizers share.
"""

from __future__ import annotations

import operator
from collections.abc import Container, Iterable, Mapping, Sequence
from typing import Any, TypeVar

__all__ = ["Pair", "get_pair_counts", "merge", "Tokenizer"]

Pair = tuple[int, int]
T = TypeVar("T")


# --------------------------------------------------------------------------------------
# 1. The two helpers of BPE
# --------------------------------------------------------------------------------------
def get_pair_counts(ids: list[int], counts: dict[Pair, int] | None = None) -> dict[Pair, int]:
    """Count how often each pair of neighbouring ids occurs — Chapter 01 — tokenization.

    ``ids``: a list of n ints; returns ``{(a, b): count}`` over its n - 1 neighbouring pairs.
    Pass ``counts`` to add to an existing dictionary (it is updated in place and returned),
    which is how the counts of many chunks are summed.

    >>> get_pair_counts([1, 2, 3, 1, 2])
    {(1, 2): 2, (2, 3): 1, (3, 1): 1}
    >>> get_pair_counts([1, 1, 1])
    {(1, 1): 2}
    >>> get_pair_counts([3, 1], get_pair_counts([1, 2, 1, 2]))  # summed over two chunks
    {(1, 2): 2, (2, 1): 1, (3, 1): 1}
    """
    counts = {} if counts is None else counts
    for pair in zip(ids, ids[1:]):
        counts[pair] = counts.get(pair, 0) + 1
    return counts


def merge(ids: list[int], pair: Pair, new_id: int) -> list[int]:
    """Replace every occurrence of ``pair`` by ``new_id``, left to right, without overlaps.

    Chapter 01 — tokenization. ``ids``: a list of n ints; returns a new list of at most n ints
    (``ids`` is not changed). In ``[1, 1, 1]`` the pair ``(1, 1)`` is merged once, at the
    left, because the first merge consumes the middle ``1``.

    >>> merge([1, 2, 1, 2, 2], (1, 2), 9)
    [9, 9, 2]
    >>> merge([1, 1, 1], (1, 1), 7)
    [7, 1]
    """
    out: list[int] = []
    i = 0
    while i < len(ids):
        if i + 1 < len(ids) and ids[i] == pair[0] and ids[i + 1] == pair[1]:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


# --------------------------------------------------------------------------------------
# 2. Ids → vocabulary entries, with a message naming the first unknown id
# --------------------------------------------------------------------------------------
def _check_ids(ids: Iterable[int], known: Container[int], describe: str) -> None:
    """Raise a ValueError naming the first id not in ``known`` (and its position).

    >>> _check_ids([0, 1, 5], range(3), "ids 0..2")
    Traceback (most recent call last):
    ValueError: id 5 at position 2 is not in the vocabulary (ids 0..2)
    """
    for position, i in enumerate(ids):
        if i not in known:
            raise ValueError(f"id {i!r} at position {position} is not in the vocabulary ({describe})")


def _lookup(table: Mapping[int, T] | Sequence[T], ids: Iterable[int], describe: str) -> list[T]:
    """``[table[i] for i in ids]``, accepting numpy/torch integers, naming any unknown id.

    ``table`` maps id → entry: a dict, or a list whose positions are the ids (negative
    positions are not ids). ``describe`` says which ids exist, for the error message.

    >>> _lookup({5: "x", 7: "y"}, [7, 5], "2 tokens")
    ['y', 'x']
    >>> _lookup(["a", "b"], [1, 0, 1], "ids 0..1")
    ['b', 'a', 'b']
    >>> _lookup(["a", "b"], [0, -1], "ids 0..1")
    Traceback (most recent call last):
    ValueError: id -1 at position 1 is not in the vocabulary (ids 0..1)
    """
    is_list = not isinstance(table, Mapping)
    if not isinstance(ids, Sequence):
        ids = list(ids)  # read twice below (a generator would be used up by the first pass)
    try:
        if is_list and not all(isinstance(i, int) and 0 <= i < len(table) for i in ids):
            raise KeyError  # a list would read -1 as its last entry: check the ids one by one
        return [table[i] for i in ids]
    except (KeyError, TypeError):
        ids = [operator.index(i) if hasattr(i, "__index__") else i for i in ids]
        _check_ids(ids, range(len(table)) if is_list else table, describe)
        return [table[i] for i in ids]


# --------------------------------------------------------------------------------------
# 3. What every tokenizer offers
# --------------------------------------------------------------------------------------
class Tokenizer:
    """What every tokenizer offers: vocab_size, encode, decode — Chapter 01 — tokenization.

    ``encode(text: str) -> list[int]`` gives ids in ``range(vocab_size)`` (WordPiece: its
    vocabulary's ids); ``decode(ids: list[int]) -> str`` turns them back into text (exactly
    for characters and byte-level BPE; words and WordPiece lose what ``[UNK]`` and
    normalisation remove). Subclasses may add keyword arguments with defaults.

    Why a small base class and not a ``typing.Protocol``: a protocol can only *state* the
    three members, while the four tokenizers also share code — ``vocab_size`` as the size of
    the id → token table, the look-up behind every ``decode`` (numpy/torch integers accepted,
    the first unknown id named with its position) and ``repr`` — and a base class holds it
    once, the way minbpe's ``base.Tokenizer`` does. Code that only *uses* a tokenizer (the
    language models of later chapters) calls just these three members, so any object that
    has them works there as well.

    A subclass implements ``encode``, ``decode`` and ``_id_table`` (id → token: a list
    such as ``itos``, or a dict).

    >>> class Letters(Tokenizer):
    ...     def _id_table(self):
    ...         return "abc"
    ...     def encode(self, text):
    ...         return ["abc".index(c) for c in text]
    ...     def decode(self, ids):
    ...         return "".join(self._tokens_of(ids))
    >>> tok = Letters()
    >>> tok, tok.encode("cab"), tok.decode([2, 0])
    (Letters(vocab_size=3), [2, 0, 1], 'ca')
    """

    def _id_table(self) -> Sequence[Any] | Mapping[int, Any]:
        """Id → token (a string, or bytes for byte-level BPE); ``vocab_size`` is its length."""
        raise NotImplementedError

    @property
    def vocab_size(self) -> int:
        """Number of ids."""
        return len(self._id_table())

    def encode(self, text: str) -> list[int]:
        """Text → ids (a list of ints)."""
        raise NotImplementedError

    def decode(self, ids: list[int]) -> str:
        """Ids (a list of ints, or numpy/torch integers) → text."""
        raise NotImplementedError

    def _known_ids(self) -> str:
        """Which ids exist, for the error message of an unknown one."""
        return f"ids 0..{self.vocab_size - 1}"

    def _tokens_of(self, ids: Iterable[int]) -> list[Any]:
        """Ids → their tokens; an unknown id raises a ``ValueError`` naming it and its position."""
        return _lookup(self._id_table(), ids, self._known_ids())

    def _repr_fields(self) -> dict[str, Any]:
        """What ``repr`` shows after ``vocab_size``."""
        return {}

    def __repr__(self) -> str:
        fields = {"vocab_size": self.vocab_size, **self._repr_fields()}
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in fields.items())})"
