"""The transformer encoder–decoder: cross-attention, decoder blocks, the model (Chapter 10 — The encoder–decoder).

Read top to bottom: :func:`shift_right` (teacher forcing's decoder input), :class:`CrossAttention`
(queries from the decoder, keys and values from the encoder's output), :class:`DecoderBlock`
(causal self-attention, cross-attention, feed-forward), :class:`Seq2SeqConfig` and
:class:`EncoderDecoder` (Chapter 06's blocks as the encoder, decoder blocks, sinusoidal positions).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from llmcourse._checks import bool_mask, in_vocab, positive_int, probability, tensor
from llmcourse.attention import scaled_dot_product_attention
from llmcourse.embeddings import sinusoidal_positions
from llmcourse.transformer import Block, FeedForward, KVCache, LayerNorm, MultiHeadAttention, merge_heads, split_heads


def shift_right(targets: torch.Tensor, bos_id: int) -> torch.Tensor:
    """The decoder's input under teacher forcing: ``targets (B, T)`` → ``(B, T)``.

    ``<bos>`` first, then ``targets`` without its last token, so position ``t`` reads the target
    tokens before ``t`` and is trained to predict ``targets[:, t]``.

    >>> shift_right(torch.tensor([[7, 8, 9, 2]]), bos_id=1)
    tensor([[1, 7, 8, 9]])

    Chapter 10 — The encoder–decoder.
    """
    tensor("targets", targets, "(B, T)", dtype="long")
    bos = torch.full_like(targets[:, :1], bos_id)
    return torch.cat([bos, targets[:, :-1]], dim=1)


class CrossAttention(nn.Module):
    """Multi-head attention from the decoder to the encoder: ``x (B, T, C)``, ``memory (B, S, C)`` → ``(B, T, C)``.

    ``q = x W_q`` (the decoder asks), ``k, v = memory W_k, memory W_v`` (the source answers);
    each head runs Chapter 05's scaled dot-product attention with ``memory_mask`` (bool,
    broadcastable to ``(B, H, T, S)``, ``True`` = a real source token), and ``proj`` mixes the
    heads. ``return_weights=True`` also returns the weights ``(B, H, T, S)``. Equal to
    ``torch.nn.MultiheadAttention(x, memory, memory, key_padding_mask=~mask)`` given the same
    weights (the tests check it).

    >>> CrossAttention(8, 2)(torch.randn(2, 3, 8), torch.randn(2, 5, 8)).shape
    torch.Size([2, 3, 8])

    Chapter 10 — The encoder–decoder.
    """

    def __init__(self, d_model: int, n_heads: int, *, dropout: float = 0.0, fast: bool = False) -> None:
        super().__init__()
        if positive_int("d_model", d_model) % positive_int("n_heads", n_heads):
            raise ValueError(f"d_model={d_model} must be divisible by n_heads={n_heads}")
        self.d_model, self.n_heads, self.fast = d_model, n_heads, bool(fast)
        self.q = nn.Linear(d_model, d_model)
        self.kv = nn.Linear(d_model, 2 * d_model)
        self.proj = nn.Linear(d_model, d_model)
        self.drop = nn.Dropout(probability("dropout", dropout))

    def forward(self, x: torch.Tensor, memory: torch.Tensor, memory_mask: torch.Tensor | None = None, *,
                return_weights: bool = False) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        tensor("x", x, f"(B, T, {self.d_model})")
        tensor("memory", memory, f"(B, S, {self.d_model})")
        bool_mask("memory_mask", memory_mask)
        q = split_heads(self.q(x), self.n_heads)                           # (B, H, T, D): from the decoder
        k, v = (split_heads(t, self.n_heads) for t in self.kv(memory).split(self.d_model, dim=-1))  # (B, H, S, D)
        if self.fast and not return_weights:
            y, weights = F.scaled_dot_product_attention(q, k, v, attn_mask=memory_mask), None
        else:
            y, weights = scaled_dot_product_attention(q, k, v, memory_mask, return_weights=True)
        y = self.drop(self.proj(merge_heads(y)))                           # (B, T, C)
        return (y, weights) if return_weights else y


class DecoderBlock(nn.Module):
    """One decoder block (pre-LN): ``x (B, T, C)`` and ``memory (B, S, C)`` → ``(B, T, C)``::

        x = x + self_attn(ln1(x), causal)           # the target so far
        x = x + cross_attn(ln2(x), memory, mask)    # the source
        x = x + mlp(ln3(x))

    ``cache`` (a :class:`~llmcourse.transformer.KVCache`) keeps the self-attention's keys and
    values for incremental decoding; ``return_weights=True`` also returns the cross-attention
    weights ``(B, H, T, S)``.

    Chapter 10 — The encoder–decoder.
    """

    def __init__(self, d_model: int, n_heads: int, d_ff: int | None = None, *, dropout: float = 0.0,
                 fast: bool = False) -> None:
        super().__init__()
        self.ln1, self.ln2, self.ln3 = (LayerNorm(d_model, fast=fast) for _ in range(3))
        self.self_attn = MultiHeadAttention(d_model, n_heads, dropout=dropout, fast=fast)
        self.cross_attn = CrossAttention(d_model, n_heads, dropout=dropout, fast=fast)
        self.mlp = FeedForward(d_model, d_ff, dropout=dropout)

    def forward(self, x: torch.Tensor, memory: torch.Tensor, memory_mask: torch.Tensor | None = None, *,
                cache: KVCache | None = None, return_weights: bool = False
                ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        x = x + self.self_attn(self.ln1(x), causal=True, cache=cache)            # the target so far
        if return_weights:
            attended, weights = self.cross_attn(self.ln2(x), memory, memory_mask, return_weights=True)
        else:
            attended, weights = self.cross_attn(self.ln2(x), memory, memory_mask), None
        x = x + attended                                                          # the source
        x = x + self.mlp(self.ln3(x))
        return (x, weights) if return_weights else x

    @torch.no_grad()
    def load_torch(self, layer: nn.TransformerDecoderLayer) -> "DecoderBlock":
        """Copy the weights of a ``torch.nn.TransformerDecoderLayer(batch_first=True, norm_first=True,
        activation="gelu")`` of the same size; the two then compute the same function."""
        if not isinstance(layer, nn.TransformerDecoderLayer):
            raise TypeError(f"load_torch expects a torch.nn.TransformerDecoderLayer, got {type(layer).__name__}")
        if not (layer.norm_first and layer.self_attn.batch_first and layer.activation is F.gelu):
            raise ValueError("load_torch needs norm_first=True (pre-LN), batch_first=True and activation='gelu'")
        C = self.cross_attn.d_model
        self.self_attn.load_torch(layer.self_attn)
        self.cross_attn.q.weight.copy_(layer.multihead_attn.in_proj_weight[:C])
        self.cross_attn.q.bias.copy_(layer.multihead_attn.in_proj_bias[:C])
        self.cross_attn.kv.weight.copy_(layer.multihead_attn.in_proj_weight[C:])
        self.cross_attn.kv.bias.copy_(layer.multihead_attn.in_proj_bias[C:])
        pairs = [(self.cross_attn.proj, layer.multihead_attn.out_proj), (self.mlp.fc, layer.linear1),
                 (self.mlp.proj, layer.linear2), (self.ln1, layer.norm1), (self.ln2, layer.norm2), (self.ln3, layer.norm3)]
        for ours, theirs in pairs:
            if ours.weight.shape != theirs.weight.shape:
                raise ValueError(f"sizes differ: ours {tuple(ours.weight.shape)}, torch's {tuple(theirs.weight.shape)}")
            ours.weight.copy_(theirs.weight)
            ours.bias.copy_(theirs.bias)
        return self


@dataclass(frozen=True)
class Seq2SeqConfig:
    """Sizes of an :class:`EncoderDecoder`; ``max_len`` bounds source and target lengths.

    Chapter 10 — The encoder–decoder.
    """

    src_vocab: int
    tgt_vocab: int
    d_model: int = 64
    n_heads: int = 4
    n_layers: int = 2
    d_ff: int | None = None
    max_len: int = 32
    dropout: float = 0.0
    pad_id: int = 0
    fast: bool = False

    def __post_init__(self) -> None:
        for name in ("src_vocab", "tgt_vocab", "d_model", "n_heads", "n_layers", "max_len"):
            positive_int(f"Seq2SeqConfig.{name}", getattr(self, name))
        if self.d_model % 2 or self.d_model % self.n_heads:
            raise ValueError(f"Seq2SeqConfig.d_model={self.d_model} must be even (sinusoidal positions) and "
                             f"divisible by n_heads={self.n_heads}")
        probability("Seq2SeqConfig.dropout", self.dropout)


class EncoderDecoder(nn.Module):
    """The transformer of *Attention Is All You Need*, pre-LN: source ids ``(B, S)``, target ids ``(B, T)`` → ``(B, T, V)``.

    Encoder: source embedding + sinusoidal positions → ``n_layers`` :class:`~llmcourse.transformer.Block`
    (``causal=False``, the source's padding hidden) → layer norm = the *memory* ``(B, S, C)``.
    Decoder: target embedding + positions → ``n_layers`` :class:`DecoderBlock` → layer norm →
    ``head`` (``C → tgt_vocab``). ``forward(src, tgt_in)`` gives the logits of the token after each
    decoder input; ``encode`` and ``decode(..., caches=...)`` do it in two steps, for decoding.

    >>> model = EncoderDecoder(Seq2SeqConfig(src_vocab=10, tgt_vocab=12, d_model=16, n_heads=2))
    >>> model(torch.tensor([[4, 5, 6, 0]]), torch.tensor([[1, 7, 8]])).shape
    torch.Size([1, 3, 12])

    Chapter 10 — The encoder–decoder.
    """

    def __init__(self, config: Seq2SeqConfig) -> None:
        super().__init__()
        if not isinstance(config, Seq2SeqConfig):
            raise TypeError(f"EncoderDecoder expects a Seq2SeqConfig, got {type(config).__name__}")
        self.config = c = config
        self.max_context = c.max_len                  # read by decoding.generate
        self.src_emb = nn.Embedding(c.src_vocab, c.d_model)
        self.tgt_emb = nn.Embedding(c.tgt_vocab, c.d_model)
        self.register_buffer("positions", sinusoidal_positions(c.max_len, c.d_model), persistent=False)
        self.encoder = nn.ModuleList(Block(c.d_model, c.n_heads, c.d_ff, dropout=c.dropout, fast=c.fast)
                                     for _ in range(c.n_layers))
        self.decoder = nn.ModuleList(DecoderBlock(c.d_model, c.n_heads, c.d_ff, dropout=c.dropout, fast=c.fast)
                                     for _ in range(c.n_layers))
        self.ln_enc, self.ln_dec = LayerNorm(c.d_model, fast=c.fast), LayerNorm(c.d_model, fast=c.fast)
        self.head = nn.Linear(c.d_model, c.tgt_vocab)
        self.drop = nn.Dropout(c.dropout)

    def _ids(self, name: str, ids: torch.Tensor, vocab: int, offset: int = 0) -> torch.Tensor:
        in_vocab(name, tensor(name, ids, "(B, T)", dtype="long"), vocab)
        if not 1 <= offset + ids.shape[1] <= self.config.max_len:
            raise ValueError(f"{name}: {offset} cached + {ids.shape[1]} positions, need 1 to max_len={self.config.max_len}")
        return ids

    def new_caches(self) -> list[KVCache]:
        """One empty :class:`~llmcourse.transformer.KVCache` per decoder block."""
        return [KVCache() for _ in self.decoder]

    def encode(self, src: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``src (B, S)`` → ``memory (B, S, C)`` and ``memory_mask (B, 1, 1, S)`` (``True`` = not padding)."""
        self._ids("src", src, self.config.src_vocab)
        mask = (src != self.config.pad_id)[:, None, None, :]                  # (B, 1, 1, S)
        x = self.drop(self.src_emb(src) + self.positions[:src.shape[1]])      # (B, S, C)
        for block in self.encoder:
            x = block(x, causal=False, mask=mask)
        return self.ln_enc(x), mask

    def decode(self, tgt_in: torch.Tensor, memory: torch.Tensor, memory_mask: torch.Tensor | None, *,
               caches: list[KVCache] | None = None, return_weights: bool = False):
        """Logits ``(B, T, V)`` of the token after each of ``tgt_in (B, T)``; with ``caches``, ``tgt_in``
        holds only the new tokens. ``return_weights=True`` adds each layer's cross-attention weights."""
        offset = len(caches[0]) if caches is not None else 0
        self._ids("tgt_in", tgt_in, self.config.tgt_vocab, offset)
        x = self.drop(self.tgt_emb(tgt_in) + self.positions[offset:offset + tgt_in.shape[1]])
        weights = []
        for i, block in enumerate(self.decoder):
            cache = None if caches is None else caches[i]
            if return_weights:
                x, w = block(x, memory, memory_mask, cache=cache, return_weights=True)
                weights.append(w)                                           # (B, H, T, S) per layer
            else:
                x = block(x, memory, memory_mask, cache=cache)
        logits = self.head(self.ln_dec(x))
        return (logits, weights) if return_weights else logits

    def forward(self, src: torch.Tensor, tgt_in: torch.Tensor) -> torch.Tensor:
        return self.decode(tgt_in, *self.encode(src))
