"""Translating with Chapter 08's decoding loop, and scoring translations (Chapter 10 — The encoder–decoder).

A sequence-to-sequence model whose source is fixed is a language model of the target:
:class:`Conditioned` wraps it in Chapter 08's protocol, so :func:`translate` runs
:func:`~llmcourse.decoding.generate` (greedy) and :func:`~llmcourse.decoding.beam_search`
unchanged. :func:`score_translations` measures exact match, BLEU and chrF with ``sacrebleu``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from llmcourse import decoding
from llmcourse._checks import eval_mode, positive_int, tensor


class Conditioned(nn.Module):
    """``model`` with its source fixed: a language model of the target, in Chapter 08's protocol.

    The source ``src (B, S)`` is encoded once; ``forward(ids (B', T), caches=None)`` returns
    ``model.decode(ids, memory, mask, caches=caches)`` — the logits ``(B', T, V)`` of the next
    target token — so :func:`~llmcourse.decoding.generate` and
    :func:`~llmcourse.decoding.beam_search` run on it unchanged. With one source (``B = 1``) and
    several rows of ``ids`` (beam search's hypotheses), the memory is shared by every row.

    Chapter 10 — The encoder–decoder.
    """

    def __init__(self, model: nn.Module, src: torch.Tensor) -> None:
        super().__init__()
        self.model = model
        self.max_context = getattr(model, "max_context", None)
        with eval_mode(model), torch.no_grad():
            self.memory, self.memory_mask = model.encode(src)

    @property
    def new_caches(self):
        """The model's ``new_caches`` (absent if the model has none: then decoding re-reads the target)."""
        return self.model.new_caches

    def forward(self, ids: torch.Tensor, *, caches=None) -> torch.Tensor:
        memory, mask = self.memory, self.memory_mask
        if memory.shape[0] == 1 and ids.shape[0] > 1:          # one source, many hypotheses
            memory = memory.expand(ids.shape[0], *memory.shape[1:])
            mask = None if mask is None else mask.expand(ids.shape[0], *mask.shape[1:])
        return self.model.decode(ids, memory, mask, caches=caches)


@torch.no_grad()
def translate(model: nn.Module, src: torch.Tensor, *, max_len: int = 24, bos_id: int = 1, eos_id: int = 2,
              beam_width: int = 1, length_penalty: float = 1.0) -> list[list[int]]:
    """Translate each row of ``src (B, S)``: ``B`` lists of target ids, without ``<bos>`` and ``<eos>``.

    ``beam_width = 1``: greedy, all rows at once, with :func:`~llmcourse.decoding.generate`
    (``temperature=0``, ``stop_token=eos_id``: a row that has written ``<eos>`` is finished).
    Otherwise :func:`~llmcourse.decoding.beam_search`, one row at a time. At most ``max_len``
    tokens are written per row.

    Chapter 10 — The encoder–decoder.
    """
    tensor("src", src, "(B, S)", dtype="long")
    window = getattr(model, "max_context", None)
    if positive_int("max_len", max_len) + 1 > (window or max_len + 1):
        raise ValueError(f"max_len={max_len}: <bos> and {max_len} tokens do not fit in the model's {window} positions")
    if positive_int("beam_width", beam_width) == 1:
        start = torch.full((src.shape[0], 1), bos_id, dtype=torch.long)
        rows = decoding.generate(Conditioned(model, src), start, max_len, temperature=0, stop_token=eos_id)[:, 1:]
        rows = rows.tolist()
    else:
        start = torch.tensor([[bos_id]])
        rows = [decoding.beam_search(Conditioned(model, src[i:i + 1]), start, max_len, beam_width=beam_width,
                                     length_penalty=length_penalty, eos_token=eos_id)[0][0][1:].tolist()
                for i in range(src.shape[0])]
    return [r[:r.index(eos_id)] if eos_id in r else r for r in rows]


@dataclass(frozen=True)
class Scores:
    """Translation quality over ``n`` sentences: ``exact_match`` (fraction), corpus ``bleu`` and ``chrf`` (0–100)."""

    n: int
    exact_match: float
    bleu: float
    chrf: float


def score_translations(hypotheses: Sequence[str], references: Sequence[str], *, tokenize: str = "13a") -> Scores:
    """Exact match, corpus BLEU and chrF of ``hypotheses`` against one reference each, with ``sacrebleu``.

    BLEU's ``tokenize="13a"`` splits at spaces and punctuation: for Korean, whole words with their
    particles (어절), so a wrong particle costs the word. chrF compares character n-grams and needs
    no tokenizer.

    >>> score_translations(["미나는 돌을 주웠어요."], ["미나는 돌을 주웠어요."])
    Scores(n=1, exact_match=1.0, bleu=100.0, chrf=100.0)

    Chapter 10 — The encoder–decoder.
    """
    import sacrebleu

    if len(hypotheses) != len(references) or not hypotheses:
        raise ValueError(f"need as many hypotheses as references (at least one), got {len(hypotheses)} "
                         f"and {len(references)}")
    exact = sum(h == r for h, r in zip(hypotheses, references)) / len(references)
    bleu = sacrebleu.corpus_bleu(list(hypotheses), [list(references)], tokenize=tokenize).score
    chrf = sacrebleu.corpus_chrf(list(hypotheses), [list(references)]).score
    return Scores(len(references), exact, round(bleu, 10), round(chrf, 10))
