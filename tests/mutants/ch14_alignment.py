"""Typical wrong answers to the Chapter 14 exercise; each must lose points (tests/test_exercises.py).

MUTANTS: mutant name → {grade id of a solution cell: the cell's code in that wrong answer}.
The other solution cells keep the correct answer, so each mutant tests one mistake.
BOOK_COUNTERPARTS: graded function → the book's functions that do the same job under another name
(tests/test_copyproof.py pastes them as the answer; each paste must lose points).
"""

BOOK_COUNTERPARTS: dict[str, list[str]] = {
    "preference_loss": ["bradley_terry_loss"],
    "response_logprob": ["sequence_logprob"],
    "conservative_dpo_loss": ["dpo_loss"],
}

_PREFERENCE = '''
def preference_loss(first, second, p_first):
    if not (first.dim() == 1 and first.shape == second.shape == p_first.shape and first.numel() >= 1):
        raise ValueError("shapes")
    if bool(((p_first < 0) | (p_first > 1)).any()):
        raise ValueError("labels")
    d = first - second
    loss = -(p_first * F.logsigmoid(d) + (1 - p_first) * F.logsigmoid(-d))
    return loss.mean()
'''


def _preference(old: str, new: str) -> dict[str, str]:
    assert old in _PREFERENCE, old
    return {"preference_loss": _PREFERENCE.replace(old, new)}


_LOGPROB = '''
def response_logprob(logits, ids, prompt_lengths, lengths, average=False):
    B, T, V = logits.shape
    if bool((prompt_lengths < 1).any() | (lengths <= prompt_lengths).any() | (lengths > T).any()):
        raise ValueError("need 1 <= prompt_lengths < lengths <= T")
    logp = F.log_softmax(logits[:, :-1], dim=-1)
    tok = logp.gather(-1, ids[:, 1:, None])[..., 0]
    t = torch.arange(1, T)[None, :]
    keep = (t >= prompt_lengths[:, None]) & (t < lengths[:, None])
    total = (tok * keep).sum(dim=1)
    if average:
        total = total / (lengths - prompt_lengths)
    return total
'''


def _logprob(old: str, new: str) -> dict[str, str]:
    assert old in _LOGPROB, old
    return {"response_logprob": _LOGPROB.replace(old, new)}


_DPO = '''
def conservative_dpo_loss(policy_chosen, policy_rejected, reference_chosen, reference_rejected, beta,
                          smoothing=0.0):
    if not (policy_chosen.dim() == 1 and policy_chosen.numel() >= 1 and policy_chosen.shape == policy_rejected.shape
            == reference_chosen.shape == reference_rejected.shape):
        raise ValueError("shapes")
    if not beta > 0:
        raise ValueError("beta")
    if not 0 <= smoothing < 0.5:
        raise ValueError("smoothing")
    h = beta * ((policy_chosen - reference_chosen.detach()) - (policy_rejected - reference_rejected.detach()))
    loss = -(1 - smoothing) * F.logsigmoid(h) - smoothing * F.logsigmoid(-h)
    return loss.mean(), h.detach()
'''


def _dpo(old: str, new: str) -> dict[str, str]:
    assert old in _DPO, old
    return {"conservative_dpo_loss": _DPO.replace(old, new)}


