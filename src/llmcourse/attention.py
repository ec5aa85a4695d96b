"""Scaled dot-product attention and its masks (Chapter 05 — attention).

Read top to bottom, in the order the chapter builds them:

1. :func:`scaled_dot_product_attention` — ``softmax(q kᵀ / √d, masked) v``, the readable
   version, equal to ``torch.nn.functional.scaled_dot_product_attention`` (dropout off);
2. :func:`causal_mask` — query ``i`` sees keys ``0 … i`` (and, when the queries are the last
   ``t_q`` of ``t_k`` positions, as with a KV cache, keys ``0 … t_k − t_q + i``);
3. :func:`padding_mask` — hide the padding keys of sequences shorter than the batch;
4. :func:`combine_masks` — both at once (a key is allowed only if every mask allows it).

Masks follow torch's boolean ``attn_mask`` convention: ``True`` means *may attend*.
"""

from __future__ import annotations

import math

import torch

from llmcourse._checks import bool_mask, broadcast, is_int, same, tensor


def scaled_dot_product_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                                 mask: torch.Tensor | None = None, *, return_weights: bool = False
                                 ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Attention of queries ``q`` over keys ``k`` with values ``v``.

    ``q (..., Tq, d)``, ``k (..., Tk, d)``, ``v (..., Tk, dv)`` (the leading dimensions, e.g.
    batch and heads, must broadcast), ``mask`` a **bool** tensor broadcastable to
    ``(..., Tq, Tk)`` with ``True`` where query ``i`` may attend to key ``j``, or ``None``.
    Returns ``out (..., Tq, dv)``, or ``(out, weights (..., Tq, Tk))`` if ``return_weights``;
    each row of ``weights`` sums to 1 over the keys.

    Steps: ``scores = q kᵀ / √d``; masked scores become ``−inf`` *before* the softmax (so the
    allowed weights still sum to 1); softmax over the keys; ``out = weights v``.

    A query row with **no** allowed key would give ``softmax(−inf, …, −inf) = NaN``; like torch's
    fused kernel, we give that row all-zero weights instead, so its output is a zero vector.

    >>> q = torch.tensor([[1.0, 0.0]]); k = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    >>> v = torch.tensor([[10.0], [20.0]])
    >>> out, w = scaled_dot_product_attention(q, k, v, return_weights=True)
    >>> w.round(decimals=3)          # softmax([1/√2, 0])
    tensor([[0.6700, 0.3300]])
    >>> out.round(decimals=2)
    tensor([[13.3000]])

    Chapter 05 — attention.
    """
    q, k, v = (tensor(name, x, "(..., T, d)", dtype="float") for name, x in zip("qkv", (q, k, v)))
    same("dtype", q=q.dtype, k=k.dtype, v=v.dtype)
    same("d", q=q.shape[-1], k=k.shape[-1])
    same("Tk", k=k.shape[-2], v=v.shape[-2])
    lead = broadcast("the leading dimensions of q, k, v", q.shape[:-2], k.shape[:-2], v.shape[:-2])
    if bool_mask("mask", mask) is not None:
        broadcast("mask and the scores (..., Tq, Tk)", mask.shape, (*lead, q.shape[-2], k.shape[-2]))

    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])   # (..., Tq, Tk)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1)                    # over the keys
    if mask is not None:                                        # rows with no allowed key: NaN → 0
        weights = weights.masked_fill(~mask.any(dim=-1, keepdim=True), 0.0)
    out = weights @ v                                           # (..., Tq, dv)
    return (out, weights) if return_weights else out


def causal_mask(t_q: int, t_k: int | None = None, *, device: torch.device | str | None = None
                ) -> torch.Tensor:
    """Bool ``(t_q, t_k)``: query ``i`` may attend key ``j`` iff ``j ≤ (t_k − t_q) + i``.

    ``t_k`` defaults to ``t_q`` (the lower triangle, diagonal included). With ``t_k > t_q`` the
    queries are the **last** ``t_q`` positions of the ``t_k`` keys — what a KV cache needs when
    new tokens attend to the cached ones.

    >>> causal_mask(3).int()
    tensor([[1, 0, 0],
            [1, 1, 0],
            [1, 1, 1]], dtype=torch.int32)
    >>> causal_mask(1, 3).int()      # one new token after two cached ones sees all three
    tensor([[1, 1, 1]], dtype=torch.int32)

    Chapter 05 — attention.
    """
    t_k = t_q if t_k is None else t_k
    if not (is_int(t_q) and is_int(t_k) and 0 <= t_q <= t_k):
        raise ValueError(f"causal_mask needs integers 0 <= t_q <= t_k, got t_q={t_q!r}, t_k={t_k!r}")
    query_pos = torch.arange(t_q, device=device) + (t_k - t_q)   # absolute positions of the queries
    key_pos = torch.arange(t_k, device=device)
    return key_pos[None, :] <= query_pos[:, None]


def padding_mask(lengths: torch.Tensor, max_len: int) -> torch.Tensor:
    """Bool ``(B, 1, 1, max_len)``: ``True`` for the first ``lengths[b]`` keys of sequence ``b``.

    ``lengths (B,)`` integer. The shape broadcasts against attention scores ``(B, H, Tq, Tk)``
    with ``Tk = max_len``: it hides padding **keys** for every head and every query. (Queries
    at padding positions still get an output; the loss ignores them.)

    >>> padding_mask(torch.tensor([2, 3]), 4).int().squeeze(1).squeeze(1)
    tensor([[1, 1, 0, 0],
            [1, 1, 1, 0]], dtype=torch.int32)

    Chapter 05 — attention.
    """
    tensor("lengths", lengths, "(B,)", dtype="int")
    if lengths.numel() and (int(lengths.min()) < 0 or int(lengths.max()) > max_len):
        raise ValueError(f"lengths must lie in [0, max_len={max_len}], got {lengths.tolist()}")
    keep = torch.arange(max_len, device=lengths.device)[None, :] < lengths[:, None]   # (B, max_len)
    return keep[:, None, None, :]


def combine_masks(*masks: torch.Tensor | None) -> torch.Tensor | None:
    """A key is allowed only where **every** mask allows it (logical and, with broadcasting).

    ``None`` entries are skipped; all ``None`` gives ``None`` (no mask).

    >>> combine_masks(causal_mask(3), padding_mask(torch.tensor([2]), 3)).int()[0, 0]
    tensor([[1, 0, 0],
            [1, 1, 0],
            [1, 1, 0]], dtype=torch.int32)

    Chapter 05 — attention.
    """
    result = None
    for m in masks:
        if m is None:
            continue
        result = bool_mask("masks", m) if result is None else result & bool_mask("masks", m)
    return result
