"""Typical wrong answers to the Chapter 09 exercise; each must lose points (tests/test_exercises.py).

MUTANTS: mutant name → {grade id of a solution cell: the cell's code in that wrong answer}.
The other solution cells keep the correct answer, so each mutant tests one mistake.
EXPECTED_ZERO: mutant name → test cells that must score 0 (here: forbidden calls).
BOOK_COUNTERPARTS: graded function → the book's functions that do the same job under another name
(tests/test_copyproof.py pastes them as the answer; each paste must lose points). The book's
encoder is a method (``BERT.forward``), which a paste cannot call as a function.
"""

BOOK_COUNTERPARTS: dict[str, list[str]] = {
    "mask_for_mlm": ["mask_tokens"],
    "pool": ["mean_pool", "cls_pool"],
}

_MASK = '''
def mask_for_mlm(ids, attention_mask, protected, *, mask_id, vocab_size, rate=0.15, generator=None):
    if not 0 < rate <= 1:
        raise ValueError("rate")
    B, T = ids.shape
    prot = torch.tensor(sorted(set(protected)))
    cand = attention_mask.bool() & ~torch.isin(ids, prot)
    n = cand.sum(1)
    k = torch.tensor([max(1, round(rate * int(c))) if int(c) > 0 else 0 for c in n])
    r = torch.rand(B, T, generator=generator)
    r[~cand] = 5.0
    chosen = r.argsort(1).argsort(1) < k[:, None]
    u = torch.rand(B, T, generator=generator)
    allowed = torch.tensor([i for i in range(vocab_size) if i not in set(prot.tolist())])
    rnd = allowed[torch.randint(0, len(allowed), (B, T), generator=generator)]
    inputs = torch.where(chosen & (u < 0.8), torch.full_like(ids, mask_id), ids)
    inputs = torch.where(chosen & (u >= 0.8) & (u < 0.9), rnd, inputs)
    labels = torch.where(chosen, ids, torch.full_like(ids, -100))
    return inputs, labels, chosen
'''


def _mask(old: str, new: str) -> dict[str, str]:
    assert old in _MASK, old
    return {"mask_for_mlm": _MASK.replace(old, new)}


_ENCODE = '''
def encode_padded(ids, attention_mask, segments, tok_emb, seg_emb, pos_emb, emb_norm, blocks):
    T = ids.shape[1]
    keep = attention_mask.bool()
    x = tok_emb[ids] + seg_emb[segments] + pos_emb[torch.arange(T)]
    x = emb_norm(x)
    m = keep[:, None, None, :]
    for block in blocks:
        x = block(x, causal=False, mask=m)
    return x * keep[:, :, None]
'''


def _encode(old: str, new: str) -> dict[str, str]:
    assert old in _ENCODE, old
    return {"encode_padded": _ENCODE.replace(old, new)}


_POOL = '''
def pool(hidden, attention_mask, how="mean", normalize=False):
    keep = attention_mask.bool()
    w = keep.unsqueeze(-1).to(hidden.dtype)
    if how == "mean":
        out = (hidden * w).sum(1) / w.sum(1).clamp(min=1)
    elif how == "max":
        out = hidden.masked_fill(~keep.unsqueeze(-1), -float("inf")).amax(1)
        out = torch.where(keep.any(1, keepdim=True), out, torch.zeros_like(out))
    elif how == "cls":
        idx = keep.int().argmax(1)
        out = hidden[torch.arange(len(hidden)), idx] * keep.any(1, keepdim=True)
    else:
        raise ValueError(how)
    if normalize:
        out = F.normalize(out, dim=-1)
    return out
'''


def _pool(old: str, new: str) -> dict[str, str]:
    assert old in _POOL, old
    return {"pool": _POOL.replace(old, new)}


