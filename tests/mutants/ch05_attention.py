"""Typical wrong answers to the Chapter 05 exercise; each must lose points (tests/test_exercises.py).

MUTANTS: mutant name → {grade id of a solution cell: the cell's code in that wrong answer}.
The other solution cells keep the correct answer, so each mutant tests one mistake.
EXPECTED_ZERO: mutant name → test cells that must score 0 (here: forbidden calls).
BOOK_COUNTERPARTS: graded name → the book's functions for the same idea under another name
(tests/test_copyproof.py pastes each as the answer and checks that it loses points).
"""

MUTANTS: dict[str, dict[str, str]] = {
    # the scores are not divided by √d
    "attention_without_sqrt_d_scale": {"attention": '''
def attention(q, k, v, mask=None):
    s = q @ k.transpose(-2, -1)
    if mask is not None:
        s = s.masked_fill(~mask, float("-inf")) if mask.dtype == torch.bool else s + mask
    w = torch.softmax(s, dim=-1).nan_to_num(0.0)
    return w @ v, w
'''},
    # the mask zeroes weights after the softmax: rows no longer sum to 1
    "mask_applied_after_softmax": {"attention": '''
def attention(q, k, v, mask=None):
    w = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]), dim=-1)
    if mask is not None:
        w = w * mask if mask.dtype == torch.bool else w * mask.exp()
    return w @ v, w
'''},
    # the softmax normalises over the queries (columns) instead of the keys (rows)
    "softmax_over_query_axis": {"attention": '''
def attention(q, k, v, mask=None):
    s = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is not None:
        s = s.masked_fill(~mask, float("-inf")) if mask.dtype == torch.bool else s + mask
    w = torch.softmax(s, dim=-2).nan_to_num(0.0)
    return w @ v, w
'''},
    # True read as "hidden" (nn.MultiheadAttention's key_padding_mask convention)
    "mask_convention_inverted": {"attention": '''
def attention(q, k, v, mask=None):
    s = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is not None:
        s = s.masked_fill(mask, float("-inf")) if mask.dtype == torch.bool else s + mask
    w = torch.softmax(s, dim=-1).nan_to_num(0.0)
    return w @ v, w
'''},
    # a float mask multiplies the scores instead of being added to them
    "float_mask_multiplied": {"attention": '''
def attention(q, k, v, mask=None):
    s = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is not None:
        s = s.masked_fill(~mask, float("-inf")) if mask.dtype == torch.bool else s * mask
    w = torch.softmax(s, dim=-1).nan_to_num(0.0)
    return w @ v, w
'''},
    # a float mask read as a bool one: only its -inf entries count, the other values are ignored
    "float_mask_only_hides_minus_inf": {"attention": '''
def attention(q, k, v, mask=None):
    s = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is not None:
        allowed = mask if mask.dtype == torch.bool else mask > float("-inf")
        s = s.masked_fill(~allowed, float("-inf"))
    w = torch.softmax(s, dim=-1).nan_to_num(0.0)
    return w @ v, w
'''},
    # empty rows caught for bool masks only (mask.any): an all -inf float row gives nan
    "float_empty_row_gives_nan": {"attention": '''
def attention(q, k, v, mask=None):
    s = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is not None and mask.dtype == torch.bool:
        w = torch.softmax(s.masked_fill(~mask, float("-inf")), dim=-1)
        w = w.masked_fill(~mask.any(-1, keepdim=True), 0.0)
    else:
        w = torch.softmax(s if mask is None else s + mask, dim=-1)
    return w @ v, w
'''},
    # a query with no allowed key (bool mask): the plain softmax's nan is returned
    "bool_empty_row_gives_nan": {"attention": '''
def attention(q, k, v, mask=None):
    s = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is not None:
        s = s.masked_fill(~mask, float("-inf")) if mask.dtype == torch.bool else s + mask
    w = torch.softmax(s, dim=-1)
    if mask is not None and mask.dtype != torch.bool:
        w = w.nan_to_num(0.0)
    return w @ v, w
'''},
    # torch's fused kernel for the output: forbidden, so its tests score 0 even though they would pass
    "attention_uses_fused_kernel": {"attention": '''
def attention(q, k, v, mask=None):
    s = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is not None:
        s = s.masked_fill(~mask, float("-inf")) if mask.dtype == torch.bool else s + mask
    w = torch.softmax(s, dim=-1).nan_to_num(0.0)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask), w
'''},
    # the window is ignored: always the plain causal mask (the chapter's causal_mask)
    "window_ignored": {"sliding_window_mask": '''
def sliding_window_mask(t_q, t_k=None, window=None):
    t_k = t_q if t_k is None else t_k
    return torch.arange(t_k)[None, :] <= torch.arange(t_q)[:, None] + (t_k - t_q)
'''},
    # off by one: a query sees window + 1 keys
    "window_off_by_one": {"sliding_window_mask": '''
def sliding_window_mask(t_q, t_k=None, window=None):
    t_k = t_q if t_k is None else t_k
    back = torch.arange(t_q)[:, None] + (t_k - t_q) - torch.arange(t_k)[None, :]
    return (back >= 0) & (back <= window) if window is not None else back >= 0
'''},
    # the triangle aligned to the top-left corner (like torch's is_causal): wrong with a cache
    "window_top_left_aligned": {"sliding_window_mask": '''
def sliding_window_mask(t_q, t_k=None, window=None):
    t_k = t_q if t_k is None else t_k
    back = torch.arange(t_q)[:, None] - torch.arange(t_k)[None, :]
    return (back >= 0) & (back < window) if window is not None else back >= 0
'''},
    # the window looks forward: keys p ... p + window - 1 (the future) instead of p - window + 1 ... p
    "window_looks_forward": {"sliding_window_mask": '''
def sliding_window_mask(t_q, t_k=None, window=None):
    t_k = t_q if t_k is None else t_k
    ahead = torch.arange(t_k)[None, :] - torch.arange(t_q)[:, None] - (t_k - t_q)
    return (ahead >= 0) & (ahead < window) if window is not None else ahead <= 0
'''},
    # two triangle helpers instead of a comparison of positions: forbidden
    "window_uses_tril": {"sliding_window_mask": '''
def sliding_window_mask(t_q, t_k=None, window=None):
    t_k = t_q if t_k is None else t_k
    ones = torch.ones(t_q, t_k, dtype=torch.bool)
    m = ones.tril(diagonal=t_k - t_q)
    return m if window is None else m & ~ones.tril(diagonal=t_k - t_q - window)
'''},
    # padded on the right, as in the chapter: the real tokens taken to be the FIRST lengths[b]
    "padding_on_the_right": {"left_padding_mask": '''
def left_padding_mask(lengths, max_len):
    real = torch.arange(max_len)[None, :] < lengths[:, None]
    return real[:, None, None, :]
'''},
    # one padding position too many is visible
    "left_padding_off_by_one": {"left_padding_mask": '''
def left_padding_mask(lengths, max_len):
    real = torch.arange(max_len)[None, :] >= max_len - lengths[:, None] - 1
    return real[:, None, None, :]
'''},
    # the padding hides query rows instead of key columns
    "left_padding_on_queries": {"left_padding_mask": '''
def left_padding_mask(lengths, max_len):
    real = torch.arange(max_len)[None, :] >= max_len - lengths[:, None]
    return real[:, None, :, None]
'''},
    # combined with "or": a key is allowed if either mask allows it
    "masks_combined_with_or": {"left_padded_causal_mask": '''
def left_padded_causal_mask(lengths, max_len, window=None):
    return sliding_window_mask(max_len, window=window)[None, None] | left_padding_mask(lengths, max_len)
'''},
    # the window is not passed on: always plain causal
    "combined_mask_drops_window": {"left_padded_causal_mask": '''
def left_padded_causal_mask(lengths, max_len, window=None):
    return sliding_window_mask(max_len)[None, None] & left_padding_mask(lengths, max_len)
'''},
}

EXPECTED_ZERO: dict[str, list[str]] = {
    "attention_uses_fused_kernel": ["test_attention", "test_attention_hidden"],
    "window_uses_tril": ["test_sliding_window_mask", "test_sliding_window_mask_hidden"],
}

BOOK_COUNTERPARTS: dict[str, list[str]] = {
    "attention": ["scaled_dot_product_attention", "attend"],
    "sliding_window_mask": ["causal_mask"],
    "left_padding_mask": ["padding_mask"],
}
