"""Typical wrong answers to the Chapter 07 exercise; each must lose points (tests/test_exercises.py).

MUTANTS: mutant name → {grade id of a solution cell: the cell's code in that wrong answer}.
The other solution cells keep the correct answer, so each mutant tests one mistake.
EXPECTED_ZERO: mutant name → test cells that must score 0 (here: forbidden calls).
"""

MUTANTS: dict[str, dict[str, str]] = {
    # the loss compares each position's logits with its own input token instead of the next one
    "loss_without_shifting_targets": {"gpt_forward_loss": '''
def gpt_forward_loss(ids, tok_emb, pos_emb, blocks, ln_f):
    if ids.shape[1] < 2:
        raise ValueError("need two tokens")
    x = ids[:, :-1]
    h = tok_emb[x] + pos_emb[:x.shape[1]]
    for block in blocks:
        h = block(h)
    logits = ln_f(h) @ tok_emb.T
    return logits, F.cross_entropy(logits.reshape(-1, logits.shape[-1]), x.reshape(-1))
'''},
    # no position embeddings: the model cannot tell the order of the tokens
    "forward_without_positions": {"gpt_forward_loss": '''
def gpt_forward_loss(ids, tok_emb, pos_emb, blocks, ln_f):
    if ids.shape[1] < 2:
        raise ValueError("need two tokens")
    x, y = ids[:, :-1], ids[:, 1:]
    h = tok_emb[x]
    for block in blocks:
        h = block(h)
    logits = ln_f(h) @ tok_emb.T
    return logits, F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
'''},
    # the final layer norm is left out before the tied head
    "forward_without_final_norm": {"gpt_forward_loss": '''
def gpt_forward_loss(ids, tok_emb, pos_emb, blocks, ln_f):
    if ids.shape[1] < 2:
        raise ValueError("need two tokens")
    x, y = ids[:, :-1], ids[:, 1:]
    h = tok_emb[x] + pos_emb[:x.shape[1]]
    for block in blocks:
        h = block(h)
    logits = h @ tok_emb.T
    return logits, F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
'''},
    # positions counted from 1: the targets' positions instead of the inputs'
    "forward_positions_from_one": {"gpt_forward_loss": '''
def gpt_forward_loss(ids, tok_emb, pos_emb, blocks, ln_f):
    if ids.shape[1] < 2:
        raise ValueError("need two tokens")
    x, y = ids[:, :-1], ids[:, 1:]
    h = tok_emb[x] + pos_emb[1:x.shape[1] + 1]
    for block in blocks:
        h = block(h)
    logits = ln_f(h) @ tok_emb.T
    return logits, F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
'''},
    # decides by name: everything except biases is decayed, so the layer-norm gains are too
    "groups_layer_norm_weights_decayed": {"decay_groups": '''
def decay_groups(model, weight_decay):
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    decay = [p for n, p in named if not n.endswith("bias")]
    no_decay = [p for n, p in named if n.endswith("bias")]
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
'''},
    # walks the modules without remembering tensors already seen: the tied matrix is listed twice
    "groups_tied_weight_twice": {"decay_groups": '''
def decay_groups(model, weight_decay):
    decay, no_decay = [], []
    for module in model.modules():
        for p in module.parameters(recurse=False):
            if p.requires_grad:
                (decay if p.dim() >= 2 else no_decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
'''},
    # the no-decay group has no weight_decay key: AdamW gives it its default, 0.01
    "groups_no_decay_key_missing": {"decay_groups": '''
def decay_groups(model, weight_decay):
    params = [p for p in model.parameters() if p.requires_grad]
    return [{"params": [p for p in params if p.dim() >= 2], "weight_decay": weight_decay},
            {"params": [p for p in params if p.dim() < 2]}]
'''},
    # frozen parameters are put into the groups too
    "groups_include_frozen": {"decay_groups": '''
def decay_groups(model, weight_decay):
    params = list(model.parameters())
    return [{"params": [p for p in params if p.dim() >= 2], "weight_decay": weight_decay},
            {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}]
'''},
    # the warmup is one step ahead: max_lr * (step + 1) / warmup_steps, not 0 at step 0
    "schedule_warmup_off_by_one": {"warmup_cosine_lr": '''
def warmup_cosine_lr(step, max_lr, min_lr, warmup_steps, total_steps):
    if step < warmup_steps:
        return max_lr * (step + 1) / warmup_steps
    if step >= total_steps:
        return min_lr
    p = (step - warmup_steps) / (total_steps - warmup_steps)
    return min_lr + (max_lr - min_lr) * 0.5 * (1 + math.cos(math.pi * p))
'''},
    # progress measured over total_steps instead of the decay steps: the cosine ends above min_lr
    "schedule_cosine_not_reaching_min_lr": {"warmup_cosine_lr": '''
def warmup_cosine_lr(step, max_lr, min_lr, warmup_steps, total_steps):
    if step < warmup_steps:
        return max_lr * step / warmup_steps
    if step >= total_steps:
        return min_lr
    p = (step - warmup_steps) / total_steps
    return min_lr + (max_lr - min_lr) * 0.5 * (1 + math.cos(math.pi * p))
'''},
    # no stop at total_steps: the cosine goes on and the learning rate rises again
    "schedule_continues_past_total_steps": {"warmup_cosine_lr": '''
def warmup_cosine_lr(step, max_lr, min_lr, warmup_steps, total_steps):
    if step < warmup_steps:
        return max_lr * step / warmup_steps
    p = (step - warmup_steps) / max(total_steps - warmup_steps, 1)
    return min_lr + (max_lr - min_lr) * 0.5 * (1 + math.cos(math.pi * p))
'''},
    # the cosine decays to 0 and ignores min_lr
    "schedule_ignores_min_lr": {"warmup_cosine_lr": '''
def warmup_cosine_lr(step, max_lr, min_lr, warmup_steps, total_steps):
    if step < warmup_steps:
        return max_lr * step / warmup_steps
    if step >= total_steps:
        return 0.0
    p = (step - warmup_steps) / (total_steps - warmup_steps)
    return max_lr * 0.5 * (1 + math.cos(math.pi * p))
'''},
    # the tied LM head counted as a second (V, C) matrix
    "count_tied_head_twice": {"count_gpt_parameters": '''
def count_gpt_parameters(config):
    C = config.d_model
    Fw = config.d_ff or 4 * C
    b = 1 if config.bias else 0
    block = 4 * C * C + 4 * C * b + 2 * C * Fw + (Fw + C) * b + 4 * C
    return 2 * config.vocab_size * C + config.block_size * C + config.n_layers * block + 2 * C
'''},
    # the final layer norm is forgotten
    "count_without_final_norm": {"count_gpt_parameters": '''
def count_gpt_parameters(config):
    C = config.d_model
    Fw = config.d_ff or 4 * C
    b = 1 if config.bias else 0
    block = 4 * C * C + 4 * C * b + 2 * C * Fw + (Fw + C) * b + 4 * C
    return config.vocab_size * C + config.block_size * C + config.n_layers * block
'''},
    # always 12 C^2 + 13 C per block: ignores d_ff and bias=False
    "count_ignores_d_ff_and_bias": {"count_gpt_parameters": '''
def count_gpt_parameters(config):
    C = config.d_model
    return (config.vocab_size + config.block_size) * C + config.n_layers * (12 * C * C + 13 * C) + 2 * C
'''},
    # asks the package's GPT (on the meta device) instead of writing the formula: forbidden
    "count_uses_package_gpt": {"count_gpt_parameters": '''
def count_gpt_parameters(config):
    from llmcourse.gpt import GPT, GPTConfig
    with torch.device("meta"):
        return GPT(GPTConfig(config.vocab_size, config.block_size, config.n_layers, config.n_heads,
                             config.d_model, config.d_ff, bias=config.bias)).num_parameters()
'''},
}

EXPECTED_ZERO: dict[str, list[str]] = {
    "count_uses_package_gpt": ["test_count_gpt_parameters", "test_count_gpt_parameters_hidden"],
}
