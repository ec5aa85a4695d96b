"""Typical wrong answers to the Chapter 10 exercise; each must lose points (tests/test_exercises.py).

MUTANTS: mutant name → {grade id of a solution cell: the cell's code in that wrong answer}.
The other solution cells keep the correct answer, so each mutant tests one mistake.
EXPECTED_ZERO: mutant name → test cells that must score 0 (here: forbidden calls).
BOOK_COUNTERPARTS: graded function → the book's functions that do the same job under another name
(tests/test_copyproof.py pastes them as the answer; each paste must lose points).
"""

BOOK_COUNTERPARTS: dict[str, list[str]] = {
    "cross_attention": ["scaled_dot_product_attention"],
    "shift_labels_right": ["shift_right"],
    "greedy_translate": ["translate"],
}

_CROSS = '''
def cross_attention(x, memory, memory_lengths, w_q, w_k, w_v, w_o, n_heads):
    B, T, C = x.shape
    S = memory.shape[1]
    D = C // n_heads

    def heads(h):
        return h.reshape(B, h.shape[1], n_heads, D).permute(0, 2, 1, 3)

    queries = heads(x @ w_q)
    keys = heads(memory @ w_k)
    values = heads(memory @ w_v)
    scores = torch.einsum("bhtd,bhsd->bhts", queries, keys) / math.sqrt(D)
    padding = torch.arange(S)[None, :] >= memory_lengths[:, None]
    scores = scores.masked_fill(padding[:, None, None, :], float("-inf"))
    weights = torch.softmax(scores, dim=-1)
    mixed = torch.einsum("bhts,bhsd->bthd", weights, values).reshape(B, T, C)
    return mixed @ w_o, weights
'''


def _cross(old: str, new: str) -> dict[str, str]:
    assert old in _CROSS, old
    return {"cross_attention": _CROSS.replace(old, new)}


_BLOCK = '''
def post_ln_decoder_block(x, memory, memory_mask, block):
    attended = block.self_attn(x, causal=True)
    h = block.ln1(x + attended)
    read = block.cross_attn(h, memory, memory_mask)
    h = block.ln2(h + read)
    return block.ln3(h + block.mlp(h))
'''


def _block(old: str, new: str) -> dict[str, str]:
    assert old in _BLOCK, old
    return {"post_ln_decoder_block": _BLOCK.replace(old, new)}


_SHIFT = '''
def shift_labels_right(labels, start_id, pad_id):
    inputs = labels.new_full(labels.shape, start_id)
    inputs[:, 1:] = labels[:, :-1]
    inputs[inputs == -100] = pad_id
    return inputs
'''


def _shift(old: str, new: str) -> dict[str, str]:
    assert old in _SHIFT, old
    return {"shift_labels_right": _SHIFT.replace(old, new)}


_GREEDY = '''
def greedy_translate(model, src, max_len, bos_id, eos_id, pad_id):
    memory, memory_mask = model.encode(src)
    batch = src.shape[0]
    ids = torch.full((batch, 1), bos_id, dtype=torch.long)
    finished = torch.zeros(batch, dtype=torch.bool)
    for _ in range(max_len):
        logits = model.decode(ids, memory, memory_mask)
        choice = logits[:, -1, :].argmax(dim=-1)
        choice = torch.where(finished, torch.full_like(choice, pad_id), choice)
        finished = finished | (choice == eos_id)
        ids = torch.cat([ids, choice[:, None]], dim=1)
        if bool(finished.all()):
            break
    return ids[:, 1:]
'''


def _greedy(old: str, new: str) -> dict[str, str]:
    assert old in _GREEDY, old
    return {"greedy_translate": _GREEDY.replace(old, new)}


