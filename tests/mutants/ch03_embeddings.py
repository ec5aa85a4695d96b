"""Typical wrong answers to the Chapter 03 exercise; each must lose points (tests/test_exercises.py).

MUTANTS: mutant name → {grade id of a solution cell: the cell's code in that wrong answer}.
The other solution cells keep the correct answer, so each mutant tests one mistake.
EXPECTED_ZERO: mutant name → test cells that must score 0 (here: forbidden calls).
"""

MUTANTS: dict[str, dict[str, str]] = {
    # cos in the even columns, sin in the odd ones
    "sinusoidal_sin_cos_swapped": {"sinusoidal_table": '''
def sinusoidal_table(n_positions, d_model, base=10000.0):
    if d_model % 2:
        raise ValueError(f"d_model must be even, got {d_model}")
    freq = base ** (-torch.arange(0, d_model, 2, dtype=torch.float64) / d_model)
    ang = torch.arange(n_positions, dtype=torch.float64)[:, None] * freq
    out = torch.zeros(n_positions, d_model, dtype=torch.float64)
    out[:, 0::2], out[:, 1::2] = torch.cos(ang), torch.sin(ang)
    return out.float()
'''},
    # all sines first, then all cosines (a common layout, but not the one asked for)
    "sinusoidal_not_interleaved": {"sinusoidal_table": '''
def sinusoidal_table(n_positions, d_model, base=10000.0):
    if d_model % 2:
        raise ValueError(f"d_model must be even, got {d_model}")
    freq = base ** (-torch.arange(0, d_model, 2, dtype=torch.float64) / d_model)
    ang = torch.arange(n_positions, dtype=torch.float64)[:, None] * freq
    return torch.cat([torch.sin(ang), torch.cos(ang)], dim=-1).float()
'''},
    # exponent i / d instead of 2i / d: the frequencies fall only half as fast
    "sinusoidal_exponent_i_over_d": {"sinusoidal_table": '''
def sinusoidal_table(n_positions, d_model, base=10000.0):
    if d_model % 2:
        raise ValueError(f"d_model must be even, got {d_model}")
    freq = base ** (-torch.arange(d_model // 2, dtype=torch.float64) / d_model)
    ang = torch.arange(n_positions, dtype=torch.float64)[:, None] * freq
    out = torch.zeros(n_positions, d_model, dtype=torch.float64)
    out[:, 0::2], out[:, 1::2] = torch.sin(ang), torch.cos(ang)
    return out.float()
'''},
    # the package's reference: forbidden, so its tests score 0 even though they would pass
    "sinusoidal_uses_the_package": {"sinusoidal_table": '''
from llmcourse.embeddings import sinusoidal_positions

def sinusoidal_table(n_positions, d_model, base=10000.0):
    return sinusoidal_positions(n_positions, d_model, base)
'''},
    # raw dot products: long vectors win regardless of direction
    "neighbours_dot_product_not_cosine": {"cosine_neighbours": '''
def cosine_neighbours(vectors, query_index, k):
    if not 1 <= k <= vectors.shape[0] - 1:
        raise ValueError(f"bad k={k}")
    scores = vectors @ vectors[query_index]
    scores[query_index] = -math.inf
    return [int(i) for i in torch.argsort(scores, descending=True, stable=True)[:k]]
'''},
    # forgets to leave the query out: it is always its own nearest neighbour
    "neighbours_include_the_query": {"cosine_neighbours": '''
def cosine_neighbours(vectors, query_index, k):
    if not 1 <= k <= vectors.shape[0] - 1:
        raise ValueError(f"bad k={k}")
    unit = vectors / vectors.norm(dim=1, keepdim=True)
    scores = unit @ unit[query_index]
    return [int(i) for i in torch.argsort(scores, descending=True, stable=True)[:k]]
'''},
    # least similar first
    "neighbours_ascending_order": {"cosine_neighbours": '''
def cosine_neighbours(vectors, query_index, k):
    if not 1 <= k <= vectors.shape[0] - 1:
        raise ValueError(f"bad k={k}")
    unit = vectors / vectors.norm(dim=1, keepdim=True)
    scores = unit @ unit[query_index]
    scores[query_index] = math.inf
    return [int(i) for i in torch.argsort(scores, stable=True)[:k]]
'''},
    # rotates by -m ω (clockwise): lengths and the relative property survive, the values do not
    "rope_wrong_angle_sign": {"rope_rotate": '''
def rope_rotate(x, positions=None, base=10000.0):
    T, D = x.shape[-2], x.shape[-1]
    if D % 2:
        raise ValueError(f"D must be even, got D={D}")
    pos = torch.arange(T) if positions is None else positions
    ang = pos.double()[:, None] * base ** (-torch.arange(0, D, 2, dtype=torch.float64) / D)
    c, s = ang.cos().to(x.dtype), ang.sin().to(x.dtype)
    a, b = x[..., 0::2], x[..., 1::2]
    return torch.stack([a * c + b * s, -a * s + b * c], dim=-1).reshape(x.shape)
'''},
    # pairs dimension i with i + D/2 (the "rotate half" layout) instead of adjacent dimensions
    "rope_pairs_halves": {"rope_rotate": '''
def rope_rotate(x, positions=None, base=10000.0):
    T, D = x.shape[-2], x.shape[-1]
    if D % 2:
        raise ValueError(f"D must be even, got D={D}")
    pos = torch.arange(T) if positions is None else positions
    ang = pos.double()[:, None] * base ** (-torch.arange(0, D, 2, dtype=torch.float64) / D)
    c, s = ang.cos().to(x.dtype), ang.sin().to(x.dtype)
    a, b = x[..., : D // 2], x[..., D // 2:]
    return torch.cat([a * c - b * s, a * s + b * c], dim=-1)
'''},
    # ignores the given positions and always uses 0 .. T-1
    "rope_ignores_positions": {"rope_rotate": '''
def rope_rotate(x, positions=None, base=10000.0):
    T, D = x.shape[-2], x.shape[-1]
    if D % 2:
        raise ValueError(f"D must be even, got D={D}")
    ang = torch.arange(T, dtype=torch.float64)[:, None] * base ** (-torch.arange(0, D, 2, dtype=torch.float64) / D)
    c, s = ang.cos().to(x.dtype), ang.sin().to(x.dtype)
    a, b = x[..., 0::2], x[..., 1::2]
    return torch.stack([a * c - b * s, a * s + b * c], dim=-1).reshape(x.shape)
'''},
}

EXPECTED_ZERO: dict[str, list[str]] = {
    "sinusoidal_uses_the_package": ["test_sinusoidal_table", "test_sinusoidal_table_hidden"],
}
