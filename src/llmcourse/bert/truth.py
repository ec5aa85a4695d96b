"""What the story generator knows about a masked word (Chapter 09 — BERT, the encoder).

A masked-language model estimates ``P(word at position i | every other word)``. For the story
corpus this distribution is known exactly: the generator gives every text its probability
(:func:`llmcourse.data.logprob`), and by Bayes' rule

    P(x_i = w | x_{-i}) = P(text with w at i) / Σ_v P(text with v at i),

so writing each candidate word into the slot and scoring the text gives the true distribution
(words the generator cannot write there get probability 0). :func:`word_spans` finds where each
token of a word-level tokenizer sits in the text; :func:`slot_distribution` scores a slot;
:func:`masked_distribution` asks a masked-language model the same question (it may read only part
of the story, such as two of its sentences: then it cannot know what the rest says).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch

from llmcourse._checks import eval_mode
from llmcourse.bert.pretraining import encode_texts
from llmcourse.tokenization import WordPieceTokenizer


def word_spans(tokenizer: WordPieceTokenizer, text: str) -> list[tuple[int, int]]:
    """``(start, end)`` character offsets of each word token of ``text``, in order.

    For a word-level vocabulary without lowercasing (:func:`~llmcourse.bert.story_tokenizer`),
    where each word and punctuation mark is one token.

    >>> from llmcourse.bert import story_tokenizer
    >>> word_spans(story_tokenizer(["Hi, Mina."]), "Hi, Mina.")
    [(0, 2), (2, 3), (4, 8), (8, 9)]

    Chapter 09 — BERT, the encoder.
    """
    spans, pos = [], 0
    for word in tokenizer.basic_tokenize(text):
        start = text.index(word, pos)
        spans.append((start, start + len(word)))
        pos = start + len(word)
    return spans


def slot_distribution(text: str, span: tuple[int, int], candidates: Iterable[str],
                      config=None) -> dict[str, float]:
    """The generator's exact distribution of the word at ``text[span[0]:span[1]]`` given the rest.

    Each candidate word is written into the span and the whole story scored with
    :func:`llmcourse.data.logprob` (under ``config``); the probabilities are normalised over
    the candidates the generator can write there, largest first. ``text`` must be a story the
    generator can write.

    >>> from llmcourse.data import generate_stories
    >>> story = generate_stories(1, seed=0)[0].text
    >>> start = story.index("Friday")                        # "Early one Friday, ..."
    >>> truth = slot_distribution(story, (start, start + 6), ["morning", "Friday", "river"])
    >>> {w: round(p, 2) for w, p in truth.items()}       # "river" cannot follow "Early one"
    {'morning': 0.5, 'Friday': 0.5}

    Chapter 09 — BERT, the encoder.
    """
    from llmcourse.data import logprob

    a, b = span
    scores = {}
    for word in dict.fromkeys(candidates):
        lp = logprob(text[:a] + word + text[b:], config)
        if lp > -math.inf:
            scores[word] = lp
    if text[a:b] not in scores:
        raise ValueError("the generator cannot write this text: pass one of its stories (and its config)")
    top = max(scores.values())
    weights = {w: math.exp(lp - top) for w, lp in scores.items()}
    total = math.fsum(weights.values())
    return dict(sorted(((w, x / total) for w, x in weights.items()), key=lambda item: -item[1]))


@torch.no_grad()
def masked_distribution(model: torch.nn.Module, tokenizer: WordPieceTokenizer, text: str | tuple[str, str], *,
                        max_len: int = 256) -> torch.Tensor:
    """The model's distribution ``(V,)`` over the one word written as ``[MASK]`` in ``text``.

    ``text`` is a text or a pair of texts, encoded as in pretraining
    (:func:`~llmcourse.bert.encode_texts`); ``model`` maps ``(ids, segments, lengths)`` to
    vocabulary scores ``(B, T, V)``.

    Chapter 09 — BERT, the encoder.
    """
    batch = encode_texts(tokenizer, [text], max_len=max_len)
    where = (batch.ids[0] == tokenizer.vocab["[MASK]"]).nonzero()
    if len(where) != 1:
        raise ValueError(f"expected one [MASK] in the encoded text, found {len(where)}")
    with eval_mode(model):
        logits = model(batch.ids, batch.segments, batch.lengths)[0, int(where[0])]
    return torch.softmax(logits, dim=-1)
