"""How token ids become vectors and how a model learns where they are (Chapter 03 — Embeddings and positions).

Chapter 03 — embeddings builds these pieces in this order:

1. :func:`one_hot_lookup` — an embedding lookup is a one-hot vector times a matrix;
2. :func:`cosine_similarity`, :func:`nearest_neighbours`, :func:`pca_2d` — comparing and
   looking at learned vectors;
3. :func:`sinusoidal_positions` — the fixed position table of the original transformer;
4. :class:`LearnedPositions` — one trained vector per position (GPT-2);
5. :func:`apply_rope` — rotary position embeddings (RoPE), rotating pairs of dimensions;
6. :class:`TokenSegmentPositionEmbedding` — BERT's sum of token, segment and position embeddings.

>>> import torch
>>> weight = torch.arange(6.0).reshape(3, 2)
>>> one_hot_lookup(torch.tensor([2, 0]), weight)
tensor([[4., 5.],
        [0., 1.]])
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from llmcourse._checks import in_vocab, tensor

__all__ = ["one_hot_lookup", "cosine_similarity", "nearest_neighbours", "pca_2d", "sinusoidal_positions",
           "LearnedPositions", "rope_angles", "apply_rope", "TokenSegmentPositionEmbedding"]


# --- 1. lookup ----------------------------------------------------------------------------------

def one_hot_lookup(ids: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Embed token ids by multiplying their one-hot vectors with the table: ``one_hot(ids) @ weight``.

    ``ids`` has any shape ``(...)`` of integers in ``[0, V)``; ``weight`` is ``(V, D)``; the result is
    ``(..., D)``, equal to ``weight[ids]`` (what ``nn.Embedding`` does without the multiplication).

    >>> one_hot_lookup(torch.tensor([1]), torch.tensor([[1.0, 2.0], [3.0, 4.0]]))
    tensor([[3., 4.]])

    Chapter 03 — embeddings.
    """
    vocab = tensor("weight", weight, "(V, D)").shape[0]
    tensor("ids", ids, "(...)", dtype="int")
    in_vocab("ids", ids, vocab)
    one_hot = F.one_hot(ids.long(), num_classes=vocab).to(weight.dtype)  # (..., V)
    return one_hot @ weight                                               # (..., D)


# --- 2. similarity ------------------------------------------------------------------------------

def cosine_similarity(a: torch.Tensor, b: torch.Tensor | None = None, eps: float = 1e-8) -> torch.Tensor:
    """Pairwise cosine similarities ``a_i · b_j / (|a_i| |b_j|)``: ``(N, D)`` and ``(M, D)`` → ``(N, M)``.

    With ``b=None`` compares ``a`` with itself. A 1-D input ``(D,)`` counts as one row, and that
    dimension is dropped from the result. Norms below ``eps`` are clamped to ``eps`` (a zero vector
    gets similarity 0 with everything).

    >>> cosine_similarity(torch.tensor([[1.0, 0.0], [1.0, 1.0]]))
    tensor([[1.0000, 0.7071],
            [0.7071, 1.0000]])

    Chapter 03 — embeddings.
    """
    b_given = b is not None
    b = a if b is None else b
    if a.dim() not in (1, 2) or b.dim() not in (1, 2):
        raise ValueError(f"expected (N, D) or (D,) tensors, got shapes {tuple(a.shape)} and {tuple(b.shape)}")
    if a.shape[-1] != b.shape[-1]:
        raise ValueError(f"vectors must have the same dimension D, got {a.shape[-1]} and {b.shape[-1]}")
    a2, b2 = a.reshape(-1, a.shape[-1]), b.reshape(-1, b.shape[-1])
    a_unit = a2 / a2.norm(dim=-1, keepdim=True).clamp_min(eps)   # (N, D)
    b_unit = b2 / b2.norm(dim=-1, keepdim=True).clamp_min(eps)   # (M, D)
    sims = a_unit @ b_unit.T                                     # (N, M)
    if a.dim() == 1:
        sims = sims[0]
    if b_given and b.dim() == 1:
        sims = sims[..., 0]
    return sims