MUTANTS: dict[str, dict[str, str]] = {
    # keys from the decoder's states: a second self-attention (and T != S no longer fits)
    "cross_keys_from_decoder": _cross("keys = heads(memory @ w_k)", "keys = heads(x @ w_k)"),
    # queries from the encoder: the rows are source positions, not target positions
    "cross_queries_from_memory": _cross("queries = heads(x @ w_q)", "queries = heads(memory @ w_q)"),
    # values from the decoder, keys from the encoder
    "cross_values_from_decoder": _cross("values = heads(memory @ w_v)", "values = heads(x @ w_v)"),
    # the source's padding is attended to like real tokens
    "cross_no_memory_mask": _cross("scores = scores.masked_fill(padding[:, None, None, :], float(\"-inf\"))", "pass"),
    # the mask turned around: the real positions are hidden, the padding kept
    "cross_mask_inverted": _cross(">= memory_lengths[:, None]", "< memory_lengths[:, None]"),
    # off by one: the last real position is hidden too
    "cross_mask_off_by_one": _cross(">= memory_lengths[:, None]", ">= memory_lengths[:, None] - 1"),
    # padding zeroed after the softmax: the real weights no longer sum to 1
    "cross_mask_after_softmax": _cross(
        "scores = scores.masked_fill(padding[:, None, None, :], float(\"-inf\"))\n"
        "    weights = torch.softmax(scores, dim=-1)",
        "weights = torch.softmax(scores, dim=-1).masked_fill(padding[:, None, None, :], 0.0)"),
    # no 1/sqrt(D): the softmax is too sharp
    "cross_no_scale": _cross(" / math.sqrt(D)", ""),
    # scaled by the model width C instead of one head's D
    "cross_scale_by_model_width": _cross("math.sqrt(D)", "math.sqrt(C)"),
    # softmax over the queries instead of the source positions
    "cross_softmax_over_queries": _cross("torch.softmax(scores, dim=-1)", "torch.softmax(scores, dim=-2)"),
    # heads read straight off the memory layout, without moving the heads before the positions
    "cross_heads_without_transpose": _cross("return h.reshape(B, h.shape[1], n_heads, D).permute(0, 2, 1, 3)",
                                            "return h.reshape(B, n_heads, h.shape[1], D)"),
    # the output projection forgotten
    "cross_no_output_projection": _cross("return mixed @ w_o, weights", "return mixed, weights"),
    # PyTorch's ready-made attention: forbidden
    "cross_uses_torch_sdpa": _cross(
        "scores = torch.einsum(\"bhtd,bhsd->bhts\", queries, keys) / math.sqrt(D)",
        "scores = torch.einsum(\"bhtd,bhsd->bhts\", queries, keys) / math.sqrt(D)\n"
        "    _ = torch.nn.functional.scaled_dot_product_attention(queries, keys, values)"),
    # no causal mask in the decoder's self-attention: positions read the target's future
    "block_self_attention_not_causal": _block("block.self_attn(x, causal=True)", "block.self_attn(x)"),
    # cross-attention without the source's padding mask
    "block_cross_attention_without_mask": _block("block.cross_attn(h, memory, memory_mask)",
                                                 "block.cross_attn(h, memory)"),
    # the chapter's pre-LN block instead of the original post-LN one
    "block_pre_ln": {"post_ln_decoder_block": '''
def post_ln_decoder_block(x, memory, memory_mask, block):
    x = x + block.self_attn(block.ln1(x), causal=True)
    x = x + block.cross_attn(block.ln2(x), memory, memory_mask)
    return x + block.mlp(block.ln3(x))
'''},
    # cross-attention before self-attention
    "block_cross_before_self": {"post_ln_decoder_block": '''
def post_ln_decoder_block(x, memory, memory_mask, block):
    h = block.ln1(x + block.cross_attn(x, memory, memory_mask))
    h = block.ln2(h + block.self_attn(h, causal=True))
    return block.ln3(h + block.mlp(h))
'''},
    # the residual connection of the feed-forward sublayer forgotten
    "block_no_ffn_residual": _block("return block.ln3(h + block.mlp(h))", "return block.ln3(block.mlp(h))"),
    # shift-right dropping the first label instead of the last
    "shift_drops_first_token": _shift("inputs[:, 1:] = labels[:, :-1]", "inputs[:, 1:] = labels[:, 1:]"),
    # -100 left in the decoder's input
    "shift_keeps_minus_100": _shift("inputs[inputs == -100] = pad_id\n", ""),
    # the labels changed in place (the loss then sees pad ids instead of -100)
    "shift_modifies_labels": _shift("inputs = labels.new_full(labels.shape, start_id)",
                                    "labels[labels == -100] = pad_id\n"
                                    "    inputs = labels.new_full(labels.shape, start_id)"),
    # shifted to the left: the start token at the end
    "shift_to_the_left": {"shift_labels_right": '''
def shift_labels_right(labels, start_id, pad_id):
    inputs = torch.cat([labels[:, 1:], torch.full_like(labels[:, :1], start_id)], dim=1)
    return inputs.masked_fill(inputs == -100, pad_id)
'''},
    # a row that has written <eos> goes on writing the model's choices
    "greedy_eos_does_not_stop_a_row": _greedy(
        "choice = torch.where(finished, torch.full_like(choice, pad_id), choice)\n", ""),
    # finished rows continue with <eos> (as decoding.generate does), not with padding
    "greedy_pads_with_eos": _greedy("torch.full_like(choice, pad_id)", "torch.full_like(choice, eos_id)"),
    # always max_len steps, even when every row has finished
    "greedy_no_early_stop": _greedy("        if bool(finished.all()):\n            break\n", ""),
    # stops as soon as one row has finished
    "greedy_stops_at_first_eos": _greedy("if bool(finished.all()):", "if bool(finished.any()):"),
    # the <eos> itself replaced by padding
    "greedy_drops_eos": _greedy("choice = torch.where(finished, torch.full_like(choice, pad_id), choice)\n"
                                "        finished = finished | (choice == eos_id)",
                                "finished = finished | (choice == eos_id)\n"
                                "        choice = torch.where(finished, torch.full_like(choice, pad_id), choice)"),
    # <bos> returned with the translation
    "greedy_returns_bos": _greedy("return ids[:, 1:]", "return ids"),
    # the logits of the first position every step
    "greedy_reads_first_position": _greedy("logits[:, -1, :]", "logits[:, 0, :]"),
    # Chapter 08's generate on a wrapper: forbidden
    "greedy_uses_package_generate": {"greedy_translate": '''
def greedy_translate(model, src, max_len, bos_id, eos_id, pad_id):
    from llmcourse import decoding

    memory, memory_mask = model.encode(src)

    class Wrapped(torch.nn.Module):
        def forward(self, ids):
            return model.decode(ids, memory, memory_mask)

    out = decoding.generate(Wrapped(), torch.full((src.shape[0], 1), bos_id), max_len, temperature=0,
                            stop_token=eos_id, use_cache=False)[:, 1:]
    after = (out == eos_id).long().cumsum(dim=1) - (out == eos_id).long()
    return out.masked_fill(after > 0, pad_id)
'''},
}

EXPECTED_ZERO: dict[str, list[str]] = {
    "cross_uses_torch_sdpa": ["test_cross_attention", "test_cross_attention_hidden"],
    "greedy_uses_package_generate": ["test_greedy_translate", "test_greedy_translate_hidden"],
}
