"""The two simplest tokenizers: one id per character, one id per word (Chapter 01 — tokenization).

:class:`CharTokenizer` has a tiny vocabulary but long sequences, and cannot write a character
it has not seen; :class:`WordTokenizer` gives short sequences but a huge vocabulary, with
``[UNK]`` for every word it has not seen. Both keep their vocabulary as a list ``itos``
(id → string) and a dict ``stoi`` (string → id).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

from llmcourse.tokenization.base import Tokenizer

__all__ = ["CharTokenizer", "WordTokenizer"]


# --------------------------------------------------------------------------------------
# 1. Characters
# --------------------------------------------------------------------------------------
class CharTokenizer(Tokenizer):
    """One id per character, ids in sorted character order — Chapter 01 — tokenization.

    Build it from a text (its distinct characters form the vocabulary) or from an alphabet
    (any iterable of single characters). An unknown character raises a ``ValueError`` naming
    it and its position, unless ``unk_token`` is given: then it is added as the last id and
    unknown characters map to it (decoding gives ``unk_token`` back).

    >>> tok = CharTokenizer("hello")
    >>> tok.vocab_size, tok.encode("hole"), tok.decode([3, 1])
    (4, [1, 3, 2, 0], 'oh')
    >>> tok
    CharTokenizer(vocab_size=4)
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

    def _id_table(self) -> list[str]:
        """``itos``: ``vocab_size`` counts ``unk_token`` when there is one."""
        return self.itos

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
        return "".join(self._tokens_of(ids))


# --------------------------------------------------------------------------------------
# 2. Words
# --------------------------------------------------------------------------------------
_OPENING = set("([{«“‘¿¡")
_CLOSING = set(".,;:!?)]}%»”’…")


class WordTokenizer(Tokenizer):
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

    def _id_table(self) -> list[str]:
        """``itos``: ``vocab_size`` counts ``[UNK]``."""
        return self.itos

    def tokenize(self, text: str) -> list[str]:
        """Split into words and punctuation: ``"Hi, you!"`` → ``['Hi', ',', 'you', '!']``."""
        return self.pattern.findall(text.lower() if self.lowercase else text)

    def encode(self, text: str) -> list[int]:
        """Text → ids; words outside the vocabulary get ``unk_id`` (0)."""
        return [self.stoi.get(w, self.unk_id) for w in self.tokenize(text)]

    def decode(self, ids: list[int]) -> str:
        """Ids → text, spaced as ordinary prose (see the class docstring)."""
        pieces: list[str] = []
        prev: str | None = None
        open_quote = False  # a straight double quote alternately opens and closes
        for w in self._tokens_of(ids):
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
