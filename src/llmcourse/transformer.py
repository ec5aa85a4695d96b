"""The transformer block (Chapter 06 — the transformer block).

Read top to bottom, in the order the chapter builds them:

1. :class:`LayerNorm` — normalise each position's vector to mean 0 and variance 1, then scale and
   shift; equal to ``torch.nn.LayerNorm``;
2. :func:`split_heads` / :func:`merge_heads` — ``(B, T, H·D)`` ⇄ ``(B, H, T, D)``: one model
   dimension cut into ``H`` heads of ``D`` dimensions;
3. :class:`KVCache` — the keys and values of the positions already read, for incremental decoding;
4. :class:`MultiHeadAttention` — one linear layer makes queries, keys and values, each head
   attends on its own (Chapter 05's :func:`~llmcourse.attention.scaled_dot_product_attention`,
   or torch's fused kernel with ``fast=True``), an output projection mixes the heads; equal to
   ``torch.nn.MultiheadAttention`` after :meth:`MultiHeadAttention.load_torch`;
5. :class:`FeedForward` — the position-wise two-layer network with GELU;
6. :class:`Block` — attention and feed-forward, each wrapped in a residual connection and a
   layer norm, before (pre-LN, the default) or after (post-LN, the original transformer).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from llmcourse._checks import bool_mask, positive_int, probability, same, tensor
from llmcourse.attention import causal_mask, combine_masks, scaled_dot_product_attention


class LayerNorm(nn.Module):
    """Layer normalisation over the last dimension: ``(..., d)`` → ``(..., d)``.

    ``y = (x − mean) / sqrt(var + eps) · weight + bias`` with the mean and the **biased**
    variance (divide by ``d``, not ``d − 1``) of each vector ``x[..., :]``. ``weight`` starts
    at ones and ``bias`` at zeros, so a fresh layer only normalises. Equals
    ``torch.nn.LayerNorm(d_model, eps)`` given the same weights. ``fast=True`` computes the same
    thing with PyTorch's fused kernel (``F.layer_norm``: one operation instead of six, about 7 %
    of a small GPT's training step); the readable formula stays the default.

    >>> LayerNorm(2)(torch.tensor([[1.0, 3.0]]))          # mean 2, variance 1
    tensor([[-1.0000,  1.0000]], grad_fn=<AddBackward0>)

    Chapter 06 — the transformer block.
    """

    def __init__(self, d_model: int, eps: float = 1e-5, *, fast: bool = False) -> None:
        super().__init__()
        self.d_model, self.eps, self.fast = positive_int("d_model", d_model), float(eps), bool(fast)
        self.weight = nn.Parameter(torch.ones(d_model))
        self.bias = nn.Parameter(torch.zeros(d_model))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tensor("x", x, f"(..., {self.d_model})")
        if self.fast:
            return F.layer_norm(x, (self.d_model,), self.weight, self.bias, self.eps)
        mean = x.mean(dim=-1, keepdim=True)                        # (..., 1)
        var = (x - mean).pow(2).mean(dim=-1, keepdim=True)         # (..., 1), biased
        return (x - mean) * torch.rsqrt(var + self.eps) * self.weight + self.bias


def split_heads(x: torch.Tensor, n_heads: int) -> torch.Tensor:
    """``(B, T, H·D)`` → ``(B, H, T, D)``: cut the last dimension into ``H`` heads of ``D``.

    Head ``h`` gets columns ``h·D … (h+1)·D − 1``. The view ``(B, T, H, D)`` must be followed
    by a transpose: reading the memory as ``(B, H, T, D)`` directly would mix positions.

    >>> split_heads(torch.arange(8.0).view(1, 2, 4), 2)[0]    # 2 positions, 2 heads of 2
    tensor([[[0., 1.],
             [4., 5.]],
    <BLANKLINE>
            [[2., 3.],
             [6., 7.]]])

    Chapter 06 — the transformer block.
    """
    B, T, C = tensor("x", x, "(B, T, H·D)").shape
    if C % positive_int("n_heads", n_heads):
        raise ValueError(f"the last size of x, H·D = {C}, must be divisible by n_heads={n_heads}")
    return x.view(B, T, n_heads, C // n_heads).transpose(1, 2)   # (B, H, T, D)


def merge_heads(x: torch.Tensor) -> torch.Tensor:
    """``(B, H, T, D)`` → ``(B, T, H·D)``, the inverse of :func:`split_heads`.

    >>> x = torch.randn(2, 5, 12)
    >>> torch.equal(merge_heads(split_heads(x, 3)), x)
    True

    Chapter 06 — the transformer block.
    """
    B, H, T, D = tensor("x", x, "(B, H, T, D)").shape
    return x.transpose(1, 2).reshape(B, T, H * D)                # (B, T, H·D)


class KVCache:
    """Keys and values of the positions a layer has already read, each ``(B, H, T_cached, D)``.

    Empty at first (``k = v = None``, ``len(cache) == 0``). :meth:`append` adds the keys and
    values of new positions and returns all of them, so attention can read the whole past
    without recomputing it. One cache per attention layer and per generated batch.

    >>> cache = KVCache()
    >>> k_all, v_all = cache.append(torch.zeros(1, 2, 3, 4), torch.zeros(1, 2, 3, 4))
    >>> k_all, v_all = cache.append(torch.zeros(1, 2, 1, 4), torch.zeros(1, 2, 1, 4))
    >>> len(cache), tuple(k_all.shape)
    (4, (1, 2, 4, 4))

    Chapter 06 — the transformer block (used for decoding in Chapter 08).
    """

    def __init__(self) -> None:
        self.k: torch.Tensor | None = None
        self.v: torch.Tensor | None = None

    def __len__(self) -> int:
        return 0 if self.k is None else self.k.shape[2]

    def __repr__(self) -> str:
        return f"KVCache(positions={len(self)})"

    def append(self, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Add ``k, v (B, H, T_new, D)``; return all keys and values ``(B, H, T_cached + T_new, D)``."""
        tensor("k", k, "(B, H, T, D)")
        tensor("v", v, "(B, H, T, D)")
        same("shape", k=tuple(k.shape), v=tuple(v.shape))
        if self.k is None:
            self.k, self.v = k, v
        else:
            if k.shape[:2] != self.k.shape[:2] or k.shape[3] != self.k.shape[3]:
                raise ValueError(f"the cache holds (B, H, T, D) = {tuple(self.k.shape)}; new keys of shape "
                                 f"{tuple(k.shape)} do not match in B, H or D (use a new cache per batch)")
            self.k = torch.cat([self.k, k], dim=2)
            self.v = torch.cat([self.v, v], dim=2)
        return self.k, self.v

    def reset(self) -> None:
        """Forget every cached position."""
        self.k = self.v = None