MUTANTS: dict[str, dict[str, str]] = {
    # the preference backwards: the second response's reward minus the first's
    "preference_sign_flipped": _preference("d = first - second", "d = second - first"),
    # the soft label ignored: every pair read as "the first one won" (the chapter's loss)
    "preference_hard_labels": _preference(
        "loss = -(p_first * F.logsigmoid(d) + (1 - p_first) * F.logsigmoid(-d))", "loss = -F.logsigmoid(d)"),
    # the label rounded to a winner: ties and shares lost
    "preference_labels_rounded": _preference("loss = -(p_first * F.logsigmoid(d)",
                                             "p_first = p_first.round()\n    loss = -(p_first * F.logsigmoid(d)"),
    # log(sigmoid(·)): -inf, then inf or nan, for large reward gaps
    "preference_unstable_log": _preference(
        "loss = -(p_first * F.logsigmoid(d) + (1 - p_first) * F.logsigmoid(-d))",
        "loss = -(p_first * torch.log(torch.sigmoid(d)) + (1 - p_first) * torch.log(torch.sigmoid(-d)))"),
    # summed over the pairs instead of averaged
    "preference_sum_not_mean": _preference("return loss.mean()", "return loss.sum()"),
    # the probabilities themselves, not their logarithms
    "preference_probability_not_log": _preference(
        "loss = -(p_first * F.logsigmoid(d) + (1 - p_first) * F.logsigmoid(-d))",
        "loss = -(p_first * torch.sigmoid(d) + (1 - p_first) * torch.sigmoid(-d))"),
    # the padding counted: every position after the prompt, up to T
    "logprob_sums_padding": _logprob("keep = (t >= prompt_lengths[:, None]) & (t < lengths[:, None])",
                                     "keep = t >= prompt_lengths[:, None]"),
    # the prompt counted too
    "logprob_counts_prompt": _logprob("keep = (t >= prompt_lengths[:, None]) & (t < lengths[:, None])",
                                      "keep = t < lengths[:, None]"),
    # not shifted: token t scored by the logits at t (which predict token t + 1)
    "logprob_not_shifted": _logprob("logp = F.log_softmax(logits[:, :-1], dim=-1)",
                                    "logp = F.log_softmax(logits[:, 1:], dim=-1)"),
    # off by one: the first response token left out
    "logprob_skips_first_response_token": _logprob("(t >= prompt_lengths[:, None])", "(t > prompt_lengths[:, None])"),
    # the softmax over the positions instead of the vocabulary
    "logprob_softmax_over_time": _logprob("logp = F.log_softmax(logits[:, :-1], dim=-1)",
                                          "logp = F.log_softmax(logits[:, :-1], dim=1)"),
    # padding found by its id (0): response tokens equal to 0 are dropped
    "logprob_padding_by_id": _logprob("keep = (t >= prompt_lengths[:, None]) & (t < lengths[:, None])",
                                      "keep = (t >= prompt_lengths[:, None]) & (ids[:, 1:] != 0)"),
    # the average over the whole sequence, prompt included
    "logprob_average_over_everything": _logprob("total = total / (lengths - prompt_lengths)",
                                                "total = total / lengths"),
    # the reference not detached: gradients flow into the frozen model
    "dpo_reference_not_detached": _dpo("reference_chosen.detach()) - (policy_rejected - reference_rejected.detach())",
                                       "reference_chosen) - (policy_rejected - reference_rejected)"),
    # chosen and rejected swapped: the policy learns the rejected responses
    "dpo_sign_flipped": _dpo(
        "h = beta * ((policy_chosen - reference_chosen.detach()) - (policy_rejected - reference_rejected.detach()))",
        "h = beta * ((policy_rejected - reference_rejected.detach()) - (policy_chosen - reference_chosen.detach()))"),
    # beta outside the sigmoid: it scales the loss, not the margin
    "dpo_beta_outside": _dpo("loss = -(1 - smoothing) * F.logsigmoid(h) - smoothing * F.logsigmoid(-h)",
                             "loss = beta * (-(1 - smoothing) * F.logsigmoid(h / beta)\n"
                             "                   - smoothing * F.logsigmoid(-h / beta))"),
    # beta divides instead of multiplying
    "dpo_beta_divides": _dpo("h = beta * ((policy_chosen", "h = (1 / beta ** 2) * beta * ((policy_chosen"),
    # no reference at all: the policy's own log-probabilities
    "dpo_no_reference": _dpo("h = beta * ((policy_chosen - reference_chosen.detach()) - (policy_rejected - "
                             "reference_rejected.detach()))",
                             "h = beta * (policy_chosen - policy_rejected)"),
    # the smoothing ignored: plain DPO
    "dpo_smoothing_ignored": _dpo("loss = -(1 - smoothing) * F.logsigmoid(h) - smoothing * F.logsigmoid(-h)",
                                  "loss = -F.logsigmoid(h)"),
    # the smoothing weights swapped
    "dpo_smoothing_swapped": _dpo("loss = -(1 - smoothing) * F.logsigmoid(h) - smoothing * F.logsigmoid(-h)",
                                  "loss = -smoothing * F.logsigmoid(h) - (1 - smoothing) * F.logsigmoid(-h)"),
    # log(sigmoid(·)): infinite loss for large negative margins
    "dpo_unstable_log": _dpo("loss = -(1 - smoothing) * F.logsigmoid(h) - smoothing * F.logsigmoid(-h)",
                             "loss = (-(1 - smoothing) * torch.log(torch.sigmoid(h))\n"
                             "            - smoothing * torch.log(torch.sigmoid(-h)))"),
    # the margins returned still attached to the graph
    "dpo_margins_attached": _dpo("return loss.mean(), h.detach()", "return loss.mean(), h"),
}
