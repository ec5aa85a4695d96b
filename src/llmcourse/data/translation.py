"""English → Korean sentence pairs from the story grammar (Chapter 10 — The encoder–decoder).

The story corpus writes every sentence in English and Korean from **one derivation**: the same
random choices fill an English template and its Korean twin (:mod:`llmcourse.data.grammar`). So
a pair is an exact translation, particles included (은/는, 이/가, 을/를 by the final consonant),
and a perfect translator scores 100%.

The sentences here are one of the story corpus's most common ones, the event sentence
``{opener}, {subject} {act}{adverb}.`` (``filler`` in :mod:`llmcourse.data.lexicon`), with the
subject always a name — in a story it may be *he* or *she*, whose Korean (the name) only the
earlier sentences tell. The Korean moves the verb to the end and the adverb before the object
(SVO → SOV)::

    Then, Mina picked up a shiny stone slowly.  →  그때 미나는 천천히 반짝이는 돌을 주웠어요.

:func:`make_translation_data` splits the pairs by **combination**: a fraction of the (name, action)
pairs — *Mina* with *fed … to …*, say — never occurs in training, and the test sentences use only
those. Each name and each action occurs in training with other partners: only the combination is
new (with enough training pairs every word of the test sentences is seen in training, which the
tests check for the chapter's data).
:class:`Vocab` turns the sentences into word ids (English: words and punctuation; Korean: the
space-separated words, particles attached) with ``<pad>``, ``<bos>``, ``<eos>`` and ``<unk>``.

>>> data = make_translation_data(200, 50, seed=0)
>>> pair = data.test[0]
>>> (pair.name, pair.action) in data.held_out, (pair.name, pair.action) in {(p.name, p.action) for p in data.train}
(True, False)
"""

from __future__ import annotations

import itertools
import random
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import torch

from llmcourse._checks import int_at_least, positive_int
from llmcourse.data.grammar import Grammar, Walker
from llmcourse.data.lexicon import WORDS

__all__ = ["ACTIONS", "Pair", "TranslationData", "Vocab", "generate_pairs", "make_translation_data", "tokenize_en",
           "tokenize_ko", "detokenize_ko"]

#: The story corpus's actions, except the two that name the hero's home (which the sentence does not).
ACTIONS: tuple[str, ...] = tuple(en for en, *_ in WORDS["act"] if "{picture_of}" not in en and "{search_area}" not in en)

_SENTENCE = [  # the story's event sentence "{os} {act}{tail}.", its subject always named
    ("{name=H} {act}{tail}.", "{name:은/는} {tail}{act}.", {"weight": 1}),
    ("{opener}, {name=H} {act}{tail}.", "{opener} {name:은/는} {tail}{act}.", {"weight": 4}),
]


