"""Typical wrong answers to the Chapter 00 exercise; each must lose points (tests/test_exercises.py).

MUTANTS: mutant name → {grade id of a solution cell: the cell's code in that wrong answer}.
The other solution cells keep the correct answer, so each mutant tests one mistake.
EXPECTED_ZERO: mutant name → test cells that must score 0 (here: forbidden calls).
BOOK_COUNTERPARTS: none needed — the book shows `softmax`, `apply_temperature` and `greedy_pick`
(``llmcourse.intro``, with ``show_source``) under the graded names, so the copy-proof test pastes
them by itself; the exercise asks for a mask, one temperature per row and the log-probability.
"""

MUTANTS: dict[str, dict[str, str]] = {
    # exp overflows: softmax([1000., 1001.]) = inf / inf = nan
    "softmax_without_max_subtraction": {"softmax": '''
def softmax(logits, dim=-1, mask=None):
    if mask is not None:
        logits = torch.where(mask, logits, float("-inf"))
    exps = torch.exp(logits)
    total = exps.sum(dim=dim, keepdim=True)
    return torch.where(total > 0, exps / total, 0.0)
'''},
    # ignores `dim`: right for the last axis only
    "softmax_always_last_axis": {"softmax": '''
def softmax(logits, dim=-1, mask=None):
    if mask is not None:
        logits = torch.where(mask, logits, float("-inf"))
    peak = logits.amax(dim=-1, keepdim=True)
    peak = torch.where(peak == float("-inf"), 0.0, peak)
    exps = torch.exp(logits - peak)
    total = exps.sum(dim=-1, keepdim=True)
    return torch.where(total > 0, exps / total, 0.0)
'''},
    # the max and the sum over the whole tensor instead of along `dim`
    "softmax_sum_over_all_entries": {"softmax": '''
def softmax(logits, dim=-1, mask=None):
    if mask is not None:
        logits = torch.where(mask, logits, float("-inf"))
    exps = torch.exp(logits - logits.max())
    return exps / exps.sum()
'''},
    # the mask is accepted and never used
    "softmax_ignores_the_mask": {"softmax": '''
def softmax(logits, dim=-1, mask=None):
    shifted = logits - logits.amax(dim=dim, keepdim=True)
    exps = torch.exp(shifted)
    return exps / exps.sum(dim=dim, keepdim=True)
'''},
    # the mask multiplies after exp: the maximum includes banned entries (a banned 1000 makes every
    # allowed weight underflow to 0), and a banned inf or nan gives inf * 0 = nan
    "softmax_mask_after_exp": {"softmax": '''
def softmax(logits, dim=-1, mask=None):
    shifted = logits - logits.amax(dim=dim, keepdim=True)
    exps = torch.exp(shifted)
    if mask is not None:
        exps = exps * mask
    total = exps.sum(dim=dim, keepdim=True)
    return torch.where(total > 0, exps / total, 0.0)
'''},
    # the book's softmax after masking: a slice with nothing allowed is -inf - (-inf) = nan
    "softmax_nan_when_nothing_allowed": {"softmax": '''
def softmax(logits, dim=-1, mask=None):
    if mask is not None:
        logits = logits.masked_fill(~mask, float("-inf"))
    shifted = logits - logits.amax(dim=dim, keepdim=True)
    exps = torch.exp(shifted)
    return exps / exps.sum(dim=dim, keepdim=True)
'''},
    # a ready-made softmax: forbidden, so its tests score 0 even though they would pass
    "softmax_uses_torch_softmax": {"softmax": '''
def softmax(logits, dim=-1, mask=None):
    if mask is not None:
        logits = logits.masked_fill(~mask, float("-inf"))
    return torch.softmax(logits, dim=dim).nan_to_num(0.0)
'''},
    # the same, switching off the in-kernel check first: the grader's static check still zeroes it
    "softmax_hides_a_forbidden_call": {"softmax": '''
import llmcourse.grading
import torch.nn.functional as F
llmcourse.grading.check_forbidden = lambda *args, **kwargs: None

def softmax(logits, dim=-1, mask=None):
    if mask is not None:
        logits = logits.masked_fill(~mask, float("-inf"))
    return F.softmax(logits, dim=dim).nan_to_num(0.0)
'''},
    "temperature_multiplies": {"apply_temperature": '''
def apply_temperature(logits, temperature):
    t = torch.as_tensor(temperature, dtype=logits.dtype)
    if t.dim() > 0 and t.shape != logits.shape[:-1]:
        raise ValueError(f"temperature: expected shape {tuple(logits.shape[:-1])}, got {tuple(t.shape)}")
    if not bool((t > 0).all()):
        raise ValueError(f"temperature must be > 0, got {temperature}")
    return logits * t.unsqueeze(-1)
'''},
    # `t <= 0` is False for NaN, and the input is divided in place
    "temperature_in_place_and_nan_accepted": {"apply_temperature": '''
def apply_temperature(logits, temperature):
    t = torch.as_tensor(temperature, dtype=logits.dtype)
    if t.dim() > 0 and t.shape != logits.shape[:-1]:
        raise ValueError(f"temperature: expected shape {tuple(logits.shape[:-1])}, got {tuple(t.shape)}")
    if bool((t <= 0).any()):
        raise ValueError(f"temperature must be > 0, got {temperature}")
    logits /= t.unsqueeze(-1)
    return logits
'''},
    "temperature_without_check": {"apply_temperature": '''
def apply_temperature(logits, temperature):
    t = torch.as_tensor(temperature, dtype=logits.dtype)
    return logits / t.unsqueeze(-1)
'''},
    # the book's division: (B, V) / (B,) lines the temperatures up with the columns (or fails)
    "temperature_divides_the_columns": {"apply_temperature": '''
def apply_temperature(logits, temperature):
    t = torch.as_tensor(temperature, dtype=logits.dtype)
    if t.dim() > 0 and t.shape != logits.shape[:-1]:
        raise ValueError(f"temperature: expected shape {tuple(logits.shape[:-1])}, got {tuple(t.shape)}")
    if not bool((t > 0).all()):
        raise ValueError(f"temperature must be > 0, got {temperature}")
    return logits / t
'''},
    # checks only the first row's temperature
    "temperature_checks_the_first_row_only": {"apply_temperature": '''
def apply_temperature(logits, temperature):
    t = torch.as_tensor(temperature, dtype=logits.dtype)
    if t.dim() > 0 and t.shape != logits.shape[:-1]:
        raise ValueError(f"temperature: expected shape {tuple(logits.shape[:-1])}, got {tuple(t.shape)}")
    if not float(t.flatten()[0]) > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    return logits / t.unsqueeze(-1)
'''},
    # no shape check: a (V,) or (B, 1) temperature broadcasts into a wrong shape or a RuntimeError
    "temperature_without_shape_check": {"apply_temperature": '''
def apply_temperature(logits, temperature):
    t = torch.as_tensor(temperature, dtype=logits.dtype)
    if not bool((t > 0).all()):
        raise ValueError(f"temperature must be > 0, got {temperature}")
    return logits / t.unsqueeze(-1)
'''},
    # the probability instead of its logarithm
    "greedy_returns_the_probability": {"greedy_pick": '''
def greedy_pick(logits):
    picks = torch.argmax(logits, dim=-1)
    top = logits.amax(dim=-1, keepdim=True)
    probs = 1 / torch.exp(logits - top).sum(dim=-1)
    return (int(picks), float(probs)) if logits.dim() == 1 else (picks, probs)
'''},
    # the largest logit is not a log-probability
    "greedy_returns_the_logit": {"greedy_pick": '''
def greedy_pick(logits):
    top = logits.max(dim=-1)
    return (int(top.indices), float(top.values)) if logits.dim() == 1 else (top.indices, top.values)
'''},
    # ln p = x - ln sum exp(x) without the shift: exp(1e4) is inf, and the result nan
    "greedy_logprob_overflows": {"greedy_pick": '''
def greedy_pick(logits):
    picks = torch.argmax(logits, dim=-1)
    top = logits.amax(dim=-1)
    logprobs = top - torch.log(torch.exp(logits).sum(dim=-1))
    return (int(picks), float(logprobs)) if logits.dim() == 1 else (picks, logprobs)
'''},
    "greedy_last_index_on_ties": {"greedy_pick": '''
def greedy_pick(logits):
    flipped = torch.flip(logits, dims=[-1])
    picks = logits.shape[-1] - 1 - torch.argmax(flipped, dim=-1)
    logprobs = -torch.log(torch.exp(logits - logits.amax(dim=-1, keepdim=True)).sum(dim=-1))
    return (int(picks), float(logprobs)) if logits.dim() == 1 else (picks, logprobs)
'''},
    "greedy_argmax_without_dim": {"greedy_pick": '''
def greedy_pick(logits):
    logprob = -torch.log(torch.exp(logits - logits.max()).sum())
    return int(torch.argmax(logits)), float(logprob)
'''},
    # a ready-made log-softmax does the whole task: forbidden
    "greedy_uses_log_softmax": {"greedy_pick": '''
def greedy_pick(logits):
    best = torch.log_softmax(logits, dim=-1).max(dim=-1)
    return (int(best.indices), float(best.values)) if logits.dim() == 1 else (best.indices, best.values)
'''},
}

EXPECTED_ZERO: dict[str, list[str]] = {
    "softmax_uses_torch_softmax": ["test_softmax", "test_softmax_hidden"],
    "softmax_hides_a_forbidden_call": ["test_softmax", "test_softmax_hidden"],
    "greedy_uses_log_softmax": ["test_greedy_pick", "test_greedy_pick_hidden"],
}
