"""Typical wrong answers to the Chapter 06 exercise; each must lose points (tests/test_exercises.py).

MUTANTS: mutant name → {grade id of a solution cell: the cell's code in that wrong answer}.
The other solution cells keep the correct answer, so each mutant tests one mistake.
EXPECTED_ZERO: mutant name → test cells that must score 0 (here: forbidden calls).
"""

_MERGE_OK = '''

def merge_heads(x):
    B, H, T, D = x.shape
    return x.transpose(1, 2).reshape(B, T, H * D)
'''

_SPLIT_OK = '''
def split_heads(x, n_heads):
    B, T, C = x.shape
    if C % n_heads:
        raise ValueError("C must be divisible by n_heads")
    return x.view(B, T, n_heads, C // n_heads).transpose(1, 2)
'''

_MHA_PROJECT = '''
def multi_head_attention(x, in_proj_weight, in_proj_bias, out_proj_weight, out_proj_bias, n_heads, mask=None):
    C = x.shape[-1]
    q, k, v = (x @ in_proj_weight.T + in_proj_bias).split(C, dim=-1)
    q, k, v = split_heads(q, n_heads), split_heads(k, n_heads), split_heads(v, n_heads)
'''

_LN_SUBLAYERS = '''
def _ffn(z, p):
    return F.gelu(z @ p["mlp.fc.weight"].T + p["mlp.fc.bias"]) @ p["mlp.proj.weight"].T + p["mlp.proj.bias"]


def _attn(z, p, n_heads, causal=True):
    T = z.shape[1]
    mask = torch.arange(T)[None, :] <= torch.arange(T)[:, None] if causal else None
    return multi_head_attention(z, p["attn.qkv.weight"], p["attn.qkv.bias"], p["attn.proj.weight"],
                                p["attn.proj.bias"], n_heads, mask=mask)

'''

