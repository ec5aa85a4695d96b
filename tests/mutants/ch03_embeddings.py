"""Typical wrong answers to the Chapter 03 exercise; each must lose points (tests/test_exercises.py).

MUTANTS: mutant name → {grade id of a solution cell: the cell's code in that wrong answer}.
The other solution cells keep the correct answer, so each mutant tests one mistake.
EXPECTED_ZERO: mutant name → test cells that must score 0 (here: forbidden calls).
BOOK_COUNTERPARTS: graded function → the book's functions of the same idea under another name
(tests/test_copyproof.py pastes each of them as the answer; it must lose points).
"""

MUTANTS: dict[str, dict[str, str]] = {
    # positions run on across documents (0 .. R-1): the chapter's table of one sequence
    "packed_positions_do_not_restart": {"packed_sinusoids": '''
def packed_sinusoids(lengths, d_model, base=10000.0):
    if d_model < 2 or d_model % 2:
        raise ValueError(f"d_model must be even, got {d_model}")
    if any(n < 0 for n in lengths):
        raise ValueError("negative length")
    pos = torch.arange(sum(lengths), dtype=torch.float64)
    ang = pos[:, None] * base ** (-torch.arange(0, d_model, 2, dtype=torch.float64) / d_model)
    out = torch.zeros(len(pos), d_model, dtype=torch.float64)
    out[:, 0::2], out[:, 1::2] = torch.sin(ang), torch.cos(ang)
    return out.float()
'''},
    # cos in the even columns, sin in the odd ones
    "packed_sin_cos_swapped": {"packed_sinusoids": '''
def packed_sinusoids(lengths, d_model, base=10000.0):
    if d_model < 2 or d_model % 2:
        raise ValueError(f"d_model must be even, got {d_model}")
    if any(n < 0 for n in lengths):
        raise ValueError("negative length")
    pos = torch.tensor([p for n in lengths for p in range(n)], dtype=torch.float64)
    ang = pos[:, None] * base ** (-torch.arange(0, d_model, 2, dtype=torch.float64) / d_model)
    out = torch.zeros(len(pos), d_model, dtype=torch.float64)
    out[:, 0::2], out[:, 1::2] = torch.cos(ang), torch.sin(ang)
    return out.float()
'''},
    # all sines first, then all cosines (a common layout, but not the one asked for)
    "packed_not_interleaved": {"packed_sinusoids": '''
def packed_sinusoids(lengths, d_model, base=10000.0):
    if d_model < 2 or d_model % 2:
        raise ValueError(f"d_model must be even, got {d_model}")
    if any(n < 0 for n in lengths):
        raise ValueError("negative length")
    pos = torch.tensor([p for n in lengths for p in range(n)], dtype=torch.float64)
    ang = pos[:, None] * base ** (-torch.arange(0, d_model, 2, dtype=torch.float64) / d_model)
    return torch.cat([torch.sin(ang), torch.cos(ang)], dim=-1).float()
'''},
    # exponent i / d instead of 2i / d: the frequencies fall only half as fast
    "packed_exponent_i_over_d": {"packed_sinusoids": '''
def packed_sinusoids(lengths, d_model, base=10000.0):
    if d_model < 2 or d_model % 2:
        raise ValueError(f"d_model must be even, got {d_model}")
    if any(n < 0 for n in lengths):
        raise ValueError("negative length")
    pos = torch.tensor([p for n in lengths for p in range(n)], dtype=torch.float64)
    ang = pos[:, None] * base ** (-torch.arange(d_model // 2, dtype=torch.float64) / d_model)
    out = torch.zeros(len(pos), d_model, dtype=torch.float64)
    out[:, 0::2], out[:, 1::2] = torch.sin(ang), torch.cos(ang)
    return out.float()
'''},
    # angles in float32: long documents lose about 1e-4
    "packed_float32_angles": {"packed_sinusoids": '''
def packed_sinusoids(lengths, d_model, base=10000.0):
    if d_model < 2 or d_model % 2:
        raise ValueError(f"d_model must be even, got {d_model}")
    if any(n < 0 for n in lengths):
        raise ValueError("negative length")
    pos = torch.tensor([p for n in lengths for p in range(n)], dtype=torch.float32)
    ang = pos[:, None] * base ** (-torch.arange(0, d_model, 2, dtype=torch.float32) / d_model)
    out = torch.zeros(len(pos), d_model)
    out[:, 0::2], out[:, 1::2] = torch.sin(ang), torch.cos(ang)
    return out
'''},
    # the package's table, indexed by the packed positions: forbidden, so its tests score 0
    "packed_uses_the_package": {"packed_sinusoids": '''
from llmcourse.embeddings import sinusoidal_positions

def packed_sinusoids(lengths, d_model, base=10000.0):
    pos = torch.tensor([p for n in lengths for p in range(n)], dtype=torch.long)
    return sinusoidal_positions(max(list(lengths) + [1]), d_model, base)[pos]
'''},
    # b - a + c without normalising: a long vector dominates the direction
    "analogy_without_normalising": {"analogy": '''
def analogy(vectors, a, b, c, k=1):
    asked = sorted({a, b, c})
    if not 1 <= k <= vectors.shape[0] - len(asked):
        raise ValueError(f"bad k={k}")
    t = vectors[b] - vectors[a] + vectors[c]
    sims = vectors @ t / (vectors.norm(dim=1) * t.norm())
    sims[asked] = -math.inf
    return [(int(i), float(sims[i])) for i in torch.argsort(sims, descending=True, stable=True)[:k]]
'''},
    # the question words are not left out
    "analogy_keeps_question_words": {"analogy": '''
def analogy(vectors, a, b, c, k=1):
    if not 1 <= k <= vectors.shape[0] - len({a, b, c}):
        raise ValueError(f"bad k={k}")
    unit = vectors / vectors.norm(dim=1, keepdim=True)
    t = unit[b] - unit[a] + unit[c]
    sims = unit @ t / t.norm()
    return [(int(i), float(sims[i])) for i in torch.argsort(sims, descending=True, stable=True)[:k]]
'''},
    # a - b + c: the relation taken in the wrong direction
    "analogy_wrong_direction": {"analogy": '''
def analogy(vectors, a, b, c, k=1):
    asked = sorted({a, b, c})
    if not 1 <= k <= vectors.shape[0] - len(asked):
        raise ValueError(f"bad k={k}")
    unit = vectors / vectors.norm(dim=1, keepdim=True)
    t = unit[a] - unit[b] + unit[c]
    sims = unit @ t / t.norm()
    sims[asked] = -math.inf
    return [(int(i), float(sims[i])) for i in torch.argsort(sims, descending=True, stable=True)[:k]]
'''},
    # raw dot products with t: long candidate vectors win regardless of direction
    "analogy_dot_product_not_cosine": {"analogy": '''
def analogy(vectors, a, b, c, k=1):
    asked = sorted({a, b, c})
    if not 1 <= k <= vectors.shape[0] - len(asked):
        raise ValueError(f"bad k={k}")
    unit = vectors / vectors.norm(dim=1, keepdim=True)
    t = unit[b] - unit[a] + unit[c]
    sims = vectors @ t
    sims[asked] = -math.inf
    return [(int(i), float(sims[i])) for i in torch.argsort(sims, descending=True, stable=True)[:k]]
'''},
    # k counted against N - 3 even when two question words are the same
    "analogy_k_limit_always_three": {"analogy": '''
def analogy(vectors, a, b, c, k=1):
    asked = sorted({a, b, c})
    if not 1 <= k <= vectors.shape[0] - 3:
        raise ValueError(f"bad k={k}")
    unit = vectors / vectors.norm(dim=1, keepdim=True)
    t = unit[b] - unit[a] + unit[c]
    sims = unit @ t / t.norm()
    sims[asked] = -math.inf
    return [(int(i), float(sims[i])) for i in torch.argsort(sims, descending=True, stable=True)[:k]]
'''},
    # a ready-made cosine similarity: forbidden, so its tests score 0
    "analogy_uses_torch_cosine": {"analogy": '''
import torch.nn.functional as F

def analogy(vectors, a, b, c, k=1):
    asked = sorted({a, b, c})
    if not 1 <= k <= vectors.shape[0] - len(asked):
        raise ValueError(f"bad k={k}")
    unit = F.normalize(vectors, dim=1)
    sims = F.cosine_similarity(vectors, (unit[b] - unit[a] + unit[c])[None], dim=1)
    sims[asked] = -math.inf
    return [(int(i), float(sims[i])) for i in torch.argsort(sims, descending=True, stable=True)[:k]]
'''},
    # the chapter's adjacent pairs (2i, 2i+1) instead of (j, j + h)
    "rope_adjacent_pairs": {"rope_rotate_half": '''
def rope_rotate_half(x, positions=None, base=10000.0, rotary_dim=None):
    D = x.shape[-1]
    r = D if rotary_dim is None else rotary_dim
    if r % 2 or not 2 <= r <= D:
        raise ValueError(f"bad rotary_dim={r}")
    pos = torch.arange(x.shape[-2]) if positions is None else positions
    ang = pos.double()[:, None] * base ** (-torch.arange(0, r, 2, dtype=torch.float64) / r)
    c, s = ang.cos().to(x.dtype), ang.sin().to(x.dtype)
    a, b = x[..., 0:r:2], x[..., 1:r:2]
    turned = torch.stack([a * c - b * s, a * s + b * c], dim=-1).flatten(-2)
    return torch.cat([turned, x[..., r:]], dim=-1)
'''},
    # the frequencies spread over D instead of rotary_dim
    "rope_frequencies_over_D": {"rope_rotate_half": '''
def rope_rotate_half(x, positions=None, base=10000.0, rotary_dim=None):
    D = x.shape[-1]
    r = D if rotary_dim is None else rotary_dim
    if r % 2 or not 2 <= r <= D:
        raise ValueError(f"bad rotary_dim={r}")
    h = r // 2
    pos = torch.arange(x.shape[-2]) if positions is None else positions
    ang = pos.double()[:, None] * base ** (-2.0 * torch.arange(h, dtype=torch.float64) / D)
    c, s = ang.cos().to(x.dtype), ang.sin().to(x.dtype)
    a, b = x[..., :h], x[..., h:r]
    return torch.cat([a * c - b * s, a * s + b * c, x[..., r:]], dim=-1)
'''},
    # the pass-through dimensions are dropped
    "rope_drops_pass_through": {"rope_rotate_half": '''
def rope_rotate_half(x, positions=None, base=10000.0, rotary_dim=None):
    D = x.shape[-1]
    r = D if rotary_dim is None else rotary_dim
    if r % 2 or not 2 <= r <= D:
        raise ValueError(f"bad rotary_dim={r}")
    h = r // 2
    pos = torch.arange(x.shape[-2]) if positions is None else positions
    ang = pos.double()[:, None] * base ** (-2.0 * torch.arange(h, dtype=torch.float64) / r)
    c, s = ang.cos().to(x.dtype), ang.sin().to(x.dtype)
    a, b = x[..., :h], x[..., h:r]
    return torch.cat([a * c - b * s, a * s + b * c], dim=-1)
'''},
    # rotates by -m ω (clockwise): lengths and the relative property survive, the values do not
    "rope_wrong_angle_sign": {"rope_rotate_half": '''
def rope_rotate_half(x, positions=None, base=10000.0, rotary_dim=None):
    D = x.shape[-1]
    r = D if rotary_dim is None else rotary_dim
    if r % 2 or not 2 <= r <= D:
        raise ValueError(f"bad rotary_dim={r}")
    h = r // 2
    pos = torch.arange(x.shape[-2]) if positions is None else positions
    ang = pos.double()[:, None] * base ** (-2.0 * torch.arange(h, dtype=torch.float64) / r)
    c, s = ang.cos().to(x.dtype), ang.sin().to(x.dtype)
    a, b = x[..., :h], x[..., h:r]
    return torch.cat([a * c + b * s, -a * s + b * c, x[..., r:]], dim=-1)
'''},
    # ignores the given positions and always uses 0 .. T-1
    "rope_ignores_positions": {"rope_rotate_half": '''
def rope_rotate_half(x, positions=None, base=10000.0, rotary_dim=None):
    D = x.shape[-1]
    r = D if rotary_dim is None else rotary_dim
    if r % 2 or not 2 <= r <= D:
        raise ValueError(f"bad rotary_dim={r}")
    h = r // 2
    ang = torch.arange(x.shape[-2], dtype=torch.float64)[:, None] * base ** (-2.0 * torch.arange(h, dtype=torch.float64) / r)
    c, s = ang.cos().to(x.dtype), ang.sin().to(x.dtype)
    a, b = x[..., :h], x[..., h:r]
    return torch.cat([a * c - b * s, a * s + b * c, x[..., r:]], dim=-1)
'''},
    # the package's adjacent-pair RoPE on a permuted layout: forbidden, so its tests score 0
    "rope_uses_the_package": {"rope_rotate_half": '''
from llmcourse.embeddings import apply_rope

def rope_rotate_half(x, positions=None, base=10000.0, rotary_dim=None):
    D = x.shape[-1]
    r = D if rotary_dim is None else rotary_dim
    h = r // 2
    perm = torch.stack([torch.arange(h), torch.arange(h) + h], dim=-1).flatten()
    turned = apply_rope(x[..., perm], positions, base)
    return torch.cat([turned[..., 0::2], turned[..., 1::2], x[..., r:]], dim=-1)
'''},
}

EXPECTED_ZERO: dict[str, list[str]] = {
    "packed_uses_the_package": ["test_packed_sinusoids", "test_packed_sinusoids_hidden"],
    "analogy_uses_torch_cosine": ["test_analogy", "test_analogy_hidden"],
    "rope_uses_the_package": ["test_rope_rotate_half", "test_rope_rotate_half_hidden"],
}

# The book shows `sinusoids`, `cosine_matrix` and `rope` in code cells and `nearest_neighbours`
# with show_source.
BOOK_COUNTERPARTS: dict[str, list[str]] = {
    "packed_sinusoids": ["sinusoids"],
    "analogy": ["nearest_neighbours", "cosine_matrix"],
    "rope_rotate_half": ["rope"],
}
