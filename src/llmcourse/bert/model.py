"""The encoder-only transformer and its heads (Chapter 09 — BERT, the encoder).

Read top to bottom, in the order the chapter builds them:

1. :class:`BertConfig` — the model's sizes, checked when it is made;
2. :class:`BERT` — token + segment + position embeddings, a LayerNorm, then ``n_layers``
   post-LN :class:`~llmcourse.transformer.Block` s **without** the causal mask, with a padding
   mask instead: every real token sees every real token, none sees the padding;
3. :func:`cls_pool` and :func:`mean_pool` — one vector per sequence: the ``[CLS]`` position's,
   or the mean over the real (non-padding) positions;
4. :class:`MLMHead` — dense → GELU → LayerNorm → scores over the vocabulary, the output matrix
   tied to the token embeddings (BERT's masked-language-model head);
5. :class:`BertClassifier` — a pooled vector → class scores, for fine-tuning.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from llmcourse._checks import in_vocab, one_of, positive, positive_int, probability, tensor
from llmcourse.attention import padding_mask
from llmcourse.transformer import Block, LayerNorm


@dataclass(frozen=True)
class BertConfig:
    """Sizes of a :class:`BERT`. ``d_ff=None`` means ``4 · d_model``; ``eps`` is every LayerNorm's.

    The defaults are BERT's own choices where they are not sizes: two segments, LayerNorm
    ``eps = 1e-12``. all-MiniLM-L6-v2 is ``BertConfig(30522, 512, n_layers=6, n_heads=12,
    d_model=384, d_ff=1536)``.

    >>> BertConfig(vocab_size=100, max_len=32).d_model
    128

    Chapter 09 — BERT, the encoder.
    """

    vocab_size: int
    max_len: int
    n_layers: int = 2
    n_heads: int = 4
    d_model: int = 128
    d_ff: int | None = None
    n_segments: int = 2
    dropout: float = 0.0
    eps: float = 1e-12
    fast: bool = False

    def __post_init__(self) -> None:
        for name in ("vocab_size", "max_len", "n_layers", "n_heads", "d_model", "n_segments"):
            positive_int(f"BertConfig.{name}", getattr(self, name))
        if self.d_ff is not None:
            positive_int("BertConfig.d_ff", self.d_ff)
        if self.d_model % self.n_heads:
            raise ValueError(f"BertConfig.d_model={self.d_model} must be divisible by n_heads={self.n_heads}")
        probability("BertConfig.dropout", self.dropout)
        positive("BertConfig.eps", self.eps)
        if not isinstance(self.fast, bool):
            raise ValueError(f"BertConfig.fast must be True or False, got {self.fast!r}")


class BERT(nn.Module):
    """The encoder: ids ``(B, T)`` → one vector per position ``(B, T, C)``, each seeing both sides.

    ``h = LN(tok_emb[ids] + seg_emb[segments] + pos_emb[0..T-1])`` → ``n_layers`` post-LN blocks
    (``x = ln1(x + attn(x)); x = ln2(x + mlp(x))``, exact GELU) called with ``causal=False`` and
    the padding mask of ``lengths``. ``pooler`` (dense + tanh on ``[CLS]``) is BERT's sentence
    vector, used by :class:`BertClassifier` with ``pooling="cls"``.

    ``forward(ids, segments=None, lengths=None)``: ``segments (B, T)`` long in
    ``[0, n_segments)`` (default all 0); ``lengths (B,)``: row ``b``'s real tokens are
    ``ids[b, :lengths[b]]``, the rest is padding that no position attends to (default: no
    padding). Initialisation: normal(0, 0.02) for matrices and tables, zero biases.

    >>> bert = BERT(BertConfig(vocab_size=10, max_len=8, n_layers=1, n_heads=2, d_model=16))
    >>> bert(torch.zeros(3, 5, dtype=torch.long), lengths=torch.tensor([5, 2, 3])).shape
    torch.Size([3, 5, 16])

    Chapter 09 — BERT, the encoder.
    """

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        if not isinstance(config, BertConfig):
            raise TypeError(f"BERT expects a BertConfig, got {type(config).__name__}")
        self.config = c = config
        self.tok_emb = nn.Embedding(c.vocab_size, c.d_model)
        self.seg_emb = nn.Embedding(c.n_segments, c.d_model)
        self.pos_emb = nn.Embedding(c.max_len, c.d_model)
        self.emb_ln = LayerNorm(c.d_model, c.eps, fast=c.fast)
        self.drop = nn.Dropout(c.dropout)
        self.blocks = nn.ModuleList(Block(c.d_model, c.n_heads, c.d_ff, pre_ln=False, dropout=c.dropout,
                                          fast=c.fast, eps=c.eps) for _ in range(c.n_layers))
        self.pooler = nn.Linear(c.d_model, c.d_model)
        self.apply(_init_weights)

    def forward(self, ids: torch.Tensor, segments: torch.Tensor | None = None,
                lengths: torch.Tensor | None = None) -> torch.Tensor:
        B, T = tensor("ids", ids, "(B, T)", dtype="long").shape
        in_vocab("ids", ids, self.config.vocab_size)
        if T > self.config.max_len:
            raise ValueError(f"{T} tokens do not fit max_len={self.config.max_len}; truncate the input")
        if segments is None:
            segments = torch.zeros_like(ids)
        in_vocab("segments", tensor("segments", segments, f"({B}, {T})", dtype="long"), self.config.n_segments)
        mask = None if lengths is None else padding_mask(lengths, T)            # (B, 1, 1, T)
        positions = torch.arange(T, device=ids.device)                             # (T,)
        x = self.tok_emb(ids) + self.seg_emb(segments) + self.pos_emb(positions)  # (B, T, C)
        x = self.drop(self.emb_ln(x))
        for block in self.blocks:
            x = block(x, causal=False, mask=mask)       # every real token sees every real token
        return x                                                                    # (B, T, C)


def _init_weights(module: nn.Module) -> None:
    if isinstance(module, (nn.Linear, nn.Embedding)):
        nn.init.normal_(module.weight, mean=0.0, std=0.02)
    if isinstance(module, nn.Linear) and module.bias is not None:
        nn.init.zeros_(module.bias)


def cls_pool(hidden: torch.Tensor) -> torch.Tensor:
    """``hidden (B, T, C)`` → ``(B, C)``: the vector at position 0, the ``[CLS]`` token.

    >>> cls_pool(torch.arange(12.0).view(1, 3, 4)).tolist()
    [[0.0, 1.0, 2.0, 3.0]]

    Chapter 09 — BERT, the encoder.
    """
    return tensor("hidden", hidden, "(B, T, C)")[:, 0]


def mean_pool(hidden: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
    """``hidden (B, T, C)`` → ``(B, C)``: the mean of row ``b``'s first ``lengths[b]`` vectors.

    Padding positions have vectors too (they attend to the real tokens); they must not enter the
    mean. ``lengths=None`` averages all ``T`` positions. A length of 0 gives a zero vector.

    >>> h = torch.tensor([[[1.0], [3.0], [100.0]]])       # the third position is padding
    >>> mean_pool(h, torch.tensor([2])).tolist()
    [[2.0]]

    Chapter 09 — BERT, the encoder.
    """
    B, T, _ = tensor("hidden", hidden, "(B, T, C)").shape
    if lengths is None:
        return hidden.mean(dim=1)
    keep = padding_mask(lengths, T).view(B, T, 1).to(hidden.dtype)               # (B, T, 1)
    return (hidden * keep).sum(dim=1) / keep.sum(dim=1).clamp_min(1.0)


class MLMHead(nn.Module):
    """Scores over the vocabulary at each position: ``(..., C)`` → ``(..., V)``.

    ``dense (C → C)`` → GELU → LayerNorm → ``h Eᵀ + bias``, where ``E`` is the encoder's token
    embedding table (tied: the same tensor, not a copy) and ``bias`` a vector of ``V`` scores.

    >>> bert = BERT(BertConfig(vocab_size=10, max_len=8, n_layers=1, n_heads=2, d_model=16))
    >>> head = MLMHead(bert)
    >>> head(torch.randn(2, 16)).shape, head.decoder.weight is bert.tok_emb.weight
    (torch.Size([2, 10]), True)

    Chapter 09 — BERT, the encoder.
    """

    def __init__(self, bert: BERT) -> None:
        super().__init__()
        c = bert.config
        self.dense = nn.Linear(c.d_model, c.d_model)
        self.ln = LayerNorm(c.d_model, c.eps, fast=c.fast)
        self.decoder = nn.Linear(c.d_model, c.vocab_size)
        self.decoder.weight = bert.tok_emb.weight                 # weight tying, as in Chapter 07
        _init_weights(self.dense)
        nn.init.zeros_(self.decoder.bias)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.ln(F.gelu(self.dense(h))))


class BertForMLM(nn.Module):
    """:class:`BERT` + :class:`MLMHead`: ids ``(B, T)`` → vocabulary scores ``(B, T, V)``.

    ``forward(ids, segments=None, lengths=None)``; ``loss(...)`` adds ``labels (B, T)`` and
    returns the mean cross-entropy over the positions whose label is not ``-100``.

    Chapter 09 — BERT, the encoder.
    """

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.config = config
        self.bert = BERT(config)
        self.head = MLMHead(self.bert)

    def forward(self, ids: torch.Tensor, segments: torch.Tensor | None = None,
                lengths: torch.Tensor | None = None) -> torch.Tensor:
        return self.head(self.bert(ids, segments, lengths))

    def loss(self, ids: torch.Tensor, labels: torch.Tensor, segments: torch.Tensor | None = None,
             lengths: torch.Tensor | None = None) -> torch.Tensor:
        """Mean cross-entropy (nats) at the chosen positions (``labels != -100``) only.

        Only those positions go through the head: the others would cost ``V`` scores each for
        nothing.
        """
        tensor("labels", labels, f"({ids.shape[0]}, {ids.shape[1]})", dtype="long")
        chosen = labels != -100                                                     # (B, T)
        h = self.bert(ids, segments, lengths)[chosen]                               # (N, C)
        return F.cross_entropy(self.head(h), labels[chosen])


class BertClassifier(nn.Module):
    """A BERT with a classification head: ids ``(B, T)`` → class scores ``(B, n_classes)``.

    ``pooling="cls"``: BERT's pooler, ``tanh(W h[CLS] + b)``; ``pooling="mean"``: the mean of
    the real positions (:func:`mean_pool`). Then dropout and ``Linear(C, n_classes)``. Pass a
    pretrained ``bert`` to fine-tune it; every weight is trained unless you freeze it.

    >>> bert = BERT(BertConfig(vocab_size=10, max_len=8, n_layers=1, n_heads=2, d_model=16))
    >>> BertClassifier(bert, 3, pooling="mean")(torch.zeros(2, 4, dtype=torch.long)).shape
    torch.Size([2, 3])

    Chapter 09 — BERT, the encoder.
    """

    def __init__(self, bert: BERT, n_classes: int, *, pooling: str = "cls", dropout: float = 0.1) -> None:
        super().__init__()
        self.bert, self.pooling = bert, one_of("pooling", pooling, ("cls", "mean"))
        self.drop = nn.Dropout(probability("dropout", dropout))
        self.head = nn.Linear(bert.config.d_model, positive_int("n_classes", n_classes))
        _init_weights(self.head)

    def forward(self, ids: torch.Tensor, segments: torch.Tensor | None = None,
                lengths: torch.Tensor | None = None) -> torch.Tensor:
        h = self.bert(ids, segments, lengths)                                       # (B, T, C)
        pooled = torch.tanh(self.bert.pooler(cls_pool(h))) if self.pooling == "cls" else mean_pool(h, lengths)
        return self.head(self.drop(pooled))                                         # (B, n_classes)
