"""Byte-level BPE: encoding, decoding and the file format (Chapter 01 — tokenization).

Ids 0..255 are the 256 byte values, so any text can be written and round-trips exactly; each
learnt *merge (병합)* of two ids adds one id. Read top to bottom:

1. :data:`GPT2_SPLIT_PATTERN`, :data:`GPT4_SPLIT_PATTERN` — the regex pre-split that keeps
   merges inside words.
2. :func:`_bpe` (readable) and :func:`_bpe_heap` (fast, same result) — apply the merges to one
   chunk, lowest rank first.
3. :func:`_bytes_to_unicode` — GPT-2's printable spelling of the bytes, for ``tokenizers``.
4. :class:`BPETokenizer` — training (the trainers are in :mod:`.bpe_train`), encoding with
   special tokens as ``tiktoken`` does, decoding, a readable JSON file, ``to_huggingface``.
"""

from __future__ import annotations

import heapq
import json
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import regex

from llmcourse.tokenization.base import Pair, Tokenizer, merge
from llmcourse.tokenization.bpe_train import _train_merges, _train_merges_simple

if TYPE_CHECKING:  # pragma: no cover - only for type checkers
    import tokenizers

__all__ = ["GPT2_SPLIT_PATTERN", "GPT4_SPLIT_PATTERN", "BPETokenizer"]


# --------------------------------------------------------------------------------------
# 1. The regex pre-split
# --------------------------------------------------------------------------------------
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


# --------------------------------------------------------------------------------------
# 2. Applying the merges to one chunk
# --------------------------------------------------------------------------------------
_NEVER = float("inf")
_LONG_CHUNK = 64  # chunks longer than this use the heap version


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


# --------------------------------------------------------------------------------------
# 3. The bytes as printable characters (for the `tokenizers` library)
# --------------------------------------------------------------------------------------
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


# --------------------------------------------------------------------------------------
# 4. The tokenizer
# --------------------------------------------------------------------------------------
_ALLOWED_SPECIAL = ("all", "none", "none_raise")
_FILE_FORMAT = "llmcourse.BPETokenizer"
_FILE_VERSION = 1


class BPETokenizer(Tokenizer):
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

    def _id_table(self) -> dict[int, bytes]:
        """``vocab``: ``vocab_size`` counts 256 bytes + merges + special tokens."""
        return self.vocab

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
        return b"".join(self._tokens_of(ids))

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

    def _repr_fields(self) -> dict[str, object]:
        return {"merges": len(self.merges), "special_tokens": list(self.special_tokens)}


# --------------------------------------------------------------------------------------
