"""Scoring retrieval against known gold passages, and answers against gold answers (Chapter 13 — Retrieval-augmented generation).

The World says exactly which chunk holds each answer (:func:`~llmcourse.rag.chunking.gold_chunks`),
so a ranking can be scored without a judge:

* :func:`first_gold_rank` — where in a ranking the first gold chunk is (1-based), or ``None``;
* :func:`recall_at_k` — the share of questions with a gold chunk among the first ``k``;
* :func:`mrr` — the mean reciprocal rank of the first gold chunk (0 when it is not ranked);
* :func:`retrieval_report` — both, at several ``k``, for one retriever;
* :func:`exact_match` — the share of answers equal to the gold answer, character for character.

>>> ranked = [[4, 2, 7], [1, 3, 5], [9, 8, 6]]
>>> gold = [[2], [1, 5], [0]]
>>> first_gold_rank(ranked, gold)
[2, 1, None]
>>> recall_at_k(ranked, gold, 1), recall_at_k(ranked, gold, 3), round(mrr(ranked, gold), 3)
(0.3333333333333333, 0.6666666666666666, 0.5)
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from llmcourse._checks import positive_int

__all__ = ["first_gold_rank", "recall_at_k", "mrr", "retrieval_report", "exact_match"]


def _rows(ranked: torch.Tensor | Sequence[Sequence[int]]) -> list[list[int]]:
    return ranked.tolist() if isinstance(ranked, torch.Tensor) else [list(r) for r in ranked]


def first_gold_rank(ranked: torch.Tensor | Sequence[Sequence[int]], gold: Sequence[Sequence[int]]) -> list[int | None]:
    """For each question, the 1-based rank of the first gold chunk in its ranking, or ``None``.

    ``ranked``: ``(Q, K)`` chunk indices, best first (a tensor or lists); ``gold``: for each
    question, the indices of its gold chunks (any of them counts).

    Chapter 13 — Retrieval-augmented generation.
    """
    rows = _rows(ranked)
    if len(rows) != len(gold):
        raise ValueError(f"ranked has {len(rows)} rows and gold {len(gold)}: one of each per question")
    out = []
    for row, wanted in zip(rows, gold):
        wanted = set(wanted)
        out.append(next((r + 1 for r, i in enumerate(row) if i in wanted), None))
    return out


def recall_at_k(ranked: torch.Tensor | Sequence[Sequence[int]], gold: Sequence[Sequence[int]], k: int) -> float:
    """The share of questions that have at least one gold chunk among their first ``k`` retrieved.

    Counted per *question*, not per retrieved chunk: a question whose gold chunk is ranked 3rd
    counts 1 at ``k`` = 3, 5 or 10, and 0 at ``k`` = 1. A question without a gold chunk counts 0.

    Chapter 13 — Retrieval-augmented generation.
    """
    positive_int("k", k)
    ranks = first_gold_rank(ranked, gold)
    return sum(r is not None and r <= k for r in ranks) / len(ranks)


def mrr(ranked: torch.Tensor | Sequence[Sequence[int]], gold: Sequence[Sequence[int]]) -> float:
    """Mean reciprocal rank: the mean over questions of ``1 / rank`` of the first gold chunk (0 if absent).

    Chapter 13 — Retrieval-augmented generation.
    """
    ranks = first_gold_rank(ranked, gold)
    return sum(1 / r for r in ranks if r is not None) / len(ranks)


def retrieval_report(ranked: torch.Tensor | Sequence[Sequence[int]], gold: Sequence[Sequence[int]],
                     ks: Sequence[int] = (1, 5, 10)) -> dict[str, float]:
    """``{"recall@1": …, "recall@5": …, "recall@10": …, "MRR": …}`` for one ranking of every question.

    Chapter 13 — Retrieval-augmented generation.
    """
    out = {f"recall@{k}": recall_at_k(ranked, gold, k) for k in ks}
    out["MRR"] = mrr(ranked, gold)
    return out


def exact_match(answers: Sequence[str], gold: Sequence[str]) -> float:
    """The share of ``answers`` equal to their ``gold`` answer, character for character.

    >>> exact_match(["Tollo", "tollo", "1901"], ["Tollo", "Tollo", "1901"])
    0.6666666666666666

    Chapter 13 — Retrieval-augmented generation.
    """
    if len(answers) != len(gold) or not gold:
        raise ValueError(f"need as many answers as gold answers, at least one: got {len(answers)} and {len(gold)}")
    return sum(a == g for a, g in zip(answers, gold)) / len(gold)
