"""Typical wrong answers to the Chapter 07 exercise; each must lose points (tests/test_exercises.py).

MUTANTS: mutant name → {grade id of a solution cell: the cell's code in that wrong answer}.
The other solution cells keep the correct answer, so each mutant tests one mistake.
EXPECTED_ZERO: mutant name → test cells that must score 0 (here: forbidden calls).
BOOK_COUNTERPARTS: graded function → the book's functions that do the same job under another name
(tests/test_copyproof.py pastes them as the answer; each paste must lose points). ``GPT.forward``,
the counterpart of ``gpt_forward_loss``, is a method: it is not pasted, and the exercise asks for
what it does not do (the shift, the loss, padded rows).
"""

BOOK_COUNTERPARTS: dict[str, list[str]] = {
    "gpt_forward_loss": ["forward"],
    "decay_groups": ["param_groups"],
    "warmup_stable_decay_lr": ["lr_schedule"],
    "count_gpt_parameters": ["count_parameters"],
}

_FORWARD = '''
def gpt_forward_loss(ids, lengths, tok_emb, pos_emb, blocks, ln_f):
    N = ids.shape[1]
    if N < 2 or bool((lengths < 2).any()) or bool((lengths > N).any()):
        raise ValueError("bad lengths")
    x, y = ids[:, :-1], ids[:, 1:]
    h = tok_emb[x] + pos_emb[:N - 1]
    for block in blocks:
        h = block(h)
    logits = ln_f(h) @ tok_emb.T
    nll = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1), reduction="none").view(y.shape)
    real = torch.arange(1, N)[None, :] < lengths[:, None]
    return logits, (nll * real).sum() / real.sum()
'''


def _forward(old: str, new: str) -> dict[str, str]:
    assert old in _FORWARD, old
    return {"gpt_forward_loss": _FORWARD.replace(old, new)}


_GROUPS = '''
def decay_groups(model, weight_decay):
    linear = {id(m.weight) for m in model.modules() if isinstance(m, torch.nn.Linear)}
    tables = {id(m.weight) for m in model.modules() if isinstance(m, torch.nn.Embedding)}
    params = [p for p in model.parameters() if p.requires_grad]
    decay = [p for p in params if id(p) in linear and id(p) not in tables]
    no_decay = [p for p in params if not (id(p) in linear and id(p) not in tables)]
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
'''


def _groups(old: str, new: str) -> dict[str, str]:
    assert old in _GROUPS, old
    return {"decay_groups": _GROUPS.replace(old, new)}


_SCHEDULE = '''
def warmup_stable_decay_lr(step, max_lr, min_lr, warmup_steps, decay_steps, total_steps):
    if warmup_steps + decay_steps > total_steps:
        raise ValueError("does not fit")
    start = total_steps - decay_steps
    if step < warmup_steps:
        return max_lr * step / warmup_steps
    if step >= total_steps:
        return min_lr
    if step < start:
        return max_lr
    return max_lr - (max_lr - min_lr) * (step - start) / decay_steps
'''


def _schedule(old: str, new: str) -> dict[str, str]:
    assert old in _SCHEDULE, old
    return {"warmup_stable_decay_lr": _SCHEDULE.replace(old, new)}


_COUNT = '''
def count_gpt_parameters(config, tied=True):
    C, V = config.d_model, config.vocab_size
    Fw = config.d_ff or 4 * C
    b = 1 if config.bias else 0
    matrices = config.n_layers * (4 * C * C + 2 * C * Fw)
    vectors = config.n_layers * ((4 * C + Fw + C) * b + 4 * C) + 2 * C
    head = 0 if tied else V * C
    return {"decay": matrices + head, "no_decay": (V + config.block_size) * C + vectors}
'''


def _count(old: str, new: str) -> dict[str, str]:
    assert old in _COUNT, old
    return {"count_gpt_parameters": _COUNT.replace(old, new)}


