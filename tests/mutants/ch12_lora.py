"""Typical wrong answers to the Chapter 12 exercise; each must lose points (tests/test_exercises.py).

MUTANTS: mutant name → {grade id of a solution cell: the cell's code in that wrong answer}.
The other solution cells keep the correct answer, so each mutant tests one mistake.
EXPECTED_ZERO: mutant name → test cells that must score 0 (here: forbidden calls).
BOOK_COUNTERPARTS: graded function → the book's functions that do the same job under another name
(tests/test_copyproof.py pastes them as the answer; each paste must lose points).
"""

BOOK_COUNTERPARTS: dict[str, list[str]] = {
    "qv_lora_forward": ["lora_scaling"],
    "merge_qv": ["merge_lora", "merge_and_unload"],
    "add_qv_adapters": ["inject_lora"],
    "largest_rank": ["lora_parameters"],
}

_FORWARD = '''
def qv_lora_forward(x, weight, bias, A_q, B_q, A_v, B_v, alpha):
    r = A_q.shape[0]
    s = alpha / r
    y = x @ weight.T
    if bias is not None:
        y = y + bias
    C = weight.shape[1]
    dq = s * (x @ A_q.T) @ B_q.T
    dv = s * (x @ A_v.T) @ B_v.T
    return torch.cat([y[..., :C] + dq, y[..., C:2 * C], y[..., 2 * C:] + dv], dim=-1)
'''


def _forward(old: str, new: str) -> dict[str, str]:
    assert old in _FORWARD, old
    return {"qv_lora_forward": _FORWARD.replace(old, new)}


_MERGE = '''
def merge_qv(weight, A_q, B_q, A_v, B_v, alpha):
    C = weight.shape[1]
    s = alpha / A_q.shape[0]
    merged = weight.clone()
    merged[:C] += s * B_q @ A_q
    merged[2 * C:] += s * B_v @ A_v
    return merged
'''


def _merge(old: str, new: str) -> dict[str, str]:
    assert old in _MERGE, old
    return {"merge_qv": _MERGE.replace(old, new)}


_ADAPTERS = '''
def add_qv_adapters(model, r, blocks=None, seed=0):
    if r < 1:
        raise ValueError("r must be at least 1")
    n = len(model.blocks)
    chosen = list(range(n)) if blocks is None else sorted(blocks)
    if any(i < 0 or i >= n for i in chosen):
        raise ValueError("no such block")
    for p in model.parameters():
        p.requires_grad = False
    g = torch.Generator().manual_seed(seed)
    out = {}
    for i in chosen:
        W = model.blocks[i].attn.qkv.weight
        C = W.shape[1]
        A_q = torch.empty(r, C, dtype=W.dtype)
        nn.init.kaiming_uniform_(A_q, a=math.sqrt(5), generator=g)
        A_v = torch.empty(r, C, dtype=W.dtype)
        nn.init.kaiming_uniform_(A_v, a=math.sqrt(5), generator=g)
        B_q = torch.zeros(C, r, dtype=W.dtype)
        B_v = torch.zeros(C, r, dtype=W.dtype)
        out[f"blocks.{i}.attn.qkv"] = {"A_q": A_q.requires_grad_(), "B_q": B_q.requires_grad_(),
                                       "A_v": A_v.requires_grad_(), "B_v": B_v.requires_grad_()}
    return out
'''


def _adapters(old: str, new: str) -> dict[str, str]:
    assert old in _ADAPTERS, old
    return {"add_qv_adapters": _ADAPTERS.replace(old, new)}


_RANK = '''
def largest_rank(shapes, base_params, budget):
    if not shapes or base_params < 1 or not 0 < budget < 1:
        raise ValueError("bad arguments")
    S = sum(d + k for d, k in shapes)
    r = 0
    while (r + 1) * S <= budget * (base_params + (r + 1) * S):
        r += 1
    return r
'''


def _rank(old: str, new: str) -> dict[str, str]:
    assert old in _RANK, old
    return {"largest_rank": _RANK.replace(old, new)}


