"""Counting n-gram language models and the neural bigram (Chapter 02 — Language models).

The simplest model that predicts the next token: count, in a training text, how often each token
follows each context of ``order - 1`` tokens, and turn the counts into probabilities. Chapter 00
uses it as a stand-in for a transformer (it produces logits like any model), and Chapter 02
builds the bigram (``order=2``) case from scratch.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence

import numpy as np
import torch

from llmcourse import decoding
from llmcourse._checks import in_vocab, non_negative, positive_int


class NGramModel:
    """A character/token n-gram model with add-``alpha`` smoothing.

    ``P(next = j | context) = (count(context, j) + alpha) / (count(context) + alpha * V)``;
    a context never seen in training backs off to the next shorter context (down to unigram
    counts), so every token keeps a non-zero probability.

    >>> m = NGramModel(order=2, alpha=0.0).fit([0, 1, 0, 1, 0, 2], vocab_size=3)
    >>> [round(p, 3) for p in m.next_token_probs([0]).tolist()]   # after 0: twice 1, once 2
    [0.0, 0.667, 0.333]

    Chapter 00 — the pipeline in one page; Chapter 02 — language models.
    """

    def __init__(self, order: int = 3, alpha: float = 0.01) -> None:
        self.order = positive_int("order", order, " (1 = unigram, 2 = bigram, ...)")
        self.alpha = non_negative("alpha", alpha, " (add-alpha smoothing)")
        self.vocab_size = 0
        # counts[k][context of length k] = array (V,) of next-token counts, k = 0 .. order-1
        self.counts: list[dict[tuple[int, ...], np.ndarray]] = []

    def fit(self, ids: Sequence[int] | torch.Tensor, vocab_size: int) -> "NGramModel":
        """Count every (context, next token) pair of ``ids`` (a 1-D sequence of token ids)."""
        ids = [int(i) for i in (ids.tolist() if isinstance(ids, torch.Tensor) else ids)]
        if len(ids) < 2:
            raise ValueError(f"need at least 2 tokens to count transitions, got {len(ids)}")
        in_vocab("token ids", torch.tensor(ids), vocab_size)
        self.vocab_size = vocab_size
        self.counts = []
        for k in range(self.order):
            table: dict[tuple[int, ...], np.ndarray] = defaultdict(lambda: np.zeros(vocab_size, np.float64))
            for t in range(k, len(ids)):
                table[tuple(ids[t - k:t])][ids[t]] += 1
            self.counts.append(dict(table))
        return self

    def _check_fitted(self) -> None:
        if not self.counts:
            raise RuntimeError("the model has no counts yet: call fit(ids, vocab_size) first")

    def next_token_probs(self, context: Sequence[int]) -> torch.Tensor:
        """Probabilities of the next token after ``context`` (any length; the last order-1 ids count).

        Returns a float32 tensor of shape ``(V,)`` summing to 1.
        """
        self._check_fitted()
        context = [int(i) for i in context]
        for k in range(min(self.order - 1, len(context)), -1, -1):
            row = self.counts[k].get(tuple(context[len(context) - k:]) if k else ())
            if row is not None:
                smoothed = row + self.alpha
                return torch.from_numpy(smoothed / smoothed.sum()).float()
        raise AssertionError("unreachable: the unigram row always exists after fit")

    def next_token_logits(self, context: Sequence[int]) -> torch.Tensor:
        """Log-probabilities, shape ``(V,)``: logits in the sense every later model uses them."""
        return torch.log(self.next_token_probs(context))

    def nll(self, ids: Sequence[int] | torch.Tensor) -> float:
        """Mean negative log-likelihood in nats per predicted token of ``ids`` (first token not scored)."""
        ids = [int(i) for i in (ids.tolist() if isinstance(ids, torch.Tensor) else ids)]
        if len(ids) < 2:
            raise ValueError("need at least 2 tokens to score a transition")
        total = 0.0
        for t in range(1, len(ids)):
            p = float(self.next_token_probs(ids[max(0, t - self.order + 1):t])[ids[t]])
            total += -math.log(p) if p > 0 else math.inf
        return total / (len(ids) - 1)

    @property
    def max_context(self) -> int:
        """How many tokens the model reads: the last ``order − 1`` (a unigram reads one and ignores it)."""
        return max(1, self.order - 1)

    def __call__(self, ids: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, T, V)`` of the next token at every position of ``ids (B, T)``: the protocol of
        every model of the course, so :func:`~llmcourse.decoding.generate` can run this one too."""
        self._check_fitted()
        return torch.stack([torch.stack([self.next_token_logits(row[:t + 1]) for t in range(len(row))])
                            for row in ids.tolist()])

    def generate(self, context: Sequence[int], n: int, *, temperature: float = 1.0,
                 generator: torch.Generator | None = None) -> list[int]:
        """Sample ``n`` tokens after ``context``; ``temperature=0`` picks the most likely token.

        :func:`llmcourse.decoding.generate`, the course's one generation loop, with this model
        (so ``context`` holds at least one id).

        >>> NGramModel(order=2).fit([0, 1, 2, 0, 1, 2], vocab_size=3).generate([0], 4, temperature=0)
        [1, 2, 0, 1]
        """
        prompt = torch.tensor([[int(i) for i in context]], dtype=torch.long)    # (1, T)
        out = decoding.generate(self, prompt, n, temperature=temperature, generator=generator)
        return out[0, prompt.shape[1]:].tolist()