@lru_cache(maxsize=4)
def _grammar(words_per_set: int | None) -> Grammar:
    """The story lexicon (each word list cut to ``words_per_set`` evenly spaced entries) and the sentence."""
    def cut(entries: list) -> list:
        return entries if words_per_set is None else entries[::max(1, len(entries) // words_per_set)][:words_per_set]

    acts = [(en, ko, {"sets": {"action": en}}) for en, ko, *_ in WORDS["act"] if en in ACTIONS]
    return Grammar({**{name: cut(entries) for name, entries in WORDS.items()}, "act": acts, "sentence": _SENTENCE})


@dataclass(frozen=True)
class Pair:
    """One sentence and its translation: ``english``, ``korean``, the subject's ``name`` and the
    ``action`` (an entry of :data:`ACTIONS`), which together make its combination.

    Chapter 10 — The encoder–decoder.
    """

    english: str
    korean: str
    name: str
    action: str

    @property
    def n_words(self) -> int:
        """Length of the English sentence in words (split at spaces)."""
        return len(self.english.split())


def generate_pairs(n: int, seed: int = 0, *, words_per_set: int | None = None) -> list[Pair]:
    """``n`` sentence pairs drawn from one random stream seeded with ``seed`` (repeats possible).

    ``words_per_set`` keeps that many evenly spaced entries of each word list of the lexicon
    (names, things, animals, openers, ...; every action stays): a smaller vocabulary, learned faster.

    >>> pair = generate_pairs(1, seed=3)[0]
    >>> pair.english.endswith("."), pair.korean.endswith("요."), pair.name in pair.english
    (True, True, True)

    Chapter 10 — The encoder–decoder.
    """
    int_at_least("n", n, 0)
    if words_per_set is not None:
        positive_int("words_per_set", words_per_set)
    grammar, rng = _grammar(words_per_set), random.Random(seed)
    pairs = []
    for _ in range(n):
        w = Walker(grammar, rng=rng, korean=True)
        english, korean = w.sentence("sentence")
        pairs.append(Pair(english, korean, w.mem["H"].label, w.mem["action"]))
    return pairs


@dataclass(frozen=True)
class TranslationData:
    """Training and test pairs with no (name, action) combination in common.

    ``held_out`` holds the combinations kept for the test, out of ``len(names) × len(ACTIONS)``;
    ``train`` and ``test`` hold distinct English sentences, in the order they were generated.

    Chapter 10 — The encoder–decoder.
    """

    train: list[Pair]
    test: list[Pair]
    held_out: frozenset[tuple[str, str]]
    names: tuple[str, ...]


def make_translation_data(n_train: int, n_test: int, seed: int = 0, *, held_out_fraction: float = 0.2,
                          words_per_set: int | None = None) -> TranslationData:
    """``n_train`` training and ``n_test`` test pairs, split by (name, action) combination.

    A ``held_out_fraction`` of all (name, action) combinations, drawn with ``seed``, is kept for
    the test; pairs are generated (from ``seed``, see :func:`generate_pairs` for
    ``words_per_set``) until both sets are full, each English sentence at most once.

    Chapter 10 — The encoder–decoder.
    """
    int_at_least("n_train", n_train, 0)
    int_at_least("n_test", n_test, 0)
    if isinstance(held_out_fraction, bool) or not isinstance(held_out_fraction, (int, float)) \
            or not 0 < held_out_fraction < 1:
        raise ValueError(f"held_out_fraction must lie in (0, 1), got {held_out_fraction!r}")
    if words_per_set is not None:
        positive_int("words_per_set", words_per_set)
    names = tuple(e.label for e in _grammar(words_per_set).sets["name"])
    combos = [(name, action) for name in names for action in ACTIONS]
    held_out = frozenset(random.Random(seed).sample(combos, max(1, round(held_out_fraction * len(combos)))))
    train: list[Pair] = []
    test: list[Pair] = []
    seen: set[str] = set()
    for batch in itertools.count():
        if len(train) >= n_train and len(test) >= n_test:
            break
        if batch > 1000:  # pragma: no cover - only for sizes beyond what the grammar can write
            raise ValueError(f"could not find {n_train} + {n_test} distinct sentences")
        for p in generate_pairs(4096, seed=seed * 1_000_003 + batch, words_per_set=words_per_set):
            if p.english in seen:
                continue
            seen.add(p.english)
            held = (p.name, p.action) in held_out
            bucket, size = (test, n_test) if held else (train, n_train)
            if len(bucket) < size:
                bucket.append(p)
    return TranslationData(train, test, held_out, names)


# -- words and ids ----------------------------------------------------------------------------
_EN_TOKEN = re.compile(r"[\w']+|[^\w\s]")


def tokenize_en(text: str) -> list[str]:
    """English words and punctuation marks: ``"Then, Mina ran."`` → ``['Then', ',', 'Mina', 'ran', '.']``.

    >>> tokenize_en("Then, Mina ran.")
    ['Then', ',', 'Mina', 'ran', '.']
    """
    return _EN_TOKEN.findall(text)


def tokenize_ko(text: str) -> list[str]:
    """Korean words as written, split at spaces (a word keeps its particle and final ``.``).

    >>> tokenize_ko("그때 미나는 돌을 주웠어요.")
    ['그때', '미나는', '돌을', '주웠어요.']
    """
    return text.split()


def detokenize_ko(tokens: Iterable[str]) -> str:
    """The inverse of :func:`tokenize_ko`: the words joined by spaces.

    >>> detokenize_ko(["미나는", "주웠어요."])
    '미나는 주웠어요.'
    """
    return " ".join(tokens)


class Vocab:
    """Word ↔ id, with ``<pad>`` = 0, ``<bos>`` = 1, ``<eos>`` = 2, ``<unk>`` = 3.

    ``Vocab(texts, tokenize)`` numbers the tokens of ``texts`` in order of first appearance.
    :meth:`encode` maps a text to ids (``<unk>`` for an unknown word), :meth:`decode` maps ids
    back to tokens, stopping at ``<eos>`` and skipping ``<pad>`` and ``<bos>``; :meth:`batch`
    makes a padded ``(N, T)`` tensor of ``texts``, each followed by ``<eos>``.

    >>> v = Vocab(["그때 미나는 주웠어요."], tokenize_ko)
    >>> v.encode("미나는 잤어요."), len(v)
    ([5, 3], 7)
    >>> v.decode([1, 5, 6, 2, 0])
    ['미나는', '주웠어요.']

    Chapter 10 — The encoder–decoder.
    """

    PAD, BOS, EOS, UNK = 0, 1, 2, 3
    SPECIALS = ("<pad>", "<bos>", "<eos>", "<unk>")

    def __init__(self, texts: Iterable[str], tokenize: Callable[[str], list[str]]) -> None:
        self.tokenize = tokenize
        counts = Counter(t for text in texts for t in tokenize(text))
        self.itos: list[str] = list(self.SPECIALS) + [t for t in counts if t not in self.SPECIALS]
        self.stoi = {t: i for i, t in enumerate(self.itos)}
        self.counts = counts

    def __len__(self) -> int:
        return len(self.itos)

    def encode(self, text: str) -> list[int]:
        """Ids of the tokens of ``text`` (no ``<eos>``)."""
        return [self.stoi.get(t, self.UNK) for t in self.tokenize(text)]

    def decode(self, ids: Sequence[int] | torch.Tensor) -> list[str]:
        """Tokens of ``ids`` up to the first ``<eos>``, without ``<pad>`` and ``<bos>``."""
        out = []
        for i in (ids.tolist() if isinstance(ids, torch.Tensor) else ids):
            if i == self.EOS:
                break
            if i not in (self.PAD, self.BOS):
                out.append(self.itos[i])
        return out

    def batch(self, texts: Sequence[str]) -> torch.Tensor:
        """``(N, T)`` long ids of ``texts``, each followed by ``<eos>``, padded with ``<pad>``.

        >>> Vocab(["a b c"], str.split).batch(["a b", "c"])
        tensor([[4, 5, 2],
                [6, 2, 0]])
        """
        rows = [self.encode(t) + [self.EOS] for t in texts]
        T = positive_int("the longest text + <eos>", max(map(len, rows), default=1))
        out = torch.full((len(rows), T), self.PAD, dtype=torch.long)
        for i, r in enumerate(rows):
            out[i, :len(r)] = torch.tensor(r)
        return out
