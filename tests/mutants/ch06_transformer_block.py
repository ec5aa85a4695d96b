"""Typical wrong answers to the Chapter 06 exercise; each must lose points (tests/test_exercises.py).

MUTANTS: mutant name → {grade id of a solution cell: the cell's code in that wrong answer}.
The other solution cells keep the correct answer, so each mutant tests one mistake.
EXPECTED_ZERO: mutant name → test cells that must score 0 (here: forbidden calls).
BOOK_COUNTERPARTS: graded function → the book's functions for the same idea under another name
(tests/test_copyproof.py pastes each as the answer; it must lose points). The book also shows
LayerNorm.forward, MultiHeadAttention.forward and Block.forward, methods the exercise's RMSNorm,
grouped-query attention and parallel block change.
"""

_SPLIT_OK = '''
def split_qkv_heads(qkv, n_heads, n_kv_heads):
    B, T, W = qkv.shape
    if n_heads % n_kv_heads or W % (n_heads + 2 * n_kv_heads):
        raise ValueError("sizes do not fit")
    D = W // (n_heads + 2 * n_kv_heads)
    q, k, v = qkv.split([n_heads * D, n_kv_heads * D, n_kv_heads * D], dim=-1)
    return (q.view(B, T, n_heads, D).transpose(1, 2), k.view(B, T, n_kv_heads, D).transpose(1, 2),
            v.view(B, T, n_kv_heads, D).transpose(1, 2))
'''

_REPEAT_OK = '''

def repeat_kv_heads(kv, n_heads):
    if n_heads % kv.shape[1]:
        raise ValueError("G must divide H")
    return kv.repeat_interleave(n_heads // kv.shape[1], dim=1)
'''

_GQA_PROJECT = '''
def grouped_query_attention(x, qkv_weight, qkv_bias, proj_weight, proj_bias, n_heads, n_kv_heads, mask=None):
    B, T, C = x.shape
    D = C // n_heads
    q, k, v = split_qkv_heads(x @ qkv_weight.T + qkv_bias, n_heads, n_kv_heads)
'''

_GQA_TAIL = '''    s = q @ k.transpose(-2, -1) / math.sqrt(D)
    if mask is not None:
        s = s.masked_fill(~mask, float("-inf"))
    y = torch.softmax(s, dim=-1) @ v
    return y.transpose(1, 2).reshape(B, T, C) @ proj_weight.T + proj_bias
'''

_BRANCHES = '''
def _ffn(z, p):
    return F.gelu(z @ p["mlp.fc.weight"].T + p["mlp.fc.bias"]) @ p["mlp.proj.weight"].T + p["mlp.proj.bias"]


def _attn(z, p, n_heads, n_kv_heads, causal=True):
    T = z.shape[1]
    mask = torch.arange(T)[None, :] <= torch.arange(T)[:, None] if causal else None
    return grouped_query_attention(z, p["attn.qkv.weight"], p["attn.qkv.bias"], p["attn.proj.weight"],
                                   p["attn.proj.bias"], n_heads, n_kv_heads, mask=mask)

'''

