"""From logits to the next token (Chapter 00 — The pipeline in one page).

A language model ends every step with one vector of **logits** (로짓): one real number per
token of the vocabulary, larger meaning "more likely next". Three small functions turn that
vector into a choice, and the rest of the course builds everything that comes before them:

    logits ──apply_temperature──▶ sharper or flatter logits ──softmax──▶ probabilities
                                                                           │
                                          greedy_pick (or sampling, Ch. 08) ◀┘

``probability_table`` prints what the model "thinks" as rows of (token, probability).
These are the reference versions; the Chapter 00 exercise asks the learner to write the first
three from ``exp``, ``max`` and ``sum``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

__all__ = ["softmax", "apply_temperature", "greedy_pick", "probability_table"]


def softmax(logits: Tensor, dim: int = -1) -> Tensor:
    """Turn logits into probabilities along ``dim``: ``exp(x_i) / sum_j exp(x_j)``.

    The maximum along ``dim`` is subtracted first. That changes nothing mathematically
    (the factor ``exp(-max)`` cancels) but keeps ``exp`` from overflowing: ``exp(1000.)`` is
    ``inf`` in float32, ``exp(1000. - 1001.)`` is fine. ``-inf`` logits get probability 0.

    Args:
        logits: a floating-point tensor of any shape ``(..., V, ...)``.
        dim: the dimension that holds the vocabulary (default: the last one).

    Returns:
        A tensor of the same shape and dtype; every slice along ``dim`` sums to 1.

    Example:
        >>> softmax(torch.tensor([1000.0, 1001.0]))
        tensor([0.2689, 0.7311])
        >>> softmax(torch.zeros(2, 3), dim=0)
        tensor([[0.5000, 0.5000, 0.5000],
                [0.5000, 0.5000, 0.5000]])

    Chapter 00 — the pipeline in one page.
    """
    if not torch.is_floating_point(logits):
        raise TypeError(f"softmax expects a floating-point tensor, got dtype {logits.dtype}")
    shifted = logits - logits.amax(dim=dim, keepdim=True)  # largest entry becomes 0
    exps = shifted.exp()                                   # each in [0, 1]: no overflow
    return exps / exps.sum(dim=dim, keepdim=True)


def apply_temperature(logits: Tensor, temperature: float) -> Tensor:
    """Divide the logits by the temperature ``T`` (a new tensor; the input is not changed).

    ``T < 1`` sharpens the distribution that ``softmax`` makes of the logits (``T → 0``
    approaches greedy decoding), ``T > 1`` flattens it (``T → ∞`` approaches uniform),
    ``T = 1`` leaves it unchanged.

    Args:
        logits: a floating-point tensor of any shape.
        temperature: a number ``> 0``.

    Returns:
        ``logits / temperature``, same shape and dtype as ``logits``.

    Raises:
        ValueError: when ``temperature`` is not ``> 0`` (zero, negative or NaN).

    Example:
        >>> apply_temperature(torch.tensor([1.0, 2.0]), 0.5)
        tensor([2., 4.])

    Chapter 00 — the pipeline in one page.
    """
    if not temperature > 0:  # also rejects NaN, for which every comparison is False
        raise ValueError(f"temperature must be > 0, got {temperature!r}")
    return logits / temperature


def greedy_pick(probs_or_logits: Tensor) -> int | Tensor:
    """Pick the most likely token: the index of the largest entry along the last dimension.

    Works on probabilities or logits alike (softmax keeps the order). Ties go to the
    lowest index, which ``torch.argmax`` guarantees.

    Args:
        probs_or_logits: shape ``(V,)`` or ``(..., V)``.

    Returns:
        A Python ``int`` for a 1-D input; otherwise a ``torch.long`` tensor of shape ``(...)``.

    Example:
        >>> greedy_pick(torch.tensor([0.1, 0.6, 0.3]))
        1
        >>> greedy_pick(torch.tensor([[2.0, 2.0], [0.0, 5.0]]))
        tensor([0, 1])

    Chapter 00 — the pipeline in one page.
    """
    if probs_or_logits.dim() == 0:
        raise ValueError("greedy_pick needs at least one dimension (the vocabulary), got a scalar")
    picks = probs_or_logits.argmax(dim=-1)
    return int(picks) if probs_or_logits.dim() == 1 else picks


def probability_table(probs: Tensor, itos: Sequence[str] | dict[int, str], k: int = 5) -> list[tuple[str, float]]:
    """The ``k`` most likely tokens as ``(token, probability)`` rows, most likely first.

    Args:
        probs: shape ``(V,)``, probabilities (e.g. the output of :func:`softmax`).
        itos: index → token string, a list or a dict.
        k: number of rows (at most ``V``).

    Returns:
        ``k`` pairs sorted by decreasing probability; ties keep the lower index first.

    Example:
        >>> probability_table(torch.tensor([0.25, 0.5, 0.25]), ["a", "b", "c"], k=2)
        [('b', 0.5), ('a', 0.25)]

    Chapter 00 — the pipeline in one page.
    """
    if probs.dim() != 1:
        raise ValueError(f"probability_table expects shape (V,), got {tuple(probs.shape)}")
    k = min(k, probs.numel())
    order = sorted(range(probs.numel()), key=lambda i: (-float(probs[i]), i))[:k]
    return [(itos[i], float(probs[i])) for i in order]