# --- Chapter 02 — language models: the bigram as tensors ---------------------------------------------

def bigram_counts(ids: Sequence[int] | torch.Tensor, vocab_size: int) -> torch.Tensor:
    """Count matrix of a token stream: ``counts[i, j]`` = how often token ``j`` follows token ``i``.

    Returns a float32 tensor of shape ``(V, V)``; row ``i`` is the context, column ``j`` the next
    token, and ``counts.sum()`` equals ``len(ids) - 1``.

    >>> bigram_counts([0, 1, 0, 1, 0, 2], vocab_size=3).tolist()
    [[0.0, 2.0, 1.0], [2.0, 0.0, 0.0], [0.0, 0.0, 0.0]]

    Chapter 02 — language models.
    """
    ids = torch.as_tensor(ids, dtype=torch.long)
    if ids.dim() != 1 or len(ids) < 2:
        raise ValueError(f"ids must be a 1-D sequence of at least 2 token ids, got shape {tuple(ids.shape)}")
    in_vocab("token ids", ids, vocab_size)
    counts = torch.zeros(vocab_size, vocab_size)
    counts.index_put_((ids[:-1], ids[1:]), torch.ones(len(ids) - 1), accumulate=True)
    return counts


class NeuralBigram(torch.nn.Module):
    """A bigram language model as a neural network: one ``(V, V)`` table of logits.

    Row ``i`` of ``table`` holds the logits of the token after token ``i``, so ``forward`` is a
    lookup: ids ``(B, T)`` → logits ``(B, T, V)``. Trained by gradient descent, it learns what
    counting computes directly; :meth:`from_counts` builds the counting model in the same form
    (logits = log of the smoothed counts), so both can be scored by the same code.

    >>> model = NeuralBigram.from_counts(bigram_counts([0, 1, 0, 1], 2), alpha=0.0)
    >>> model(torch.tensor([[0, 1]])).exp().tolist()     # after 0 always 1, after 1 always 0
    [[[0.0, 1.0], [1.0, 0.0]]]

    Chapter 02 — language models.
    """

    def __init__(self, vocab_size: int) -> None:
        super().__init__()
        self.table = torch.nn.Embedding(vocab_size, vocab_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.table(x)                                  # (B, T) -> (B, T, V)

    @classmethod
    def from_counts(cls, counts: torch.Tensor, alpha: float = 1.0) -> "NeuralBigram":
        """The counting model: logits ``log((counts + alpha) / row sums)`` (rows: add-``alpha`` smoothing)."""
        if counts.dim() != 2 or counts.shape[0] != counts.shape[1]:
            raise ValueError(f"counts must be a square (V, V) matrix, got shape {tuple(counts.shape)}")
        smoothed = counts.float() + non_negative("alpha", alpha, " (add-alpha smoothing)")
        model = cls(counts.shape[0])
        with torch.no_grad():
            model.table.weight.copy_(torch.log(smoothed / smoothed.sum(dim=1, keepdim=True)))
        return model