MUTANTS: dict[str, dict[str, str]] = {
    # the filler is averaged in: the mean over every position of the batch
    "loss_includes_padding": _forward("(nll * real).sum() / real.sum()", "nll.mean()"),
    # each row's own mean, then the mean of the rows: a short row weighs as much as a long one
    "loss_mean_of_row_means": _forward("(nll * real).sum() / real.sum()",
                                       "((nll * real).sum(1) / real.sum(1)).mean()"),
    # off by one: counts position t while t < length, so the first filler target is counted too
    "loss_mask_counts_first_filler": _forward("torch.arange(1, N)[None, :] < lengths[:, None]",
                                              "torch.arange(0, N - 1)[None, :] < lengths[:, None]"),
    # the loss compares each position's logits with its own input token instead of the next one
    "loss_without_shifting_targets": _forward("x, y = ids[:, :-1], ids[:, 1:]", "x, y = ids[:, :-1], ids[:, :-1]"),
    # no position embeddings: the model cannot tell the order of the tokens
    "forward_without_positions": _forward("h = tok_emb[x] + pos_emb[:N - 1]", "h = tok_emb[x]"),
    # the final layer norm is left out before the tied head
    "forward_without_final_norm": _forward("logits = ln_f(h) @ tok_emb.T", "logits = h @ tok_emb.T"),
    # positions counted from 1: the targets' positions instead of the inputs'
    "forward_positions_from_one": _forward("pos_emb[:N - 1]", "pos_emb[1:N]"),
    # lengths are not checked: a row with one token (nothing to predict) passes silently
    "forward_lengths_unchecked": _forward(
        "if N < 2 or bool((lengths < 2).any()) or bool((lengths > N).any()):", "if N < 2:"),
    # the chapter's rule (p.dim() >= 2): embedding tables, and the tied head with them, are decayed
    "groups_by_dimension": _groups(
        "decay = [p for p in params if id(p) in linear and id(p) not in tables]\n"
        "    no_decay = [p for p in params if not (id(p) in linear and id(p) not in tables)]",
        "decay = [p for p in params if p.dim() >= 2]\n    no_decay = [p for p in params if p.dim() < 2]"),
    # every Linear weight decays, the tied head's too: the token table ends up decayed
    "groups_tied_head_decayed": _groups("id(p) in linear and id(p) not in tables", "id(p) in linear"),
    # walks the modules without remembering tensors already seen: the tied table is listed twice
    "groups_tied_table_twice": {"decay_groups": '''
def decay_groups(model, weight_decay):
    decay, no_decay = [], []
    for module in model.modules():
        for name, p in module.named_parameters(recurse=False):
            if not p.requires_grad:
                continue
            if isinstance(module, torch.nn.Linear) and name == "weight" and not any(
                    isinstance(m, torch.nn.Embedding) and m.weight is p for m in model.modules()):
                decay.append(p)
            else:
                no_decay.append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
'''},
    # the no-decay group has no weight_decay key: AdamW gives it its default, 0.01
    "groups_no_decay_key_missing": _groups('{"params": no_decay, "weight_decay": 0.0}', '{"params": no_decay}'),
    # frozen parameters are put into the groups too
    "groups_include_frozen": _groups("if p.requires_grad]", "]"),
    # the warmup is one step ahead: max_lr * (step + 1) / warmup_steps, not 0 at step 0
    "schedule_warmup_off_by_one": _schedule("max_lr * step / warmup_steps", "max_lr * (step + 1) / warmup_steps"),
    # no stable phase: the linear decay runs from the end of the warmup to total_steps
    "schedule_decay_from_end_of_warmup": _schedule("start = total_steps - decay_steps", "start = warmup_steps"),
    # the decay starts one step late (at S + 1) and jumps down to min_lr at total_steps
    "schedule_decay_one_step_late": _schedule("(step - start) / decay_steps", "max(step - start - 1, 0) / decay_steps"),
    # the decay ignores min_lr and heads for 0
    "schedule_decays_to_zero": _schedule("(max_lr - min_lr) * (step - start)", "max_lr * (step - start)"),
    # no stop at total_steps: the ramp goes on below min_lr
    "schedule_continues_past_total_steps": _schedule(
        "    if step >= total_steps:\n        return min_lr\n", ""),
    # a decay longer than the run is not refused
    "schedule_accepts_overlong_decay": _schedule('raise ValueError("does not fit")', "pass"),
    # writes the phases with numpy's piecewise-linear interpolation: forbidden
    "schedule_uses_numpy_interp": {"warmup_stable_decay_lr": '''
def warmup_stable_decay_lr(step, max_lr, min_lr, warmup_steps, decay_steps, total_steps):
    import numpy as np
    if warmup_steps + decay_steps > total_steps:
        raise ValueError("does not fit")
    if step >= total_steps:
        return min_lr
    if step >= warmup_steps and step < total_steps - decay_steps:
        return max_lr
    return float(np.interp(step, [0, warmup_steps, total_steps - decay_steps, total_steps],
                           [0.0, max_lr, max_lr, min_lr]))
'''},
    # the tied head counted as a second (V, C) matrix, in the decay group
    "count_tied_head_decayed": _count("head = 0 if tied else V * C", "head = V * C"),
    # the chapter's rule: the embedding tables counted as decayed
    "count_tables_decayed": _count(
        'return {"decay": matrices + head, "no_decay": (V + config.block_size) * C + vectors}',
        'return {"decay": matrices + head + (V + config.block_size) * C, "no_decay": vectors}'),
    # the biases counted with their matrices, in the decay group
    "count_biases_decayed": _count("vectors = config.n_layers * ((4 * C + Fw + C) * b + 4 * C) + 2 * C",
                                   "matrices += config.n_layers * (4 * C + Fw + C) * b\n"
                                   "    vectors = config.n_layers * 4 * C + 2 * C"),
    # the final layer norm is forgotten
    "count_without_final_norm": _count("* b + 4 * C) + 2 * C", "* b + 4 * C)"),
    # always F = 4C and biases: ignores d_ff and bias=False
    "count_ignores_d_ff_and_bias": _count("Fw = config.d_ff or 4 * C\n    b = 1 if config.bias else 0",
                                          "Fw = 4 * C\n    b = 1"),
    # asks the package's GPT (on the meta device) instead of writing the formula: forbidden
    "count_uses_package_gpt": {"count_gpt_parameters": '''
def count_gpt_parameters(config, tied=True):
    from llmcourse.gpt import GPT, GPTConfig
    with torch.device("meta"):
        model = GPT(GPTConfig(config.vocab_size, config.block_size, config.n_layers, config.n_heads,
                              config.d_model, config.d_ff, bias=config.bias))
    total = model.num_parameters()
    decay = sum(p.numel() for n, p in model.named_parameters() if n.endswith(("qkv.weight", "proj.weight", "fc.weight")))
    head = 0 if tied else config.vocab_size * config.d_model
    return {"decay": decay + head, "no_decay": total - decay}
'''},
}

EXPECTED_ZERO: dict[str, list[str]] = {
    "schedule_uses_numpy_interp": ["test_warmup_stable_decay_lr", "test_warmup_stable_decay_lr_hidden"],
    "count_uses_package_gpt": ["test_count_gpt_parameters", "test_count_gpt_parameters_hidden"],
}
