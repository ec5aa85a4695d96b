"""Typical wrong answers to the Chapter 08 exercise; each must lose points (tests/test_exercises.py).

MUTANTS: mutant name → {grade id of a solution cell: the cell's code in that wrong answer}.
The other solution cells keep the correct answer, so each mutant tests one mistake.
EXPECTED_ZERO: mutant name → test cells that must score 0 (here: forbidden calls).
BOOK_COUNTERPARTS: graded function → the book's functions that do the same job under another name
(tests/test_copyproof.py pastes them as the answer; each paste must lose points). The book's
``top_k_filter`` and ``beam_search`` are found by their own names.
"""

BOOK_COUNTERPARTS: dict[str, list[str]] = {
    "typical_filter": ["top_p_filter"],
    "sample_step": ["sample_next"],
}

_TOP_K = '''
def top_k_filter(logits, k):
    V = logits.shape[-1]
    k = torch.as_tensor(k).expand(logits.shape[:-1])
    if bool((k < 1).any()):
        raise ValueError("k < 1")
    ranked = logits.sort(dim=-1, descending=True).values
    kth = ranked.gather(-1, (k.clamp(max=V) - 1)[..., None])
    return logits.masked_fill(logits < kth, -math.inf)
'''


def _top_k(old: str, new: str) -> dict[str, str]:
    assert old in _TOP_K, old
    return {"top_k_filter": _TOP_K.replace(old, new)}


_TYPICAL = '''
def typical_filter(logits, mass):
    if mass >= 1:
        return logits.clone()
    logp = torch.log_softmax(logits, dim=-1)
    probs = logp.exp()
    H = -torch.xlogy(probs, probs).sum(-1, keepdim=True)
    d = (-logp - H).abs()
    ranked, order = d.sort(dim=-1)
    total = probs.gather(-1, order).cumsum(-1)
    before = total - probs.gather(-1, order)
    last = ranked.masked_fill(before >= mass, -math.inf).amax(-1, keepdim=True)
    return logits.masked_fill(d > last, -math.inf)
'''


def _typical(old: str, new: str) -> dict[str, str]:
    assert old in _TYPICAL, old
    return {"typical_filter": _TYPICAL.replace(old, new)}


_SAMPLE = '''
def sample_step(logits, temperature=1.0, top_k=None, typical_p=None, generator=None):
    if temperature == 0:
        return logits.argmax(dim=-1)
    s = logits / temperature
    if top_k is not None:
        s = top_k_filter(s, top_k)
    if typical_p is not None:
        s = typical_filter(s, typical_p)
    u = torch.rand(s.shape, generator=generator)
    return (s - torch.log(-torch.log(u))).argmax(dim=-1)
'''


def _sample(old: str, new: str) -> dict[str, str]:
    assert old in _SAMPLE, old
    return {"sample_step": _SAMPLE.replace(old, new)}


_BEAM = '''
def beam_search(next_log_probs, prompt, max_new_tokens, beam_width, length_penalty=1.0, eos=None,
                no_repeat_ngram=None):
    def banned(seq):
        n = no_repeat_ngram
        if n is None:
            return set()
        head = seq[len(seq) - n + 1:] if n > 1 else []
        return {seq[i + n - 1] for i in range(len(seq) - n + 1) if seq[i:i + n - 1] == head}
    alive, finished = [([], 0.0)], []
    for _ in range(max_new_tokens):
        slots = beam_width - len(finished)
        if slots <= 0 or not alive:
            break
        candidates = []
        for tokens, score in alive:
            seq = list(prompt) + tokens
            logp = next_log_probs(seq)
            no = banned(seq)
            candidates += [(tokens + [v], score + float(logp[v])) for v in range(len(logp)) if v not in no]
        candidates.sort(key=lambda c: c[1], reverse=True)
        alive = []
        for tokens, score in candidates[:slots]:
            (finished if eos is not None and tokens[-1] == eos else alive).append((tokens, score))
    everything = [(t, s / len(t) ** length_penalty) for t, s in finished + alive]
    return sorted(everything, key=lambda c: c[1], reverse=True)
'''


def _beam(old: str, new: str) -> dict[str, str]:
    assert old in _BEAM, old
    return {"beam_search": _BEAM.replace(old, new)}