def nearest_neighbours(vectors: torch.Tensor, query: int | torch.Tensor, k: int = 5,
                       exclude_self: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``k`` rows of ``vectors`` ``(N, D)`` most cosine-similar to ``query``, most similar first.

    ``query`` is a row index (``int``) or a vector ``(D,)``. With an index and ``exclude_self=True``
    the query's own row is left out (it is always its own nearest neighbour). Returns
    ``(indices, similarities)``, each of shape ``(k,)``.

    >>> v = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]])
    >>> nearest_neighbours(v, 0, k=1)[0]
    tensor([1])

    Chapter 03 — embeddings.
    """
    n = tensor("vectors", vectors, "(N, D)").shape[0]
    if isinstance(query, int):
        if not 0 <= query < n:
            raise IndexError(f"query index must lie in [0, {n}), got {query}")
        query_vector, self_index = vectors[query], query
    else:
        query_vector, self_index = query, None
    available = n - (1 if exclude_self and self_index is not None else 0)
    if not 1 <= k <= available:
        raise ValueError(f"k must lie in [1, {available}] for {n} vectors, got {k}")
    sims = cosine_similarity(vectors, query_vector.reshape(1, -1))[:, 0]   # (N,)
    if exclude_self and self_index is not None:
        sims = sims.clone()
        sims[self_index] = float("-inf")
    top = torch.topk(sims, k)
    return top.indices, top.values


def pca_2d(vectors: torch.Tensor) -> torch.Tensor:
    """Project ``(N, D)`` vectors on their two directions of largest variance: ``(N, 2)``.

    Centres the rows, takes the SVD ``X = U S Vᵀ`` and returns ``X @ V[:, :2]``. Each direction's sign
    is fixed so that its largest-magnitude coordinate is positive (the SVD leaves it free).

    >>> pca_2d(torch.randn(10, 4)).shape
    torch.Size([10, 2])

    Chapter 03 — embeddings.
    """
    if vectors.dim() != 2 or vectors.shape[0] < 2 or vectors.shape[1] < 2:
        raise ValueError(f"pca_2d needs (N, D) vectors with N, D >= 2, got shape {tuple(vectors.shape)}")
    centred = vectors - vectors.mean(dim=0, keepdim=True)
    _, _, vh = torch.linalg.svd(centred, full_matrices=False)    # vh: (min(N, D), D)
    coords = centred @ vh[:2].T                                  # (N, 2)
    signs = torch.sign(coords.gather(0, coords.abs().argmax(dim=0, keepdim=True)))
    return coords * torch.where(signs == 0, torch.ones_like(signs), signs)


# --- 3. sinusoidal positions ---------------------------------------------------------------------

def sinusoidal_positions(n_positions: int, d_model: int, base: float = 10000.0) -> torch.Tensor:
    """The original transformer's position table ``(T, D)``, sin and cos interleaved.

    ``PE[p, 2i] = sin(p / base^(2i/D))`` and ``PE[p, 2i+1] = cos(p / base^(2i/D))``: pair ``i``
    turns at angular frequency ``base^(-2i/D)``, from 1 radian per position (``i = 0``) down to
    about ``1/base``. ``d_model`` must be even.

    >>> sinusoidal_positions(2, 4)
    tensor([[0.0000, 1.0000, 0.0000, 1.0000],
            [0.8415, 0.5403, 0.0100, 0.9999]])

    Chapter 03 — embeddings.
    """
    if n_positions < 1 or d_model < 2 or d_model % 2:
        raise ValueError(f"need n_positions >= 1 and an even d_model >= 2, got {n_positions} and {d_model}")
    positions = torch.arange(n_positions, dtype=torch.float64)[:, None]              # (T, 1)
    freqs = base ** (-torch.arange(0, d_model, 2, dtype=torch.float64) / d_model)   # (D/2,)
    angles = positions * freqs                                                       # (T, D/2)
    table = torch.stack([angles.sin(), angles.cos()], dim=-1)                        # (T, D/2, 2)
    return table.reshape(n_positions, d_model).float()


# --- 4. learned positions ------------------------------------------------------------------------

class LearnedPositions(nn.Module):
    """One trained vector per position, added to the token embeddings (GPT-2's ``wpe``).

    ``forward(x)`` takes ``(B, T, D)`` and returns ``x + weight[:T]``; ``T`` may not exceed
    ``max_positions`` — unlike sinusoids or RoPE, a learned table has nothing for longer inputs.

    >>> LearnedPositions(8, 4)(torch.zeros(2, 3, 4)).shape
    torch.Size([2, 3, 4])

    Chapter 03 — embeddings.
    """

    def __init__(self, max_positions: int, d_model: int) -> None:
        super().__init__()
        self.max_positions = max_positions
        self.weight = nn.Parameter(0.02 * torch.randn(max_positions, d_model))   # (T_max, D)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t, d = x.shape[-2], x.shape[-1]
        if t > self.max_positions:
            raise ValueError(f"sequence of length {t} is longer than the {self.max_positions} learned positions")
        if d != self.weight.shape[1]:
            raise ValueError(f"expected vectors of size {self.weight.shape[1]}, got {d}")
        return x + self.weight[:t]


# --- 5. rotary position embeddings (RoPE) --------------------------------------------------------

def rope_angles(positions: torch.Tensor, d: int, base: float = 10000.0) -> torch.Tensor:
    """Rotation angles ``positions[..., None] * base^(-2i/d)`` for the ``d/2`` pairs: ``(..., d/2)``.

    >>> rope_angles(torch.tensor([0, 1]), 4)      # pair 0 turns 1 radian per position, pair 1 0.01
    tensor([[0.0000, 0.0000],
            [1.0000, 0.0100]], dtype=torch.float64)

    Chapter 03 — embeddings.
    """
    freqs = base ** (-torch.arange(0, d, 2, dtype=torch.float64) / d)   # (d/2,)
    return positions.to(torch.float64)[..., None] * freqs


def apply_rope(x: torch.Tensor, positions: torch.Tensor | None = None, base: float = 10000.0) -> torch.Tensor:
    """Rotate each adjacent pair of dimensions ``(2i, 2i+1)`` of ``x`` by ``position × base^(-2i/D)``.

    ``x`` is ``(..., T, D)`` with even ``D``; ``positions`` (default ``0 .. T-1``) has shape ``(T,)``
    or any shape that broadcasts against ``x.shape[:-1]``. For a pair ``(a, b)`` and angle ``θ``:
    ``(a, b) → (a cos θ − b sin θ, a sin θ + b cos θ)`` — multiplying ``a + ib`` by ``e^{iθ}``.
    This pairing is the RoFormer paper's; some libraries pair dimension ``i`` with ``i + D/2``
    instead, which is the same rotation on a permuted layout. Because rotations compose, the score
    ``apply_rope(q)[m] · apply_rope(k)[n]`` depends on ``m − n`` only.

    >>> apply_rope(torch.tensor([[1.0, 0.0]]), torch.tensor([1]))   # rotate by 1 radian
    tensor([[0.5403, 0.8415]])

    Chapter 03 — embeddings.
    """
    if x.dim() < 2 or x.shape[-1] % 2:
        raise ValueError(f"apply_rope needs x of shape (..., T, D) with even D, got {tuple(x.shape)}")
    t, d = x.shape[-2], x.shape[-1]
    if positions is None:
        positions = torch.arange(t, device=x.device)
    angles = rope_angles(positions, d, base)                     # (..., T, D/2)
    cos, sin = angles.cos().to(x.dtype), angles.sin().to(x.dtype)
    a, b = x[..., 0::2], x[..., 1::2]                            # (..., T, D/2) each
    rotated = torch.stack([a * cos - b * sin, a * sin + b * cos], dim=-1)   # (..., T, D/2, 2)
    return rotated.flatten(-2)                                   # (..., T, D)


# --- 6. BERT's input embeddings ------------------------------------------------------------------

class TokenSegmentPositionEmbedding(nn.Module):
    """BERT's input: token + segment + learned position embeddings, then LayerNorm and dropout.

    ``forward(ids, segment_ids=None)`` maps ``(B, T)`` ids to ``(B, T, D)``; ``segment_ids``
    (``(B, T)`` in ``[0, n_segments)``, default all 0) says which sentence of a pair a token is in.
    Attribute names follow BERT's (``word_embeddings``, ``token_type_embeddings``,
    ``position_embeddings``, ``LayerNorm``) so that its weights load by name.

    >>> TokenSegmentPositionEmbedding(10, 4, max_positions=6)(torch.tensor([[1, 2, 3]])).shape
    torch.Size([1, 3, 4])

    Chapter 03 — embeddings; used by Chapter 09 — bert.
    """

    def __init__(self, vocab_size: int, d_model: int, max_positions: int, n_segments: int = 2,
                 layer_norm: bool = True, dropout: float = 0.0, eps: float = 1e-12) -> None:
        super().__init__()
        self.word_embeddings = nn.Embedding(vocab_size, d_model)
        self.token_type_embeddings = nn.Embedding(n_segments, d_model)
        self.position_embeddings = nn.Embedding(max_positions, d_model)
        self.LayerNorm = nn.LayerNorm(d_model, eps=eps) if layer_norm else nn.Identity()
        self.dropout = nn.Dropout(dropout)

    def forward(self, ids: torch.Tensor, segment_ids: torch.Tensor | None = None) -> torch.Tensor:
        t = tensor("ids", ids, "(B, T)").shape[1]
        if t > self.position_embeddings.num_embeddings:
            raise ValueError(f"sequence of length {t} is longer than max_positions="
                             f"{self.position_embeddings.num_embeddings}")
        if segment_ids is None:
            segment_ids = torch.zeros_like(ids)
        elif segment_ids.shape != ids.shape:
            raise ValueError(f"segment_ids must have the shape of ids {tuple(ids.shape)}, got {tuple(segment_ids.shape)}")
        positions = torch.arange(t, device=ids.device)
        x = (self.word_embeddings(ids) + self.token_type_embeddings(segment_ids)
             + self.position_embeddings(positions))                 # (B, T, D)
        return self.dropout(self.LayerNorm(x))
