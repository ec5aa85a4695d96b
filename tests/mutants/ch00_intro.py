"""Typical wrong answers to the Chapter 00 exercise; each must lose points (tests/test_exercises.py).

MUTANTS: mutant name → {grade id of a solution cell: the cell's code in that wrong answer}.
The other solution cells keep the correct answer, so each mutant tests one mistake.
EXPECTED_ZERO: mutant name → test cells that must score 0 (here: forbidden calls).
"""

MUTANTS: dict[str, dict[str, str]] = {
    # exp overflows: softmax([1000., 1001.]) = inf / inf = nan
    "softmax_without_max_subtraction": {"softmax": '''
def softmax(logits, dim=-1):
    exps = torch.exp(logits)
    return exps / exps.sum(dim=dim, keepdim=True)
'''},
    # ignores `dim`: right for the last axis only
    "softmax_always_last_axis": {"softmax": '''
def softmax(logits, dim=-1):
    shifted = logits - logits.amax(dim=-1, keepdim=True)
    exps = torch.exp(shifted)
    return exps / exps.sum(dim=-1, keepdim=True)
'''},
    # the max over the whole tensor instead of along `dim`: fine mathematically, but the sum
    # is taken over the wrong axis
    "softmax_sum_over_all_entries": {"softmax": '''
def softmax(logits, dim=-1):
    exps = torch.exp(logits - logits.max())
    return exps / exps.sum()
'''},
    # a ready-made softmax: forbidden, so its tests score 0 even though they would pass
    "softmax_uses_torch_softmax": {"softmax": '''
def softmax(logits, dim=-1):
    return torch.softmax(logits, dim=dim)
'''},
    # the same, switching off the in-kernel check first: the grader's static check still zeroes it
    "softmax_hides_a_forbidden_call": {"softmax": '''
import llmcourse.grading
import torch.nn.functional as F
llmcourse.grading.check_forbidden = lambda *args, **kwargs: None

def softmax(logits, dim=-1):
    return F.softmax(logits, dim=dim)
'''},
    "temperature_multiplies": {"apply_temperature": '''
def apply_temperature(logits, temperature):
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    return logits * temperature
'''},
    # `temperature <= 0` is False for NaN, and the input is divided in place
    "temperature_in_place_and_nan_accepted": {"apply_temperature": '''
def apply_temperature(logits, temperature):
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    logits /= temperature
    return logits
'''},
    "temperature_without_check": {"apply_temperature": '''
def apply_temperature(logits, temperature):
    return logits / temperature
'''},
    "greedy_returns_the_probability": {"greedy_pick": '''
def greedy_pick(probs_or_logits):
    best = probs_or_logits.max(dim=-1).values
    return float(best) if probs_or_logits.dim() == 1 else best
'''},
    "greedy_last_index_on_ties": {"greedy_pick": '''
def greedy_pick(probs_or_logits):
    flipped = torch.flip(probs_or_logits, dims=[-1])
    picks = probs_or_logits.shape[-1] - 1 - torch.argmax(flipped, dim=-1)
    return int(picks) if probs_or_logits.dim() == 1 else picks
'''},
    "greedy_argmax_without_dim": {"greedy_pick": '''
def greedy_pick(probs_or_logits):
    return int(torch.argmax(probs_or_logits))
'''},
}

EXPECTED_ZERO: dict[str, list[str]] = {
    "softmax_uses_torch_softmax": ["test_softmax", "test_softmax_hidden"],
    "softmax_hides_a_forbidden_call": ["test_softmax", "test_softmax_hidden"],
}
