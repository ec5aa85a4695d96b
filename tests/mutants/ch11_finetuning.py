"""Typical wrong answers to the Chapter 11 exercise; each must lose points (tests/test_exercises.py).

MUTANTS: mutant name → {grade id of a solution cell: the cell's code in that wrong answer}.
The other solution cells keep the correct answer, so each mutant tests one mistake.
EXPECTED_ZERO: mutant name → test cells that must score 0 (here: forbidden calls).
BOOK_COUNTERPARTS: graded function → the book's functions that do the same job under another name
(tests/test_copyproof.py pastes them as the answer; each paste must lose points). The book's
``finetune_step`` is found by its own name.
"""

BOOK_COUNTERPARTS: dict[str, list[str]] = {
    "freeze_matching": ["freeze"],
    "answer_targets": ["encode_examples"],
    "finetune_step": ["answer_loss"],
}

_FREEZE = '''
def freeze_matching(model, patterns):
    if isinstance(patterns, str):
        raise ValueError("a string is not a list of patterns")
    count = 0
    for name, p in model.named_parameters():
        hit = any(fnmatch.fnmatchcase(name, pat) for pat in patterns)
        p.requires_grad_(not hit)
        if hit:
            count += p.numel()
    return count
'''


def _freeze(old: str, new: str) -> dict[str, str]:
    assert old in _FREEZE, old
    return {"freeze_matching": _FREEZE.replace(old, new)}


_TARGETS = '''
def answer_targets(ids, prompt_lengths, lengths):
    B, T = ids.shape
    if bool((prompt_lengths < 1).any() | (prompt_lengths > lengths).any() | (lengths > T).any()):
        raise ValueError("need 1 <= prompt_lengths <= lengths <= T")
    nxt = torch.arange(T)[None, :] + 1
    keep = (nxt >= prompt_lengths[:, None]) & (nxt < lengths[:, None])
    shifted = torch.cat([ids[:, 1:], ids[:, :1]], dim=1)
    return torch.where(keep, shifted, torch.full_like(ids, -100)).long()
'''


def _targets(old: str, new: str) -> dict[str, str]:
    assert old in _TARGETS, old
    return {"answer_targets": _TARGETS.replace(old, new)}


_STEP = '''
def finetune_step(model, optimizer, ids, targets, max_norm=None):
    mask = targets != -100
    n = mask.sum(dim=1)
    if not bool((n > 0).any()):
        raise ValueError("nothing to learn")
    optimizer.zero_grad()
    logits = model(ids)
    nats = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=-100,
                           reduction="none").view(targets.shape)
    loss = (nats.sum(dim=1)[n > 0] / n[n > 0]).mean()
    loss.backward()
    if max_norm is not None:
        torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)
    optimizer.step()
    return loss.item()
'''


def _step(old: str, new: str) -> dict[str, str]:
    assert old in _STEP, old
    return {"finetune_step": _STEP.replace(old, new)}


