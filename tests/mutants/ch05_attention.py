"""Typical wrong answers to the Chapter 05 exercise; each must lose points (tests/test_exercises.py).

MUTANTS: mutant name → {grade id of a solution cell: the cell's code in that wrong answer}.
The other solution cells keep the correct answer, so each mutant tests one mistake.
EXPECTED_ZERO: mutant name → test cells that must score 0 (here: forbidden calls).
"""

MUTANTS: dict[str, dict[str, str]] = {
    # the scores are not divided by √d
    "attention_without_sqrt_d_scale": {"attention": '''
def attention(q, k, v, mask=None):
    s = q @ k.transpose(-2, -1)
    if mask is not None:
        s = s.masked_fill(~mask, float("-inf"))
    w = torch.softmax(s, dim=-1)
    if mask is not None:
        w = w.masked_fill(~mask.any(-1, keepdim=True), 0.0)
    return w @ v, w
'''},
    # the mask zeroes weights after the softmax: rows no longer sum to 1
    "mask_applied_after_softmax": {"attention": '''
def attention(q, k, v, mask=None):
    w = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]), dim=-1)
    if mask is not None:
        w = w * mask
    return w @ v, w
'''},
    # the softmax normalises over the queries (columns) instead of the keys (rows)
    "softmax_over_query_axis": {"attention": '''
def attention(q, k, v, mask=None):
    s = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is not None:
        s = s.masked_fill(~mask, float("-inf"))
    w = torch.softmax(s, dim=-2).nan_to_num(0.0)
    return w @ v, w
'''},
    # True read as "hidden" (nn.MultiheadAttention's key_padding_mask convention)
    "mask_convention_inverted": {"attention": '''
def attention(q, k, v, mask=None):
    s = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is not None:
        s = s.masked_fill(mask, float("-inf"))
    w = torch.softmax(s, dim=-1).nan_to_num(0.0)
    return w @ v, w
'''},
    # a query with no allowed key: the plain softmax's nan is returned
    "fully_masked_row_gives_nan": {"attention": '''
def attention(q, k, v, mask=None):
    s = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is not None:
        s = s.masked_fill(~mask, float("-inf"))
    w = torch.softmax(s, dim=-1)
    return w @ v, w
'''},
    # torch's fused kernel for the output: forbidden, so its tests score 0 even though they would pass
    "attention_uses_fused_kernel": {"attention": '''
def attention(q, k, v, mask=None):
    s = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is not None:
        s = s.masked_fill(~mask, float("-inf"))
    w = torch.softmax(s, dim=-1).nan_to_num(0.0)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask), w
'''},
    # a query may not see its own position
    "causal_mask_excludes_diagonal": {"causal_mask": '''
def causal_mask(t_q, t_k=None):
    t_k = t_q if t_k is None else t_k
    return torch.arange(t_k)[None, :] < torch.arange(t_q)[:, None] + (t_k - t_q)
'''},
    # one future token leaks in
    "causal_mask_allows_one_future_token": {"causal_mask": '''
def causal_mask(t_q, t_k=None):
    t_k = t_q if t_k is None else t_k
    return torch.arange(t_k)[None, :] <= torch.arange(t_q)[:, None] + (t_k - t_q) + 1
'''},
    # the triangle aligned to the top-left corner (like torch's is_causal): wrong with a cache
    "causal_mask_top_left_aligned": {"causal_mask": '''
def causal_mask(t_q, t_k=None):
    t_k = t_q if t_k is None else t_k
    return torch.arange(t_k)[None, :] <= torch.arange(t_q)[:, None]
'''},
    # the triangle helper instead of a comparison of positions: forbidden
    "causal_mask_uses_tril": {"causal_mask": '''
def causal_mask(t_q, t_k=None):
    t_k = t_q if t_k is None else t_k
    return torch.ones(t_q, t_k, dtype=torch.bool).tril(diagonal=t_k - t_q)
'''},
    # the padding hides query rows instead of key columns
    "padding_mask_on_queries": {"padding_mask": '''
def padding_mask(lengths, max_len):
    real = torch.arange(max_len)[None, :] < lengths[:, None]
    return real[:, None, :, None]
'''},
    # one padding position too many is visible
    "padding_mask_off_by_one": {"padding_mask": '''
def padding_mask(lengths, max_len):
    real = torch.arange(max_len)[None, :] <= lengths[:, None]
    return real[:, None, None, :]
'''},
    # combined with "or": a key is allowed if either mask allows it
    "masks_combined_with_or": {"causal_padding_mask": '''
def causal_padding_mask(lengths, max_len):
    return causal_mask(max_len)[None, None] | padding_mask(lengths, max_len)
'''},
}

EXPECTED_ZERO: dict[str, list[str]] = {
    "attention_uses_fused_kernel": ["test_attention", "test_attention_hidden"],
    "causal_mask_uses_tril": ["test_causal_mask", "test_causal_mask_hidden"],
}