MUTANTS: dict[str, dict[str, str]] = {
    # split by reading the memory directly as (B, H, T, D): the right shape, positions mixed up
    "split_heads_view_without_transpose": {"heads": '''
def split_heads(x, n_heads):
    B, T, C = x.shape
    if C % n_heads:
        raise ValueError("C must be divisible by n_heads")
    return x.reshape(B, n_heads, T, C // n_heads)
''' + _MERGE_OK},
    # merged by flattening (B, H, T, D) without moving the heads back behind the positions
    "merge_heads_reshape_without_transpose": {"heads": _SPLIT_OK + '''

def merge_heads(x):
    B, H, T, D = x.shape
    return x.reshape(B, T, H * D)
'''},
    # heads take every H-th column (interleaved) instead of a contiguous block of D columns
    "split_heads_interleaved_columns": {"heads": '''
def split_heads(x, n_heads):
    B, T, C = x.shape
    if C % n_heads:
        raise ValueError("C must be divisible by n_heads")
    return x.view(B, T, C // n_heads, n_heads).permute(0, 3, 1, 2)


def merge_heads(x):
    B, H, T, D = x.shape
    return x.permute(0, 2, 3, 1).reshape(B, T, H * D)
'''},
    # torch.var's default: divides by C - 1
    "layer_norm_unbiased_variance": {"layer_norm": '''
def layer_norm(x, weight, bias, eps=1e-5):
    mean = x.mean(dim=-1, keepdim=True)
    var = x.var(dim=-1, keepdim=True)
    return (x - mean) / torch.sqrt(var + eps) * weight + bias
'''},
    # statistics over the positions (dim -2) instead of the features
    "layer_norm_over_wrong_axis": {"layer_norm": '''
def layer_norm(x, weight, bias, eps=1e-5):
    axis = -2 if x.dim() > 1 else -1
    mean = x.mean(dim=axis, keepdim=True)
    var = ((x - mean) ** 2).mean(dim=axis, keepdim=True)
    return (x - mean) / torch.sqrt(var + eps) * weight + bias
'''},
    # no eps: a constant vector divides 0 by 0
    "layer_norm_without_eps": {"layer_norm": '''
def layer_norm(x, weight, bias, eps=1e-5):
    mean = x.mean(dim=-1, keepdim=True)
    std = ((x - mean) ** 2).mean(dim=-1, keepdim=True).sqrt()
    return (x - mean) / std * weight + bias
'''},
    # scores divided by sqrt(C), the model width, instead of sqrt(D), the head size
    "mha_scaled_by_sqrt_model_dim": {"multi_head_attention": _MHA_PROJECT + '''    s = q @ k.transpose(-2, -1) / math.sqrt(C)
    if mask is not None:
        s = s.masked_fill(~mask, float("-inf"))
    return merge_heads(torch.softmax(s, dim=-1) @ v) @ out_proj_weight.T + out_proj_bias
'''},
    # the output projection is forgotten: the heads are only concatenated
    "mha_without_output_projection": {"multi_head_attention": _MHA_PROJECT + '''    s = q @ k.transpose(-2, -1) / math.sqrt(C // n_heads)
    if mask is not None:
        s = s.masked_fill(~mask, float("-inf"))
    return merge_heads(torch.softmax(s, dim=-1) @ v)
'''},
    # queries and keys taken from the wrong thirds of in_proj_weight (k, q, v)
    "mha_query_key_swapped": {"multi_head_attention": '''
def multi_head_attention(x, in_proj_weight, in_proj_bias, out_proj_weight, out_proj_bias, n_heads, mask=None):
    C = x.shape[-1]
    k, q, v = (x @ in_proj_weight.T + in_proj_bias).split(C, dim=-1)
    q, k, v = split_heads(q, n_heads), split_heads(k, n_heads), split_heads(v, n_heads)
    s = q @ k.transpose(-2, -1) / math.sqrt(C // n_heads)
    if mask is not None:
        s = s.masked_fill(~mask, float("-inf"))
    return merge_heads(torch.softmax(s, dim=-1) @ v) @ out_proj_weight.T + out_proj_bias
'''},
    # the fused kernel does the attention: forbidden, so its tests score 0 even though they pass
    "mha_uses_fused_kernel": {"multi_head_attention": _MHA_PROJECT + '''    out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    return merge_heads(out) @ out_proj_weight.T + out_proj_bias
'''},
    # no residual connections: the sub-layers replace the stream instead of adding to it
    "block_without_residual": {"pre_ln_block": _LN_SUBLAYERS + '''
def pre_ln_block(x, params, n_heads):
    p = params
    h = _attn(layer_norm(x, p["ln1.weight"], p["ln1.bias"]), p, n_heads)
    return _ffn(layer_norm(h, p["ln2.weight"], p["ln2.bias"]), p)
'''},
    # the original post-LN order: normalise after each residual addition
    "block_post_ln": {"pre_ln_block": _LN_SUBLAYERS + '''
def pre_ln_block(x, params, n_heads):
    p = params
    h = layer_norm(x + _attn(x, p, n_heads), p["ln1.weight"], p["ln1.bias"])
    return layer_norm(h + _ffn(h, p), p["ln2.weight"], p["ln2.bias"])
'''},
    # attention without the causal mask: earlier positions see later ones
    "block_not_causal": {"pre_ln_block": _LN_SUBLAYERS + '''
def pre_ln_block(x, params, n_heads):
    p = params
    h = x + _attn(layer_norm(x, p["ln1.weight"], p["ln1.bias"]), p, n_heads, causal=False)
    return h + _ffn(layer_norm(h, p["ln2.weight"], p["ln2.bias"]), p)
'''},
    # ReLU instead of GELU in the feed-forward network
    "block_relu_instead_of_gelu": {"pre_ln_block": _LN_SUBLAYERS.replace("F.gelu(", "torch.relu(") + '''
def pre_ln_block(x, params, n_heads):
    p = params
    h = x + _attn(layer_norm(x, p["ln1.weight"], p["ln1.bias"]), p, n_heads)
    return h + _ffn(layer_norm(h, p["ln2.weight"], p["ln2.bias"]), p)
'''},
    # a ready-made layer norm: forbidden, so its tests score 0 even though they would pass
    "layer_norm_uses_torch": {"layer_norm": '''
def layer_norm(x, weight, bias, eps=1e-5):
    return F.layer_norm(x, (x.shape[-1],), weight, bias, eps)
'''},
}

EXPECTED_ZERO: dict[str, list[str]] = {
    "mha_uses_fused_kernel": ["test_multi_head_attention", "test_multi_head_attention_hidden"],
    "layer_norm_uses_torch": ["test_layer_norm", "test_layer_norm_hidden"],
}