MUTANTS: dict[str, dict[str, str]] = {
    # a pattern is looked for anywhere in the name, as a substring: "*.bias" matches nothing
    "freeze_substring_match": _freeze("fnmatch.fnmatchcase(name, pat)", "pat in name"),
    # the pattern may match anywhere inside the name ("ln1.*" catches every block's ln1)
    "freeze_glob_anywhere": _freeze("fnmatch.fnmatchcase(name, pat)", "fnmatch.fnmatchcase(name, '*' + pat)"),
    # the chapter's rule: a name prefix (the pattern's wildcards stripped), not a glob
    "freeze_prefix_match": _freeze("fnmatch.fnmatchcase(name, pat)", "name.startswith(pat.rstrip('*'))"),
    # the pattern read as a regular expression: '.' is any character, block 1 catches block 10
    "freeze_regex_match": _freeze("fnmatch.fnmatchcase(name, pat)",
                                  "__import__('re').fullmatch(pat.replace('*', '.*').replace('?', '.'), name)"),
    # only the first pattern is used
    "freeze_first_pattern_only": _freeze("any(fnmatch.fnmatchcase(name, pat) for pat in patterns)",
                                         "bool(patterns) and fnmatch.fnmatchcase(name, patterns[0])"),
    # freezes the matches but never makes the others trainable again
    "freeze_never_unfreezes": _freeze("p.requires_grad_(not hit)", "if hit:\n            p.requires_grad_(False)"),
    # requires_grad changed on a detached copy: nothing is frozen, the count is right
    "freeze_on_a_copy": _freeze("p.requires_grad_(not hit)", "p.detach().requires_grad_(not hit)"),
    # counts tensors, not the numbers in them
    "freeze_counts_tensors": _freeze("count += p.numel()", "count += 1"),
    # returns the trainable count instead of the frozen one
    "freeze_returns_trainable": _freeze("if hit:\n            count += p.numel()",
                                        "if not hit:\n            count += p.numel()"),
    # walks every name of a shared tensor: the tied head is counted (and matched) twice
    "freeze_counts_tied_twice": _freeze("model.named_parameters()", "model.named_parameters(remove_duplicate=False)"),
    # not shifted: the answer's own tokens at their own positions (the chapter's aligned labels)
    "targets_not_shifted": _targets("shifted = torch.cat([ids[:, 1:], ids[:, :1]], dim=1)", "shifted = ids"),
    # the prompt is learned too: every real next token is a target
    "targets_prompt_not_masked": _targets("keep = (nxt >= prompt_lengths[:, None]) & (nxt < lengths[:, None])",
                                          "keep = (nxt >= 1) & (nxt < lengths[:, None])"),
    # the padding is learned too: everything after the prompt is a target
    "targets_padding_not_masked": _targets("keep = (nxt >= prompt_lengths[:, None]) & (nxt < lengths[:, None])",
                                           "keep = (nxt >= prompt_lengths[:, None]) & (nxt < T)"),
    # padding found by its id (0) instead of the lengths: answer tokens equal to 0 are dropped
    "targets_padding_by_id": _targets("keep = (nxt >= prompt_lengths[:, None]) & (nxt < lengths[:, None])",
                                      "keep = (nxt >= prompt_lengths[:, None]) & (nxt < T) & (shifted != 0)"),
    # off by one: the first answer token is not learned (the prompt is taken one token too long)
    "targets_skip_first_answer_token": _targets("(nxt >= prompt_lengths[:, None])", "(nxt > prompt_lengths[:, None])"),
    # off by one the other way: the last prompt token is learned as if it were the answer's
    "targets_include_last_prompt_token": _targets("(nxt >= prompt_lengths[:, None])",
                                                  "(nxt >= prompt_lengths[:, None] - 1)"),
    # writes -100 into the caller's ids
    "targets_modify_ids": _targets("return torch.where(keep, shifted, torch.full_like(ids, -100)).long()",
                                   "ids[:, :-1] = torch.where(keep[:, :-1], ids[:, 1:], -100)\n"
                                   "    ids[:, -1] = -100\n    return ids"),
    # the chapter's token average: a long answer weighs more than a short one
    "step_token_average": _step("loss = (nats.sum(dim=1)[n > 0] / n[n > 0]).mean()", "loss = nats.sum() / n.sum()"),
    # rows without targets counted as a loss of 0
    "step_empty_rows_count": _step("loss = (nats.sum(dim=1)[n > 0] / n[n > 0]).mean()",
                                   "loss = (nats.sum(dim=1) / n.clamp(min=1)).mean()"),
    # zero_grad forgotten: gradients of earlier steps add up
    "step_without_zero_grad": _step("optimizer.zero_grad()\n", ""),
    # shifts again, as the chapter's answer_loss does with aligned labels
    "step_shifts_twice": _step("logits = model(ids)\n", "logits = model(ids)[:, :-1]\n    targets = targets[:, 1:]\n"),
    # clips after the step: the update used the unclipped gradient
    "step_clips_after_step": _step("    if max_norm is not None:\n"
                                   "        torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)\n"
                                   "    optimizer.step()\n",
                                   "    optimizer.step()\n    if max_norm is not None:\n"
                                   "        torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)\n"),
    # max_norm ignored
    "step_never_clips": _step("if max_norm is not None:", "if False:"),
    # the loss returned after the update (a second forward pass), not before
    "step_returns_loss_after": _step("    return loss.item()",
                                     "    with torch.no_grad():\n"
                                     "        after = F.cross_entropy(model(ids).reshape(-1, logits.shape[-1]), "
                                     "targets.reshape(-1), ignore_index=-100, reduction='none').view(targets.shape)\n"
                                     "    return (after.sum(dim=1)[n > 0] / n[n > 0]).mean().item()"),
    # ignores the optimizer it is given: a fresh AdamW over every parameter, with weight decay, at each call
    "step_builds_its_own_optimizer": _step(
        "    optimizer.step()\n", "    torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.1).step()\n"),
    # the package's own step, imported instead of written: forbidden
    "step_uses_package": {"finetune_step": '''
def finetune_step(model, optimizer, ids, targets, max_norm=None):
    from llmcourse import finetune as ft
    labels = torch.cat([torch.full_like(targets[:, :1], -100), targets[:, :-1]], dim=1)
    return ft.finetune_step(model, optimizer, ids, labels, grad_clip=max_norm)
'''},
}

EXPECTED_ZERO: dict[str, list[str]] = {
    "step_uses_package": ["test_finetune_step", "test_finetune_step_hidden"],
}