MUTANTS: dict[str, dict[str, str]] = {
    # the scale upside down: r / alpha instead of alpha / r
    "forward_r_over_alpha": _forward("s = alpha / r", "s = r / alpha"),
    # no division by the rank: the scale is alpha
    "forward_scale_alpha": _forward("s = alpha / r", "s = alpha"),
    # rsLoRA's alpha / sqrt(r) where the exercise asks for alpha / r
    "forward_rslora_scale": _forward("s = alpha / r", "s = alpha / r ** 0.5"),
    # the scale forgotten altogether
    "forward_no_scale": _forward("s = alpha / r", "s = 1.0"),
    # the value update lands on the key part
    "forward_v_on_keys": _forward("y[..., C:2 * C], y[..., 2 * C:] + dv", "y[..., C:2 * C] + dv, y[..., 2 * C:]"),
    # the query update is added to every part
    "forward_q_everywhere": _forward(
        "return torch.cat([y[..., :C] + dq, y[..., C:2 * C], y[..., 2 * C:] + dv], dim=-1)",
        "return torch.cat([y[..., :C] + dq, y[..., C:2 * C] + dq, y[..., 2 * C:] + dq], dim=-1)"),
    # the bias dropped
    "forward_no_bias": _forward("        y = y + bias\n", "        pass\n"),
    # the update transposed: x (B A) instead of x (B A)^T
    "forward_transposed_update": _forward("dq = s * (x @ A_q.T) @ B_q.T", "dq = s * x @ (B_q @ A_q)"),
    # merging without the scale
    "merge_without_scale": _merge("s = alpha / A_q.shape[0]", "s = 1.0"),
    # merging with r / alpha
    "merge_r_over_alpha": _merge("s = alpha / A_q.shape[0]", "s = A_q.shape[0] / alpha"),
    # merging in place: the caller's weight changes
    "merge_in_place": _merge("merged = weight.clone()", "merged = weight"),
    # the value update merged into the key rows
    "merge_v_into_keys": _merge("merged[2 * C:] += s * B_v @ A_v", "merged[C:2 * C] += s * B_v @ A_v"),
    # the update transposed
    "merge_transposed": _merge("merged[:C] += s * B_q @ A_q", "merged[:C] += s * (B_q @ A_q).T"),
    # B drawn at random like A: the adapted model no longer starts at the pretrained one
    "adapters_B_random": _adapters(
        "        B_q = torch.zeros(C, r, dtype=W.dtype)\n        B_v = torch.zeros(C, r, dtype=W.dtype)\n",
        "        B_q = torch.empty(C, r, dtype=W.dtype)\n"
        "        nn.init.kaiming_uniform_(B_q, a=math.sqrt(5), generator=g)\n"
        "        B_v = torch.empty(C, r, dtype=W.dtype)\n"
        "        nn.init.kaiming_uniform_(B_v, a=math.sqrt(5), generator=g)\n"),
    # the base model left trainable: nothing is frozen
    "adapters_base_trainable": _adapters("    for p in model.parameters():\n        p.requires_grad = False\n", ""),
    # only the qkv weights frozen, the rest of the model left trainable
    "adapters_freeze_qkv_only": _adapters(
        "    for p in model.parameters():\n        p.requires_grad = False\n",
        "    for b in model.blocks:\n        b.attn.qkv.weight.requires_grad = False\n"),
    # A drawn from a standard normal: far too large for a 1/sqrt(C) layer
    "adapters_A_normal": _adapters("        nn.init.kaiming_uniform_(A_q, a=math.sqrt(5), generator=g)\n",
                                   "        A_q.normal_(generator=g)\n"),
    # A at zero and B at zero: no gradient ever reaches either
    "adapters_A_zero": _adapters("        nn.init.kaiming_uniform_(A_v, a=math.sqrt(5), generator=g)\n",
                                 "        A_v.zero_()\n"),
    # the seed ignored: torch's global generator
    "adapters_ignore_seed": _adapters("g = torch.Generator().manual_seed(seed)", "g = None"),
    # blocks ignored: every block adapted
    "adapters_ignore_blocks": _adapters("chosen = list(range(n)) if blocks is None else sorted(blocks)",
                                        "chosen = list(range(n))"),
    # no check of the block indices: -1 silently means the last block
    "adapters_no_index_check": _adapters("    if any(i < 0 or i >= n for i in chosen):\n"
                                         "        raise ValueError(\"no such block\")\n",
                                         "    chosen = [i % n for i in chosen]\n"),
    # adapters that do not require gradients: nothing would train
    "adapters_not_trainable": _adapters('out[f"blocks.{i}.attn.qkv"] = {"A_q": A_q.requires_grad_(), '
                                        '"B_q": B_q.requires_grad_(),',
                                        'out[f"blocks.{i}.attn.qkv"] = {"A_q": A_q, "B_q": B_q,'),
    # the trainable share counted against the base model only
    "rank_share_of_base": _rank("budget * (base_params + (r + 1) * S)", "budget * base_params"),
    # each matrix counted as d * k numbers, as in full fine-tuning
    "rank_counts_products": _rank("S = sum(d + k for d, k in shapes)", "S = sum(d * k for d, k in shapes)"),
    # one too many: the first rank over the budget
    "rank_one_too_many": _rank("    return r\n", "    return r + 1\n"),
    # a square-matrix formula: 2 d per matrix
    "rank_square_formula": _rank("S = sum(d + k for d, k in shapes)", "S = sum(2 * d for d, k in shapes)"),
    # the package's injection, imported instead of written: forbidden
    "adapters_use_package": {"add_qv_adapters": '''
def add_qv_adapters(model, r, blocks=None, seed=0):
    from llmcourse.lora import inject_lora
    names = inject_lora(model, ["qkv"], r=r, alpha=r, seed=seed)
    out = {}
    for name in names:
        layer = model.get_submodule(name)
        out[name] = {"A_q": layer.lora_A, "B_q": layer.lora_B, "A_v": layer.lora_A, "B_v": layer.lora_B}
    return out
'''},
}

EXPECTED_ZERO: dict[str, list[str]] = {
    "adapters_use_package": ["test_add_qv_adapters", "test_add_qv_adapters_hidden"],
}
