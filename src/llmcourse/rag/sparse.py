"""Sparse retrievers from scratch: TF-IDF and BM25 (Chapter 13 — Retrieval-augmented generation).

Both score a chunk by the words it shares with the question, weighting rare words more; they
differ in how they count repeats and length. Read top to bottom:

1. :func:`words` — lower-cased runs of letters and digits, the terms of both retrievers;
2. :func:`term_counts` — a sparse ``(N, V)`` matrix of how often each term occurs in each text;
3. :class:`TfidfRetriever` — counts × smoothed inverse document frequency, rows scaled to unit
   length, cosine similarity (scikit-learn's ``TfidfVectorizer`` defaults);
4. :class:`BM25Retriever` — Lucene's BM25: a term's weight saturates with its count (``k1``) and
   is discounted in long chunks (``b``); the same scores as the ``bm25s`` library's
   ``method="lucene"`` given the same terms.

Each has ``scores(queries) → (Q, N)`` and ``search(queries, k) → (scores, indices)``.

>>> bm25 = BM25Retriever(["the river Ombrel", "a pet newt called Tollo", "the newt Tollo"])
>>> bm25.search(["Tollo the newt?"], k=2)[1].tolist()
[[2, 1]]
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Sequence

import torch

from llmcourse._checks import non_negative, positive_int
from llmcourse.rag.index import top_k

__all__ = ["words", "term_counts", "TfidfRetriever", "BM25Retriever"]

_WORD = re.compile(r"[a-z0-9]+")


def words(text: str) -> list[str]:
    """The terms of ``text``: lower-cased runs of letters and digits (an apostrophe splits a word).

    >>> words("What is Skoantana Paeldiss's pet called?")
    ['what', 'is', 'skoantana', 'paeldiss', 's', 'pet', 'called']

    Chapter 13 — Retrieval-augmented generation.
    """
    return _WORD.findall(text.lower())


def term_counts(texts: Sequence[str], vocab: dict[str, int] | None = None, *,
                tokenize: Callable[[str], list[str]] = words) -> tuple[torch.Tensor, dict[str, int]]:
    """``(counts, vocab)``: a sparse ``(N, V)`` float matrix, ``counts[i, vocab[t]]`` = how often
    term ``t`` occurs in ``texts[i]``.

    Without ``vocab`` the vocabulary is every term of ``texts``, in order of first occurrence;
    with one, terms outside it are dropped (a question's unknown words match nothing).

    >>> counts, vocab = term_counts(["a b a", "b c"])
    >>> vocab, counts.to_dense().tolist()
    ({'a': 0, 'b': 1, 'c': 2}, [[2.0, 1.0, 0.0], [0.0, 1.0, 1.0]])

    Chapter 13 — Retrieval-augmented generation.
    """
    growing = vocab is None
    vocab = {} if vocab is None else vocab
    rows, cols, values = [], [], []
    for i, text in enumerate(texts):
        for term, n in Counter(tokenize(text)).items():
            if term not in vocab:
                if not growing:
                    continue
                vocab[term] = len(vocab)
            rows.append(i)
            cols.append(vocab[term])
            values.append(float(n))
    counts = torch.sparse_coo_tensor(torch.tensor([rows, cols], dtype=torch.long).view(2, -1),
                                     torch.tensor(values), (len(texts), len(vocab)), check_invariants=True).coalesce()
    return counts, vocab


class _Sparse:
    """What both retrievers share: a sparse ``(N, V)`` weight matrix scored against query vectors."""

    weights: torch.Tensor
    vocab: dict[str, int]
    tokenize: Callable[[str], list[str]]

    def _queries(self, queries: Sequence[str]) -> torch.Tensor:
        raise NotImplementedError

    def scores(self, queries: Sequence[str], *, batch_size: int = 512) -> torch.Tensor:
        """``(Q, N)``: every query's score for every chunk (float32)."""
        if isinstance(queries, str):
            raise ValueError("queries must be a list of strings, got one string")
        positive_int("batch_size", batch_size)
        out = [torch.sparse.mm(self.weights, self._queries(queries[i:i + batch_size]).to_dense().T).T
               for i in range(0, len(queries), batch_size)]
        return torch.cat(out) if out else torch.zeros(0, self.weights.shape[0])

    def search(self, queries: Sequence[str], k: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The ``k`` best chunks of every query: ``(scores (Q, k), indices (Q, k))``, best first."""
        return top_k(self.scores(queries), k)


class TfidfRetriever(_Sparse):
    """TF-IDF with cosine similarity, built over ``texts``.

    A text's vector has, for each term, ``count × idf`` with ``idf = ln((1 + N) / (1 + df)) + 1``
    (``N`` texts, ``df`` of them holding the term), then is scaled to unit length; a query is
    weighted the same way (its unknown terms dropped), and the score is the dot product — the
    cosine. These are the defaults of scikit-learn's ``TfidfVectorizer`` (``smooth_idf``,
    ``norm="l2"``).

    Chapter 13 — Retrieval-augmented generation.
    """

    def __init__(self, texts: Sequence[str], *, tokenize: Callable[[str], list[str]] = words) -> None:
        self.tokenize = tokenize
        counts, self.vocab = term_counts(texts, tokenize=tokenize)
        df = torch.zeros(len(self.vocab)).index_add_(0, counts.indices()[1], torch.ones(counts.values().shape))
        self.idf = torch.log((1 + len(texts)) / (1 + df)) + 1                                    # (V,)
        self.weights = self._weigh(counts)                                                        # (N, V)

    def _weigh(self, counts: torch.Tensor) -> torch.Tensor:
        rows, cols = counts.indices()
        values = counts.values() * self.idf[cols]
        norms = torch.zeros(counts.shape[0]).index_add_(0, rows, values ** 2).sqrt()
        return torch.sparse_coo_tensor(counts.indices(), values / norms[rows].clamp_min(1e-12), counts.shape,
                                       check_invariants=True)

    def _queries(self, queries: Sequence[str]) -> torch.Tensor:
        return self._weigh(term_counts(queries, self.vocab, tokenize=self.tokenize)[0])


class BM25Retriever(_Sparse):
    """BM25 (Lucene's form), built over ``texts``, with parameters ``k1`` and ``b``.

    The score of a chunk ``d`` for a query is the sum over the query's terms ``t`` (a repeated
    term counts again) of ``idf(t) · tf / (tf + k1 · (1 − b + b · |d| / avgdl))``, with ``tf`` the
    count of ``t`` in ``d``, ``|d|`` its number of terms, ``avgdl`` the mean over the chunks, and
    ``idf(t) = ln(1 + (N − df + 0.5) / (df + 0.5))`` — always positive, even for a term in most
    chunks. ``tf`` saturates: a term's weight approaches ``idf`` however often it repeats.

    Chapter 13 — Retrieval-augmented generation.
    """

    def __init__(self, texts: Sequence[str], *, k1: float = 1.5, b: float = 0.75,
                 tokenize: Callable[[str], list[str]] = words) -> None:
        self.k1, self.b, self.tokenize = non_negative("k1", k1), non_negative("b", b), tokenize
        if self.b > 1:
            raise ValueError(f"b must be in [0, 1] (0: no length discount, 1: full), got {b!r}")
        counts, self.vocab = term_counts(texts, tokenize=tokenize)
        rows, cols = counts.indices()
        tf, N = counts.values(), len(texts)
        df = torch.zeros(len(self.vocab)).index_add_(0, cols, torch.ones_like(tf))
        self.idf = torch.log(1 + (N - df + 0.5) / (df + 0.5))                                  # (V,)
        length = torch.zeros(N).index_add_(0, rows, tf)                                        # |d|, (N,)
        self.avgdl = length.mean().item() if N else math.nan
        norm = self.k1 * (1 - self.b + self.b * length / self.avgdl)                             # (N,)
        self.weights = torch.sparse_coo_tensor(counts.indices(), self.idf[cols] * tf / (tf + norm[rows]),
                                               counts.shape, check_invariants=True).coalesce()

    def _queries(self, queries: Sequence[str]) -> torch.Tensor:
        return term_counts(queries, self.vocab, tokenize=self.tokenize)[0]