MUTANTS: dict[str, dict[str, str]] = {
    # each part read directly as (B, heads, T, D): the right shapes, positions mixed up
    "split_view_without_transpose": {"heads": '''
def split_qkv_heads(qkv, n_heads, n_kv_heads):
    B, T, W = qkv.shape
    if n_heads % n_kv_heads or W % (n_heads + 2 * n_kv_heads):
        raise ValueError("sizes do not fit")
    D = W // (n_heads + 2 * n_kv_heads)
    q, k, v = qkv.split([n_heads * D, n_kv_heads * D, n_kv_heads * D], dim=-1)
    return q.reshape(B, n_heads, T, D), k.reshape(B, n_kv_heads, T, D), v.reshape(B, n_kv_heads, T, D)
''' + _REPEAT_OK},
    # the chapter's equal thirds: right only when G = H
    "split_equal_thirds": {"heads": '''
def split_qkv_heads(qkv, n_heads, n_kv_heads):
    B, T, W = qkv.shape
    if n_heads % n_kv_heads or W % (n_heads + 2 * n_kv_heads):
        raise ValueError("sizes do not fit")
    D = W // (n_heads + 2 * n_kv_heads)
    q, k, v = qkv.split(W // 3, dim=-1)
    return (q[..., :n_heads * D].reshape(B, T, n_heads, D).transpose(1, 2),
            k[..., :n_kv_heads * D].reshape(B, T, n_kv_heads, D).transpose(1, 2),
            v[..., :n_kv_heads * D].reshape(B, T, n_kv_heads, D).transpose(1, 2))
''' + _REPEAT_OK},
    # the kv heads tiled (0, 1, 0, 1) instead of each repeated in a row (0, 0, 1, 1)
    "repeat_kv_tiled": {"heads": _SPLIT_OK + '''

def repeat_kv_heads(kv, n_heads):
    if n_heads % kv.shape[1]:
        raise ValueError("G must divide H")
    return kv.repeat(1, n_heads // kv.shape[1], 1, 1)
'''},
    # no size checks: an indivisible width is silently cut wrong
    "split_without_value_error": {"heads": '''
def split_qkv_heads(qkv, n_heads, n_kv_heads):
    B, T, W = qkv.shape
    D = W // (n_heads + 2 * n_kv_heads)
    q, k, v = qkv[..., :n_heads * D], qkv[..., n_heads * D:(n_heads + n_kv_heads) * D], qkv[..., (n_heads + n_kv_heads) * D:]
    return (q.reshape(B, T, n_heads, D).transpose(1, 2), k.reshape(B, T, n_kv_heads, D).transpose(1, 2),
            v.reshape(B, T, -1, D).transpose(1, 2))


def repeat_kv_heads(kv, n_heads):
    return kv.repeat_interleave(n_heads // kv.shape[1], dim=1)
'''},
    # the mean subtracted as in a layer norm: RMSNorm keeps it
    "rms_norm_centred": {"rms_norm": '''
def rms_norm(x, weight, eps=1e-6):
    work = x.float()
    centred = work - work.mean(dim=-1, keepdim=True)
    return (centred / torch.sqrt(centred.pow(2).mean(dim=-1, keepdim=True) + eps) * weight.float()).to(x.dtype)
'''},
    # eps added to the root instead of inside it
    "rms_norm_eps_outside_root": {"rms_norm": '''
def rms_norm(x, weight, eps=1e-6):
    work = x.float()
    return (work / (work.pow(2).mean(dim=-1, keepdim=True).sqrt() + eps) * weight.float()).to(x.dtype)
'''},
    # no upcast: float16 squares overflow to inf and the output collapses to 0
    "rms_norm_in_half_precision": {"rms_norm": '''
def rms_norm(x, weight, eps=1e-6):
    return x * torch.rsqrt(x.pow(2).mean(dim=-1, keepdim=True) + eps) * weight
'''},
    # upcast but never cast back: float16 in, float32 out
    "rms_norm_returns_float32": {"rms_norm": '''
def rms_norm(x, weight, eps=1e-6):
    work = x.float()
    return work * torch.rsqrt(work.pow(2).mean(dim=-1, keepdim=True) + eps) * weight.float()
'''},
    # the root mean square over the positions (dim -2) instead of the features
    "rms_norm_over_wrong_axis": {"rms_norm": '''
def rms_norm(x, weight, eps=1e-6):
    axis = -2 if x.dim() > 1 else -1
    work = x.float()
    return (work * torch.rsqrt(work.pow(2).mean(dim=axis, keepdim=True) + eps) * weight.float()).to(x.dtype)
'''},
    # a ready-made RMSNorm: forbidden, so its tests score 0 even though they would pass
    "rms_norm_uses_torch": {"rms_norm": '''
def rms_norm(x, weight, eps=1e-6):
    return F.rms_norm(x.float(), (x.shape[-1],), weight.float(), eps).to(x.dtype)
'''},
    # query head h reads kv head h % G (tiled) instead of h // (H / G)
    "gqa_kv_heads_tiled": {"grouped_query_attention": _GQA_PROJECT + '''    k = k.repeat(1, n_heads // n_kv_heads, 1, 1)
    v = v.repeat(1, n_heads // n_kv_heads, 1, 1)
''' + _GQA_TAIL},
    # scores divided by sqrt(C), the model width, instead of sqrt(D), the head size
    "gqa_scaled_by_sqrt_model_dim": {"grouped_query_attention": _GQA_PROJECT + '''    k, v = repeat_kv_heads(k, n_heads), repeat_kv_heads(v, n_heads)
''' + _GQA_TAIL.replace("math.sqrt(D)", "math.sqrt(C)")},
    # heads flattened without moving them behind the positions
    "gqa_merge_without_transpose": {"grouped_query_attention": _GQA_PROJECT + '''    k, v = repeat_kv_heads(k, n_heads), repeat_kv_heads(v, n_heads)
''' + _GQA_TAIL.replace("y.transpose(1, 2).reshape(B, T, C)", "y.reshape(B, T, C)")},
    # the output projection is forgotten: the heads are only concatenated
    "gqa_without_output_projection": {"grouped_query_attention": _GQA_PROJECT + '''    k, v = repeat_kv_heads(k, n_heads), repeat_kv_heads(v, n_heads)
''' + _GQA_TAIL.replace(" @ proj_weight.T + proj_bias", "")},
    # the fused kernel's grouped-query mode: forbidden, so its tests score 0 even though they pass
    "gqa_uses_fused_kernel": {"grouped_query_attention": _GQA_PROJECT + '''    y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, enable_gqa=True)
    return y.transpose(1, 2).reshape(B, T, C) @ proj_weight.T + proj_bias
'''},
    # the chapter's sequential pre-LN order: the feed-forward network reads the stream after attention
    "block_sequential": {"parallel_block": _BRANCHES + '''
def parallel_block(x, params, n_heads, n_kv_heads):
    p = params
    h = x + _attn(rms_norm(x, p["norm.weight"]), p, n_heads, n_kv_heads)
    return h + _ffn(rms_norm(h, p["norm.weight"]), p)
'''},
    # no residual connection: the branches replace the stream instead of adding to it
    "block_without_residual": {"parallel_block": _BRANCHES + '''
def parallel_block(x, params, n_heads, n_kv_heads):
    n = rms_norm(x, params["norm.weight"])
    return _attn(n, params, n_heads, n_kv_heads) + _ffn(n, params)
'''},
    # attention without the causal mask: earlier positions see later ones
    "block_not_causal": {"parallel_block": _BRANCHES + '''
def parallel_block(x, params, n_heads, n_kv_heads):
    n = rms_norm(x, params["norm.weight"])
    return x + _attn(n, params, n_heads, n_kv_heads, causal=False) + _ffn(n, params)
'''},
    # the feed-forward branch reads the raw stream instead of the normalised copy
    "block_ffn_unnormalised": {"parallel_block": _BRANCHES + '''
def parallel_block(x, params, n_heads, n_kv_heads):
    n = rms_norm(x, params["norm.weight"])
    return x + _attn(n, params, n_heads, n_kv_heads) + _ffn(x, params)
'''},
    # the tanh approximation of GELU instead of the exact one
    "block_tanh_gelu": {"parallel_block": _BRANCHES.replace("F.gelu(", "F.gelu(approximate='tanh', input=") + '''
def parallel_block(x, params, n_heads, n_kv_heads):
    n = rms_norm(x, params["norm.weight"])
    return x + _attn(n, params, n_heads, n_kv_heads) + _ffn(n, params)
'''},
}

EXPECTED_ZERO: dict[str, list[str]] = {
    "rms_norm_uses_torch": ["test_rms_norm", "test_rms_norm_hidden"],
    "gqa_uses_fused_kernel": ["test_grouped_query_attention", "test_grouped_query_attention_hidden"],
}

BOOK_COUNTERPARTS: dict[str, list[str]] = {
    "split_qkv_heads": ["split_heads"],
    "repeat_kv_heads": ["split_heads", "merge_heads"],
    "grouped_query_attention": ["scaled_dot_product_attention", "attend"],
}
