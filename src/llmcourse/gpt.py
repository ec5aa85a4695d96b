"""A decoder-only transformer language model (Chapter 07 — GPT).

Read top to bottom:

1. :class:`GPTConfig` — the model's sizes, checked when it is made;
2. :class:`GPT` — token + learned position embeddings → ``n_layers`` pre-LN causal
   :class:`~llmcourse.transformer.Block` s → final layer norm → LM head whose weight *is* the
   token embedding table (weight tying); ``(B, T)`` ids → ``(B, T, V)`` logits, optionally
   with one :class:`~llmcourse.transformer.KVCache` per layer; ``generate`` continues a prompt;
3. :func:`param_groups` / :func:`configure_optimizer` — AdamW with weight decay on matrices
   only (not on biases and layer-norm gains);
4. :func:`lr_schedule` — linear warmup, then cosine decay.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from llmcourse import decoding
from llmcourse._checks import in_vocab, int_at_least, non_negative, positive, positive_int, probability, tensor
from llmcourse.transformer import Block, KVCache, LayerNorm


@dataclass(frozen=True)
class GPTConfig:
    """Sizes of a :class:`GPT`. ``d_ff=None`` means ``4 · d_model``; ``fast`` picks the fused attention.

    >>> GPTConfig(vocab_size=65, block_size=64).d_model
    128

    Chapter 07 — GPT.
    """

    vocab_size: int
    block_size: int
    n_layers: int = 4
    n_heads: int = 4
    d_model: int = 128
    d_ff: int | None = None
    dropout: float = 0.0
    bias: bool = True
    fast: bool = False

    def __post_init__(self) -> None:
        for name in ("vocab_size", "block_size", "n_layers", "n_heads", "d_model"):
            positive_int(f"GPTConfig.{name}", getattr(self, name))
        if self.d_ff is not None:
            positive_int("GPTConfig.d_ff", self.d_ff)
        if self.d_model % self.n_heads:
            raise ValueError(f"GPTConfig.d_model={self.d_model} must be divisible by n_heads={self.n_heads}")
        probability("GPTConfig.dropout", self.dropout)
        for name in ("bias", "fast"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"GPTConfig.{name} must be True or False, got {getattr(self, name)!r}")


class GPT(nn.Module):
    """A GPT: ``idx (B, T)`` long ids → logits ``(B, T, V)`` for the next token at every position.

    ``tok_emb (V, C)`` + ``pos_emb (block_size, C)`` → ``blocks`` (pre-LN, causal) → ``ln_f`` →
    ``lm_head`` (``C → V``, no bias, its weight tied to ``tok_emb.weight``). Initialisation:
    normal(0, 0.02) for linear and embedding weights, zero biases, and normal(0, 0.02/√(2·L))
    for the residual projections ``*.proj.weight`` (``L = n_layers``; each block adds two of
    them to the residual stream).

    ``forward(idx, *, caches=None)``: with ``caches`` (one :class:`KVCache` per block, from
    :meth:`new_caches`), ``idx`` holds only the **new** tokens; their positions start at
    ``len(caches[0])``. Raises ``ValueError`` when the cached plus new tokens exceed
    ``block_size`` or an id is outside ``[0, vocab_size)``.

    >>> model = GPT(GPTConfig(vocab_size=10, block_size=8, n_layers=2, n_heads=2, d_model=16))
    >>> model(torch.zeros(3, 5, dtype=torch.long)).shape
    torch.Size([3, 5, 10])

    Chapter 07 — GPT.
    """

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        if not isinstance(config, GPTConfig):
            raise TypeError(f"GPT expects a GPTConfig, got {type(config).__name__}")
        self.config = config
        self.max_context = config.block_size            # read by recall_accuracy and decoding.generate
        c = config
        self.tok_emb = nn.Embedding(c.vocab_size, c.d_model)
        self.pos_emb = nn.Embedding(c.block_size, c.d_model)
        self.drop = nn.Dropout(c.dropout)
        self.blocks = nn.ModuleList(Block(c.d_model, c.n_heads, c.d_ff, pre_ln=True, bias=c.bias,
                                          dropout=c.dropout, fast=c.fast) for _ in range(c.n_layers))
        self.ln_f = LayerNorm(c.d_model, fast=c.fast)
        self.lm_head = nn.Linear(c.d_model, c.vocab_size, bias=False)
        self.lm_head.weight = self.tok_emb.weight      # weight tying: one (V, C) matrix, used twice
        self.apply(self._init_weights)
        for name, p in self.named_parameters():
            if name.endswith("proj.weight"):           # attn.proj and mlp.proj write into the residual stream
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * c.n_layers))

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def new_caches(self) -> list[KVCache]:
        """One empty :class:`KVCache` per block, for ``forward(..., caches=...)``."""
        return [KVCache() for _ in self.blocks]

    def num_parameters(self, *, non_embedding: bool = False) -> int:
        """Number of parameters, the tied embedding/head matrix counted once.

        ``non_embedding=True`` leaves out the token and position embedding tables (the usual
        count in scaling laws; the tied head is the token table, so it is left out too).
        """
        n = sum(p.numel() for p in self.parameters())   # parameters() yields a shared tensor once
        if non_embedding:
            n -= self.tok_emb.weight.numel() + self.pos_emb.weight.numel()
        return n

    def forward(self, idx: torch.Tensor, *, caches: list[KVCache] | None = None) -> torch.Tensor:
        tensor("idx", idx, "(B, T)", dtype="long")
        in_vocab("idx", idx, self.config.vocab_size)
        if caches is not None and len(caches) != len(self.blocks):
            raise ValueError(f"caches must hold one KVCache per block ({len(self.blocks)}), got {len(caches)}")
        offset = len(caches[0]) if caches is not None else 0
        T = idx.shape[1]
        if not 1 <= T <= self.config.block_size - offset:
            raise ValueError(f"{offset} cached + {T} new tokens: need at least 1 new token and at most block_size="
                             f"{self.config.block_size} in all; crop the input to its last block_size tokens "
                             "(without a cache)")
        positions = torch.arange(offset, offset + T, device=idx.device)              # (T,)
        x = self.drop(self.tok_emb(idx) + self.pos_emb(positions))                   # (B, T, C)
        for i, block in enumerate(self.blocks):
            x = block(x, causal=True, cache=None if caches is None else caches[i])
        return self.lm_head(self.ln_f(x))                                            # (B, T, V)

    def generate(self, idx: torch.Tensor, max_new_tokens: int, *, temperature: float = 1.0,
                 top_k: int | None = None, greedy: bool = False, use_cache: bool = True,
                 generator: torch.Generator | None = None) -> torch.Tensor:
        """Continue ``idx (B, T)`` by ``max_new_tokens`` tokens → ``(B, T + max_new_tokens)``.

        :func:`llmcourse.decoding.generate` (the course's one generation loop) with this model:
        each step divides the last position's logits by ``temperature``, keeps the ``top_k``
        largest (ties with the k-th kept) and samples with ``generator`` — or takes the argmax
        with ``greedy=True``. With ``use_cache`` the prompt is read once and each step feeds only
        the newest token through the KV caches, until the text outgrows ``block_size`` and the
        window slides; without, each step re-reads the last ``block_size`` tokens. Both give the
        same tokens. The model is put in ``eval()`` mode and returned to its mode.

        >>> model = GPT(GPTConfig(vocab_size=10, block_size=8, n_layers=1, n_heads=1, d_model=8))
        >>> model.generate(torch.zeros(2, 3, dtype=torch.long), 4, greedy=True).shape
        torch.Size([2, 7])

        Chapter 07 — GPT (the loop: Chapter 08 — decoding).
        """
        if not greedy:
            positive("temperature", temperature, " (or greedy=True)")
        return decoding.generate(self, idx, max_new_tokens, temperature=0 if greedy else temperature,
                                 top_k=top_k, use_cache=use_cache, generator=generator)


def param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """Two AdamW parameter groups: ``[{"params": decay, "weight_decay": weight_decay},
    {"params": no_decay, "weight_decay": 0.0}]``.

    Decayed: every parameter with ≥ 2 dimensions (linear and embedding matrices). Not decayed:
    biases and layer-norm gains and shifts (1-D), whose size should not be pulled to zero. Every
    trainable parameter appears exactly once (a tied matrix once).

    >>> [len(group["params"]) for group in param_groups(nn.Linear(3, 2), 0.1)]   # weight | bias
    [1, 1]

    Chapter 07 — GPT.
    """
    non_negative("weight_decay", weight_decay)
    params = [p for _, p in model.named_parameters() if p.requires_grad]   # shared tensors once
    decay = [p for p in params if p.dim() >= 2]
    no_decay = [p for p in params if p.dim() < 2]
    return [{"params": decay, "weight_decay": float(weight_decay)}, {"params": no_decay, "weight_decay": 0.0}]


def configure_optimizer(model: nn.Module, *, lr: float, weight_decay: float = 0.1,
                        betas: tuple[float, float] = (0.9, 0.95)) -> torch.optim.AdamW:
    """AdamW over :func:`param_groups` (decay on matrices only) with learning rate ``lr``.

    Chapter 07 — GPT.
    """
    return torch.optim.AdamW(param_groups(model, weight_decay), lr=positive("lr", lr), betas=betas)


def lr_schedule(step: int, *, max_lr: float, warmup_steps: int, total_steps: int, min_lr: float = 0.0) -> float:
    """Learning rate at ``step``: linear warmup from 0, cosine decay to ``min_lr``, then constant.

    * ``step < warmup_steps``: ``max_lr · step / warmup_steps``;
    * ``warmup_steps ≤ step ≤ total_steps``: ``min_lr + (max_lr − min_lr) · (1 + cos(π·p)) / 2``
      with ``p = (step − warmup_steps) / (total_steps − warmup_steps)``;
    * ``step > total_steps``: ``min_lr``.

    >>> [lr_schedule(s, max_lr=1.0, warmup_steps=2, total_steps=6) for s in (0, 1, 2, 4, 6, 9)]
    [0.0, 0.5, 1.0, 0.5, 0.0, 0.0]

    Chapter 07 — GPT.
    """
    int_at_least("step", step, 0)
    int_at_least("warmup_steps", warmup_steps, 0)
    int_at_least("total_steps", total_steps, warmup_steps, " (warmup_steps)")
    if not 0 <= min_lr <= max_lr:
        raise ValueError(f"need 0 ≤ min_lr ≤ max_lr, got min_lr={min_lr}, max_lr={max_lr}")
    if step < warmup_steps:
        return max_lr * step / warmup_steps
    if step >= total_steps:
        return float(min_lr)
    progress = (step - warmup_steps) / (total_steps - warmup_steps)
    return min_lr + (max_lr - min_lr) * 0.5 * (1.0 + math.cos(math.pi * progress))