MUTANTS: dict[str, dict[str, str]] = {
    # one k for the whole batch (the largest one asked for), as torch.topk would need
    "top_k_one_k_for_every_row": _top_k("k = torch.as_tensor(k).expand(logits.shape[:-1])",
                                        "k = torch.as_tensor(k).max().expand(logits.shape[:-1])"),
    # off by one: the cut-off is the (k + 1)-th value, so k + 1 tokens survive
    "top_k_keeps_k_plus_one": _top_k("(k.clamp(max=V) - 1)[..., None]", "k.clamp(max=V - 1)[..., None]"),
    # keeps exactly k indices per row: a token tied with the k-th largest is dropped or kept by position
    "top_k_drops_ties": {"top_k_filter": '''
def top_k_filter(logits, k):
    k = torch.as_tensor(k).expand(logits.shape[:-1])
    if bool((k < 1).any()):
        raise ValueError("k < 1")
    rows = logits.reshape(-1, logits.shape[-1])
    keep = torch.zeros_like(rows, dtype=torch.bool)
    for i, n in enumerate(k.reshape(-1).tolist()):
        keep[i, torch.topk(rows[i], min(n, rows.shape[1])).indices] = True
    return logits.masked_fill(~keep.view(logits.shape), -math.inf)
'''},
    # no check of k: k = 0 silently picks the row's smallest value and keeps everything
    "top_k_accepts_zero": _top_k('raise ValueError("k < 1")', "pass"),
    # ranked by probability, not by distance to the entropy: that is top-p
    "typical_ranked_by_probability": _typical("ranked, order = d.sort(dim=-1)",
                                              "ranked, order = (-probs).sort(dim=-1)\n"
                                              "    d = -probs"),
    # signed distance: the most probable tokens (surprise below H) come first
    "typical_distance_without_abs": _typical("d = (-logp - H).abs()", "d = -logp - H"),
    # stops before the token that crosses the mass: the kept mass is below it
    "typical_drops_crossing_token": _typical("before >= mass", "total > mass"),
    # p * log p without care for p = 0: a -inf logit makes the entropy nan
    "typical_entropy_nan_on_masked": _typical("H = -torch.xlogy(probs, probs).sum(-1, keepdim=True)",
                                              "H = -(probs * logp).sum(-1, keepdim=True)"),
    # the transformers library's ready-made warper: forbidden
    "typical_uses_transformers": {"typical_filter": '''
def typical_filter(logits, mass):
    from transformers import TypicalLogitsWarper
    if mass >= 1:
        return logits.clone()
    rows = logits.reshape(-1, logits.shape[-1])
    return TypicalLogitsWarper(mass)(None, rows.clone()).view(logits.shape)
'''},
    # the sign of the Gumbel noise flipped: log(-log U) added, a different distribution
    "sample_gumbel_sign_flipped": _sample("(s - torch.log(-torch.log(u)))", "(s + torch.log(-torch.log(u)))"),
    # divides after adding the noise: the argmax no longer depends on the temperature
    "sample_temperature_after_noise": {"sample_step": _SAMPLE.replace("s = logits / temperature", "s = logits").replace(
        "(s - torch.log(-torch.log(u))).argmax", "((s - torch.log(-torch.log(u))) / temperature).argmax")},
    # the filters see the logits before the temperature: the typical set changes
    "sample_filters_before_temperature": {"sample_step": _SAMPLE.replace("s = logits / temperature", "s = logits").replace(
        "u = torch.rand", "s = s / temperature\n    u = torch.rand")},
    # one random number per row instead of one per token: every row is greedy
    "sample_noise_per_row": _sample("torch.rand(s.shape, generator=generator)",
                                    "torch.rand(s.shape[:-1] + (1,), generator=generator)"),
    # draws with torch.multinomial, as the chapter does: forbidden here
    "sample_uses_multinomial": _sample("u = torch.rand(s.shape, generator=generator)\n"
                                       "    return (s - torch.log(-torch.log(u))).argmax(dim=-1)",
                                       "return torch.multinomial(torch.softmax(s, dim=-1), 1, generator=generator)[:, 0]"),
    # ranks the hypotheses by the raw sum of log-probabilities, whatever length_penalty says
    "beam_without_length_normalisation": _beam("s / len(t) ** length_penalty", "s"),
    # prunes each hypothesis to its own best token but never across hypotheses: not a beam
    "beam_prunes_per_hypothesis": _beam("candidates += [(tokens + [v], score + float(logp[v])) for v in range(len(logp)) "
                                        "if v not in no]",
                                        "candidates += sorted([(tokens + [v], score + float(logp[v])) for v in "
                                        "range(len(logp)) if v not in no], key=lambda c: c[1])[-1:]"),
    # the n-grams of the prompt are not looked at, only those of the generated tokens
    "beam_ngram_ignores_prompt": _beam("no = banned(seq)", "no = banned(list(prompt[-1:]) + tokens)"),
    # the rule applied after the cut: forbidden extensions take slots, then are thrown away
    "beam_ngram_filter_after_pruning": {"beam_search": _BEAM.replace(
        "candidates += [(tokens + [v], score + float(logp[v])) for v in range(len(logp)) if v not in no]",
        "candidates += [(tokens + [v], score + float(logp[v]), v in no) for v in range(len(logp))]").replace(
        "for tokens, score in candidates[:slots]:",
        "for tokens, score, bad in candidates[:slots]:\n            if bad:\n                continue")},
    # off by one: compares (n - 1)-grams, so it forbids more than it should
    "beam_ngram_one_too_short": _beam("n = no_repeat_ngram\n        if n is None:",
                                      "n = no_repeat_ngram and max(no_repeat_ngram - 1, 1)\n        if n is None:"),
}

EXPECTED_ZERO: dict[str, list[str]] = {
    "typical_uses_transformers": ["test_typical_filter", "test_typical_filter_hidden"],
    "sample_uses_multinomial": ["test_sample_step", "test_sample_step_hidden"],
}
