"""Typical wrong answers to the Chapter 08 exercise; each must lose points (tests/test_exercises.py).

MUTANTS: mutant name → {grade id of a solution cell: the cell's code in that wrong answer}.
The other solution cells keep the correct answer, so each mutant tests one mistake.
EXPECTED_ZERO: mutant name → test cells that must score 0 (here: forbidden calls).
"""

MUTANTS: dict[str, dict[str, str]] = {
    # off by one: keeps the k + 1 best tokens
    "top_k_keeps_k_plus_one": {"top_k_filter": '''
def top_k_filter(logits, k):
    if k + 1 >= logits.shape[-1]:
        return logits.clone()
    kth = torch.topk(logits, k + 1, dim=-1).values[..., -1:]
    return logits.masked_fill(logits < kth, -math.inf)
'''},
    # keeps exactly k indices: a token tied with the k-th largest is dropped or kept by position
    "top_k_drops_ties": {"top_k_filter": '''
def top_k_filter(logits, k):
    k = min(k, logits.shape[-1])
    index = torch.topk(logits, k, dim=-1).indices
    keep = torch.zeros_like(logits, dtype=torch.bool).scatter(-1, index, True)
    return logits.masked_fill(~keep, -math.inf)
'''},
    # stops *before* the token that crosses p: the kept mass is below p
    "top_p_drops_crossing_token": {"top_p_filter": '''
def top_p_filter(logits, p):
    if p >= 1:
        return logits.clone()
    probs = torch.softmax(logits, dim=-1)
    ranked, order = probs.sort(dim=-1, descending=True)
    keep_sorted = ranked.cumsum(dim=-1) <= p
    keep_sorted[..., 0] = True
    keep = torch.zeros_like(keep_sorted).scatter(-1, order, keep_sorted)
    return logits.masked_fill(~keep, -math.inf)
'''},
    # the running total is taken in vocabulary order, without sorting by probability
    "top_p_on_unsorted_probabilities": {"top_p_filter": '''
def top_p_filter(logits, p):
    if p >= 1:
        return logits.clone()
    probs = torch.softmax(logits, dim=-1)
    before = probs.cumsum(dim=-1) - probs
    return logits.masked_fill(before >= p, -math.inf)
'''},
    # divides the probabilities, not the logits: multinomial renormalises, so the temperature does nothing
    "temperature_after_softmax": {"sample_step": '''
def sample_step(logits, temperature=1.0, top_k=None, top_p=None, generator=None):
    if temperature == 0:
        return logits.argmax(dim=-1)
    scores = logits
    if top_k is not None:
        scores = top_k_filter(scores, top_k)
    if top_p is not None:
        scores = top_p_filter(scores, top_p)
    probs = torch.softmax(scores, dim=-1) / temperature
    return torch.multinomial(probs, 1, generator=generator)[:, 0]
'''},
    # never samples: always the most probable token
    "sampling_with_argmax": {"sample_step": '''
def sample_step(logits, temperature=1.0, top_k=None, top_p=None, generator=None):
    return logits.argmax(dim=-1)
'''},
    # ranks the hypotheses by the raw sum of log-probabilities, whatever length_penalty says
    "beam_without_length_normalisation": {"beam_search": '''
def beam_search(next_log_probs, prompt, max_new_tokens, beam_width, length_penalty=1.0, eos=None):
    alive, finished = [([], 0.0)], []
    for _ in range(max_new_tokens):
        slots = beam_width - len(finished)
        if slots <= 0 or not alive:
            break
        candidates = []
        for tokens, score in alive:
            logp = next_log_probs(list(prompt) + tokens)
            candidates += [(tokens + [v], score + float(logp[v])) for v in range(len(logp))]
        candidates.sort(key=lambda c: c[1], reverse=True)
        alive = []
        for tokens, score in candidates[:slots]:
            (finished if eos is not None and tokens[-1] == eos else alive).append((tokens, score))
    return sorted(finished + alive, key=lambda c: c[1], reverse=True)
'''},
    # prunes each hypothesis to its own best tokens but never across hypotheses: not a beam
    "beam_prunes_per_hypothesis": {"beam_search": '''
def beam_search(next_log_probs, prompt, max_new_tokens, beam_width, length_penalty=1.0, eos=None):
    alive, finished = [([], 0.0)], []
    for _ in range(max_new_tokens):
        if not alive:
            break
        new = []
        for tokens, score in alive[:beam_width]:
            logp = next_log_probs(list(prompt) + tokens)
            best = int(torch.argmax(logp))
            new.append((tokens + [best], score + float(logp[best])))
        alive = []
        for tokens, score in new:
            (finished if eos is not None and tokens[-1] == eos else alive).append((tokens, score))
    everything = [(t, s / len(t) ** length_penalty) for t, s in finished + alive]
    return sorted(everything, key=lambda c: c[1], reverse=True)
'''},
    # the package's own filter: forbidden, so its tests score 0 even though they would pass
    "top_p_uses_the_package": {"top_p_filter": '''
def top_p_filter(logits, p):
    from llmcourse.decoding import top_p_filter as nucleus
    return nucleus(logits, p)
'''},
}

EXPECTED_ZERO: dict[str, list[str]] = {
    "top_p_uses_the_package": ["test_top_p_filter", "test_top_p_filter_hidden"],
}