class MultiHeadAttention(nn.Module):
    """Multi-head self-attention: ``x (B, T, C)`` → ``(B, T, C)``.

    ``qkv = x Wᵀ + b`` (one ``nn.Linear(C, 3C)``, rows ordered q, k, v as in torch) is split into
    ``n_heads`` heads of ``D = C / n_heads`` dimensions; each head runs scaled dot-product
    attention on its own ``(B, H, T, D)`` slice; the heads are merged back to ``(B, T, C)`` and
    mixed by the output projection ``proj`` (``nn.Linear(C, C)``).

    ``forward(x, *, causal=False, mask=None, cache=None, return_weights=False)``:

    * ``mask`` — bool, broadcastable to ``(B, H, T, T_k)``, ``True`` = may attend (e.g.
      :func:`~llmcourse.attention.padding_mask` ``(B, 1, 1, T_k)``); ``causal`` adds the causal mask;
    * ``cache`` — a :class:`KVCache`: the new keys and values are appended and the queries
      attend over all cached positions; the queries are the **last** ``T`` of ``T_k`` positions,
      so the causal mask is offset accordingly;
    * ``return_weights`` — also return the attention weights ``(B, H, T, T_k)`` (always computed
      with the readable path).

    ``fast=False`` (default) uses Chapter 05's readable
    :func:`~llmcourse.attention.scaled_dot_product_attention`; ``fast=True`` torch's fused
    ``F.scaled_dot_product_attention``. They agree to float precision. ``dropout`` drops
    attention weights and the projected output while training.

    >>> mha = MultiHeadAttention(8, 2)
    >>> mha(torch.randn(3, 5, 8), causal=True).shape
    torch.Size([3, 5, 8])

    Chapter 06 — the transformer block.
    """

    def __init__(self, d_model: int, n_heads: int, *, bias: bool = True, dropout: float = 0.0,
                 fast: bool = False) -> None:
        super().__init__()
        if positive_int("d_model", d_model) % positive_int("n_heads", n_heads):
            raise ValueError(f"d_model={d_model} must be divisible by n_heads={n_heads}")
        self.d_model, self.n_heads, self.head_dim = d_model, n_heads, d_model // n_heads
        self.dropout, self.fast = probability("dropout", dropout), bool(fast)
        self.qkv = nn.Linear(d_model, 3 * d_model, bias=bias)
        self.proj = nn.Linear(d_model, d_model, bias=bias)
        self.attn_drop = nn.Dropout(self.dropout)
        self.resid_drop = nn.Dropout(self.dropout)

    def forward(self, x: torch.Tensor, *, causal: bool = False, mask: torch.Tensor | None = None,
                cache: KVCache | None = None, return_weights: bool = False
                ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        tensor("x", x, f"(B, T, {self.d_model})")
        bool_mask("mask", mask)
        q, k, v = self.qkv(x).split(self.d_model, dim=-1)                  # 3 × (B, T, C)
        q, k, v = (split_heads(t, self.n_heads) for t in (q, k, v))       # 3 × (B, H, T, D)
        if cache is not None:
            k, v = cache.append(k, v)                                    # (B, H, T_k, D)
        t_q, t_k = q.shape[2], k.shape[2]
        p = self.dropout if self.training else 0.0
        if self.fast and not return_weights:
            if causal and mask is None and t_q == t_k:
                y = F.scaled_dot_product_attention(q, k, v, dropout_p=p, is_causal=True)
            else:
                full = combine_masks(causal_mask(t_q, t_k, device=x.device) if causal and t_q > 1 else None, mask)
                y = F.scaled_dot_product_attention(q, k, v, attn_mask=full, dropout_p=p)
            weights = None
        else:
            full = combine_masks(causal_mask(t_q, t_k, device=x.device) if causal else None, mask)
            y, weights = scaled_dot_product_attention(q, k, v, full, return_weights=True)
            if p > 0:                                                    # drop weights, re-weigh the values
                y = self.attn_drop(weights) @ v
        y = self.resid_drop(self.proj(merge_heads(y)))                   # (B, T, C)
        return (y, weights) if return_weights else y

    @torch.no_grad()
    def load_torch(self, mha: nn.MultiheadAttention) -> "MultiHeadAttention":
        """Copy the weights of a ``torch.nn.MultiheadAttention(batch_first=True)`` of the same size."""
        if not isinstance(mha, nn.MultiheadAttention):
            raise TypeError(f"load_torch expects a torch.nn.MultiheadAttention, got {type(mha).__name__}")
        if mha.embed_dim != self.d_model or mha.num_heads != self.n_heads:
            raise ValueError(f"sizes differ: ours d_model={self.d_model}, n_heads={self.n_heads}; torch's "
                             f"embed_dim={mha.embed_dim}, num_heads={mha.num_heads}")
        if not mha.batch_first or not mha._qkv_same_embed_dim or mha.bias_k is not None:
            raise ValueError("load_torch needs batch_first=True, equal q/k/v sizes (no kdim/vdim) and no add_bias_kv")
        if (mha.in_proj_bias is None) != (self.qkv.bias is None):
            raise ValueError("one module has biases and the other has not (bias=...)")
        self.qkv.weight.copy_(mha.in_proj_weight)
        self.proj.weight.copy_(mha.out_proj.weight)
        if self.qkv.bias is not None:
            self.qkv.bias.copy_(mha.in_proj_bias)
            self.proj.bias.copy_(mha.out_proj.bias)
        return self


class FeedForward(nn.Module):
    """The position-wise feed-forward network: ``x (..., C)`` → ``proj(GELU(fc(x))) (..., C)``.

    ``fc`` widens each position's vector to ``d_ff`` (default ``4 · d_model``), the exact GELU
    ``x · Φ(x)`` bends it, ``proj`` brings it back. Every position is transformed on its own,
    with the same weights.

    >>> FeedForward(8)(torch.randn(2, 3, 8)).shape
    torch.Size([2, 3, 8])

    Chapter 06 — the transformer block.
    """

    def __init__(self, d_model: int, d_ff: int | None = None, *, bias: bool = True, dropout: float = 0.0) -> None:
        super().__init__()
        d_ff = 4 * positive_int("d_model", d_model) if d_ff is None else positive_int("d_ff", d_ff)
        self.fc = nn.Linear(d_model, d_ff, bias=bias)
        self.proj = nn.Linear(d_ff, d_model, bias=bias)
        self.drop = nn.Dropout(probability("dropout", dropout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.proj(F.gelu(self.fc(x))))


class Block(nn.Module):
    """One transformer block: ``x (B, T, C)`` → ``(B, T, C)``.

    Pre-LN (default, GPT-2 and later)::

        x = x + attn(ln1(x));  x = x + mlp(ln2(x))

    Post-LN (``pre_ln=False``, the original transformer)::

        x = ln1(x + attn(x));  x = ln2(x + mlp(x))

    ``forward(x, *, causal=True, mask=None, cache=None)`` passes ``causal``, ``mask`` and the
    :class:`KVCache` to the attention. ``eps`` is both LayerNorms' (BERT uses ``1e-12``).

    >>> Block(8, 2)(torch.randn(2, 5, 8)).shape
    torch.Size([2, 5, 8])

    Chapter 06 — the transformer block.
    """

    def __init__(self, d_model: int, n_heads: int, d_ff: int | None = None, *, pre_ln: bool = True,
                 bias: bool = True, dropout: float = 0.0, fast: bool = False, eps: float = 1e-5) -> None:
        super().__init__()
        self.pre_ln = bool(pre_ln)
        self.ln1 = LayerNorm(d_model, eps, fast=fast)
        self.attn = MultiHeadAttention(d_model, n_heads, bias=bias, dropout=dropout, fast=fast)
        self.ln2 = LayerNorm(d_model, eps, fast=fast)
        self.mlp = FeedForward(d_model, d_ff, bias=bias, dropout=dropout)

    def forward(self, x: torch.Tensor, *, causal: bool = True, mask: torch.Tensor | None = None,
                cache: KVCache | None = None) -> torch.Tensor:
        if self.pre_ln:
            x = x + self.attn(self.ln1(x), causal=causal, mask=mask, cache=cache)
            x = x + self.mlp(self.ln2(x))
        else:
            x = self.ln1(x + self.attn(x, causal=causal, mask=mask, cache=cache))
            x = self.ln2(x + self.mlp(x))
        return x