MUTANTS: dict[str, dict[str, str]] = {
    # -- masking --------------------------------------------------------------------------------
    # labels on every real token, not only the chosen ones: the loss would reward copying the input
    "mask_labels_kept_on_unmasked_tokens": _mask("labels = torch.where(chosen, ids, torch.full_like(ids, -100))",
                                                 "labels = torch.where(cand, ids, torch.full_like(ids, -100))"),
    # every chosen token becomes [MASK]: the model never learns to check tokens it can see
    "mask_always_mask_token": _mask("chosen & (u < 0.8)", "chosen"),
    # random replacements drawn from the whole vocabulary, special ids included
    "mask_random_from_special_ids": _mask("rnd = allowed[torch.randint(0, len(allowed), (B, T), generator=generator)]",
                                          "rnd = torch.randint(0, vocab_size, (B, T), generator=generator)"),
    # the choice inverted: the 85 % that should stay are corrupted
    "mask_inverted": _mask("chosen = r.argsort(1).argsort(1) < k[:, None]",
                           "chosen = (r.argsort(1).argsort(1) >= k[:, None]) & cand"),
    # padding not excluded: the attention mask is ignored
    "mask_chooses_padding": _mask("cand = attention_mask.bool() & ~torch.isin(ids, prot)",
                                  "cand = ~torch.isin(ids, prot)"),
    # protected ids excluded from the random draws but still chosen
    "mask_chooses_protected": _mask("cand = attention_mask.bool() & ~torch.isin(ids, prot)",
                                    "cand = attention_mask.bool()"),
    # each token chosen with probability rate (the chapter's rule), not an exact count per row
    "mask_bernoulli_count": _mask("chosen = r.argsort(1).argsort(1) < k[:, None]", "chosen = cand & (r < rate)"),
    # labels read from the corrupted inputs: [MASK] and random ids become the targets
    "mask_labels_from_inputs": _mask("labels = torch.where(chosen, ids, torch.full_like(ids, -100))",
                                     "labels = torch.where(chosen, inputs, torch.full_like(ids, -100))"),
    # the split reversed: 10 % [MASK], 80 % random
    "mask_10_80_split": _mask("inputs = torch.where(chosen & (u < 0.8), torch.full_like(ids, mask_id), ids)\n"
                              "    inputs = torch.where(chosen & (u >= 0.8) & (u < 0.9), rnd, inputs)",
                              "inputs = torch.where(chosen & (u < 0.1), torch.full_like(ids, mask_id), ids)\n"
                              "    inputs = torch.where(chosen & (u >= 0.1) & (u < 0.9), rnd, inputs)"),
    # the global random state instead of the generator: not reproducible from the seed
    "mask_ignores_generator": _mask("r = torch.rand(B, T, generator=generator)", "r = torch.rand(B, T)"),
    # the rate ignored: always 15 %
    "mask_fixed_rate": _mask("round(rate * int(c))", "round(0.15 * int(c))"),
    # the transformers library's data collator (forbidden), on the padded batch as it is
    "mask_uses_transformers": {"mask_for_mlm": '''
def mask_for_mlm(ids, attention_mask, protected, *, mask_id, vocab_size, rate=0.15, generator=None):
    from transformers import DataCollatorForLanguageModeling
    raise NotImplementedError("a collator needs a tokenizer")
'''},
    # -- the encoder ------------------------------------------------------------------------------
    # Block's default causal=True left on: a GPT, not BERT
    "encoder_causal_left_on": _encode("x = block(x, causal=False, mask=m)", "x = block(x, mask=m)"),
    # no padding mask: real tokens attend to the padding
    "encoder_no_padding_mask": _encode("x = block(x, causal=False, mask=m)", "x = block(x, causal=False)"),
    # the mask inverted: only padding keys visible
    "encoder_mask_inverted": _encode("m = keep[:, None, None, :]", "m = ~keep[:, None, None, :]"),
    # the mask on the queries instead of the keys: real queries still read padding keys
    "encoder_masks_queries": _encode("m = keep[:, None, None, :]", "m = keep[:, None, :, None]"),
    # the padding positions left as they come out of the blocks
    "encoder_padding_not_zeroed": _encode("return x * keep[:, :, None]", "return x"),
    # segment embeddings forgotten
    "encoder_no_segments": _encode("x = tok_emb[ids] + seg_emb[segments] + pos_emb[torch.arange(T)]",
                                   "x = tok_emb[ids] + pos_emb[torch.arange(T)]"),
    # the embedding LayerNorm skipped
    "encoder_no_embedding_norm": _encode("x = emb_norm(x)", "pass"),
    # positions counted from each row's first real token (a left-padded row shifts)
    "encoder_positions_from_first_real_token": _encode(
        "x = tok_emb[ids] + seg_emb[segments] + pos_emb[torch.arange(T)]",
        "x = tok_emb[ids] + seg_emb[segments] + pos_emb[(keep.long().cumsum(1) - 1).clamp(min=0)]"),
    # -- pooling ----------------------------------------------------------------------------------
    # the mean over all T positions, padding included
    "pool_mean_averages_padding": _pool("out = (hidden * w).sum(1) / w.sum(1).clamp(min=1)", "out = hidden.mean(1)"),
    # padding zeroed out of the sum but still counted
    "pool_mean_divides_by_T": _pool("out = (hidden * w).sum(1) / w.sum(1).clamp(min=1)",
                                    "out = (hidden * w).sum(1) / hidden.shape[1]"),
    # padding zeroed, then the max: 0 wins over negative values
    "pool_max_includes_padding": _pool('out = hidden.masked_fill(~keep.unsqueeze(-1), -float("inf")).amax(1)',
                                       "out = (hidden * w).amax(1)"),
    # [CLS] taken at index 0, wrong for left padding
    "pool_cls_at_index_0": _pool("out = hidden[torch.arange(len(hidden)), idx] * keep.any(1, keepdim=True)",
                                 "out = hidden[:, 0]"),
    # normalised across the batch instead of per vector
    "pool_normalize_wrong_dim": _pool("out = F.normalize(out, dim=-1)", "out = F.normalize(out, dim=0)"),
    # an empty row: 0 / 0
    "pool_empty_row_nan": _pool("out = (hidden * w).sum(1) / w.sum(1).clamp(min=1)",
                                "out = (hidden * w).sum(1) / w.sum(1)"),
}

EXPECTED_ZERO: dict[str, list[str]] = {
    "mask_uses_transformers": ["test_mask_for_mlm", "test_mask_for_mlm_hidden"],
}
