"""Chapter 08 — decoding: filters against a sort-based oracle, sampling, generation with and without
the KV cache, beam search against exhaustive search, diversity and likelihood measures."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
import torch.nn.functional as F

from llmcourse import decoding
from llmcourse.rnn import CharRNN


# --------------------------------------------------------------------------- small models

class TableModel(torch.nn.Module):
    """A causal toy model: logits at position t depend on (t, ids[t]) through a fixed table."""

    def __init__(self, table: torch.Tensor, max_context: int | None = None) -> None:
        super().__init__()
        self.table = table                      # (positions, V, V): table[t, token] = next logits
        self.max_context = max_context

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(ids.shape[1])
        return self.table[positions[None, :], ids]                     # (B, T, V)


def random_table(V: int, positions: int, seed: int, scale: float = 2.0) -> torch.Tensor:
    return scale * torch.randn(positions, V, V, generator=torch.Generator().manual_seed(seed))


def tiny_gpt(block_size: int = 24, seed: int = 0):
    gpt = pytest.importorskip("llmcourse.gpt")
    torch.manual_seed(seed)
    model = gpt.GPT(gpt.GPTConfig(vocab_size=11, block_size=block_size, n_layers=2, n_heads=2, d_model=32))
    with torch.no_grad():   # larger weights: sharper, more varied predictions than at initialisation
        for p in model.parameters():
            if p.dim() == 2:
                p.mul_(3.0)
    return model.eval()


# --------------------------------------------------------------------------- filters

def oracle_top_k(logits: torch.Tensor, k: int) -> torch.Tensor:
    out = logits.clone()
    for row in out.view(-1, out.shape[-1]):
        threshold = sorted(row.tolist(), reverse=True)[min(k, len(row)) - 1]
        row[row < threshold] = float("-inf")
    return out


def oracle_top_p(logits: torch.Tensor, p: float) -> torch.Tensor:
    out = logits.clone()
    for row in out.view(-1, out.shape[-1]):
        probs = torch.softmax(row.double(), dim=0).tolist()
        total, last = 0.0, None
        for q in sorted(probs, reverse=True):
            total, last = total + q, q
            if total >= p:
                break
        row[torch.tensor(probs) < last - 1e-12] = float("-inf")
    return out


def test_top_k_hand_cases():
    x = torch.tensor([1.0, 3.0, 2.0, 0.0])
    assert decoding.top_k_filter(x, 1).tolist() == [-math.inf, 3.0, -math.inf, -math.inf]
    assert decoding.top_k_filter(x, 2).tolist() == [-math.inf, 3.0, 2.0, -math.inf]
    assert decoding.top_k_filter(x, 4).tolist() == x.tolist()
    assert decoding.top_k_filter(x, 10).tolist() == x.tolist()
    # ties with the k-th value are all kept, whatever their order in the vocabulary
    assert decoding.top_k_filter(torch.tensor([2.0, 1.0, 2.0, 2.0]), 2).tolist() == [2.0, -math.inf, 2.0, 2.0]
    assert torch.equal(x, torch.tensor([1.0, 3.0, 2.0, 0.0])), "the input must not be changed"


def test_top_p_hand_cases():
    logits = torch.tensor([0.5, 0.3, 0.2]).log()
    keep = lambda p: torch.isfinite(decoding.top_p_filter(logits, p)).tolist()
    assert keep(0.4) == [True, False, False]          # 0.5 alone reaches 0.4
    assert keep(0.5) == [True, False, False]          # reaching p exactly is enough
    assert keep(0.6) == [True, True, False]           # the crossing token (0.3) is kept
    assert keep(0.85) == [True, True, True]
    assert keep(1.0) == [True, True, True]
    assert keep(1e-9) == [True, False, False]         # always at least one token
    # unsorted input: the nucleus is found by probability, not by position
    shuffled = torch.tensor([0.2, 0.5, 0.3]).log()
    assert torch.isfinite(decoding.top_p_filter(shuffled, 0.6)).tolist() == [False, True, True]
    # ties with the last kept token are kept
    tied = torch.tensor([0.4, 0.3, 0.3]).log()
    assert torch.isfinite(decoding.top_p_filter(tied, 0.6)).tolist() == [True, True, True]
    # -inf entries (e.g. after top-k) stay removed
    masked = torch.tensor([0.0, float("-inf"), 0.0])
    assert torch.isfinite(decoding.top_p_filter(masked, 0.99)).tolist() == [True, False, True]


@pytest.mark.parametrize("shape", [(7,), (4, 10), (2, 3, 50)])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_filters_match_sort_based_oracle(shape, seed):
    logits = 2 * torch.randn(shape, generator=torch.Generator().manual_seed(seed))
    V = shape[-1]
    for k in (1, 2, 3, V - 1, V):
        assert torch.equal(decoding.top_k_filter(logits, k), oracle_top_k(logits, k)), k
    for p in (0.05, 0.3, 0.5, 0.9, 0.99):
        assert torch.equal(decoding.top_p_filter(logits, p), oracle_top_p(logits, p)), p
        kept = torch.softmax(logits, -1).masked_fill(~torch.isfinite(decoding.top_p_filter(logits, p)), 0)
        assert bool((kept.sum(-1) >= p - 1e-6).all())


def test_filters_reject_bad_arguments():
    x = torch.zeros(3)
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="top_k"):
            decoding.top_k_filter(x, bad)
    for bad in (0, -0.1, "0.5"):
        with pytest.raises(ValueError, match="top_p"):
            decoding.top_p_filter(x, bad)
    with pytest.raises(ValueError, match="floating"):
        decoding.top_k_filter(torch.tensor([1, 2, 3]), 1)


# --------------------------------------------------------------------------- one step

def test_greedy_is_argmax_and_filters_cannot_change_it():
    logits = torch.randn(6, 20, generator=torch.Generator().manual_seed(3))
    want = logits.argmax(-1)
    assert torch.equal(decoding.sample_next(logits, temperature=0), want)
    assert torch.equal(decoding.sample_next(logits, temperature=0, top_k=3, top_p=0.5), want)
    g = torch.Generator().manual_seed(0)
    assert torch.equal(decoding.sample_next(logits, top_k=1, generator=g), want)
    assert torch.equal(decoding.sample_next(logits, top_p=1e-6, generator=g), want)


def test_seeded_sampling_is_reproducible():
    logits = torch.randn(8, 30, generator=torch.Generator().manual_seed(4))
    draws = [decoding.sample_next(logits, temperature=1.3, top_k=10, top_p=0.9,
                                  generator=torch.Generator().manual_seed(7)) for _ in range(2)]
    assert torch.equal(draws[0], draws[1]) and draws[0].dtype == torch.long and draws[0].shape == (8,)


def test_sampling_follows_the_tempered_filtered_distribution():
    logits = torch.tensor([2.0, 1.0, 0.5, 0.0, -1.0])
    n = 40_000
    rows = logits.expand(n, 5)
    for temperature, top_k in [(1.0, None), (0.5, None), (2.0, 3)]:
        draws = decoding.sample_next(rows, temperature=temperature, top_k=top_k,
                                     generator=torch.Generator().manual_seed(0))
        freq = torch.bincount(draws, minlength=5) / n
        want = torch.softmax(logits / temperature, -1)
        if top_k is not None:
            want[top_k:] = 0
            want /= want.sum()
        assert (freq - want).abs().max() < 0.01, (temperature, freq, want)


def test_sample_next_rejects_bad_input():
    with pytest.raises(ValueError, match=r"\(B, V\)"):
        decoding.sample_next(torch.zeros(5))
    with pytest.raises(ValueError, match="temperature"):
        decoding.sample_next(torch.zeros(1, 5), temperature=-1)


# --------------------------------------------------------------------------- generate

def test_generate_greedy_equals_a_hand_loop():
    model = TableModel(random_table(6, 20, seed=1))
    prompt = torch.tensor([[0, 1], [2, 3]])
    out = decoding.generate(model, prompt, 8, temperature=0)
    ids = prompt
    for _ in range(8):
        ids = torch.cat([ids, model(ids)[:, -1].argmax(-1, keepdim=True)], dim=1)
    assert torch.equal(out, ids) and out.shape == (2, 10)


def test_generate_seeded_and_stop_token():
    model = TableModel(random_table(6, 40, seed=2, scale=1.0))
    prompt = torch.zeros(4, 1, dtype=torch.long)
    a = decoding.generate(model, prompt, 20, generator=torch.Generator().manual_seed(5))
    b = decoding.generate(model, prompt, 20, generator=torch.Generator().manual_seed(5))
    assert torch.equal(a, b)
    stopped = decoding.generate(model, prompt, 30, stop_token=3, generator=torch.Generator().manual_seed(5))
    for row in stopped[:, 1:]:
        hits = (row == 3).nonzero().flatten()
        if len(hits):
            assert bool((row[hits[0]:] == 3).all()), "after the stop token a row is padded with it"
    # a model that always says 3 after the first step: every row stops, generation ends early
    table = torch.zeros(40, 6, 6)
    table[1:, :, 3] = 50.0
    out = decoding.generate(TableModel(table), prompt, 30, stop_token=3, generator=torch.Generator().manual_seed(0))
    assert out.shape == (4, 3) and bool((out[:, 2] == 3).all())


def test_generate_crops_to_max_context():
    table = random_table(5, 4, seed=3)
    model = TableModel(table, max_context=4)    # a model that cannot read more than 4 positions
    out = decoding.generate(model, torch.tensor([[1]]), 12, temperature=0)
    assert out.shape == (1, 13)


def test_generate_with_a_recurrent_model_reads_each_token_once():
    torch.manual_seed(0)
    rnn = CharRNN(9, 8, 16)
    fed = []
    rnn.embedding.register_forward_hook(lambda module, args, out: fed.append(args[0].shape[1]))
    prompt = torch.tensor([[1, 2, 3], [4, 5, 6]])
    a = decoding.generate(rnn, prompt, 10, generator=torch.Generator().manual_seed(1), use_cache=True)
    assert fed == [3] + [1] * 9, "the carried state is the RNN's cache: the prompt once, then one token a step"
    fed.clear()
    b = decoding.generate(rnn, prompt, 10, generator=torch.Generator().manual_seed(1), use_cache=False)
    assert fed == list(range(3, 13)), "without the cache every step re-reads the whole text"
    assert torch.equal(a, b) and a.shape == (2, 13)
    assert torch.equal(rnn.generate(prompt, 10, generator=torch.Generator().manual_seed(1)), a)
    assert rnn.training, "generate must give the model back in the mode it found it"


def test_generate_gives_the_mode_back_after_an_error():
    class Failing(TableModel):
        def forward(self, ids):
            raise RuntimeError("boom")

    model = Failing(random_table(3, 5, seed=0)).train()
    with pytest.raises(RuntimeError, match="boom"):
        decoding.generate(model, torch.tensor([[1]]), 3)
    assert model.training


def test_generate_rejects_bad_input():
    model = TableModel(random_table(3, 5, seed=0))
    with pytest.raises(ValueError, match=r"\(B, T\)"):
        decoding.generate(model, torch.tensor([1, 2]), 3)
    with pytest.raises(ValueError, match="max_new_tokens"):
        decoding.generate(model, torch.tensor([[1]]), -1)


@pytest.mark.parametrize("prompt_len, new, block_size", [(5, 15, 24), (3, 30, 12), (12, 4, 12), (1, 1, 24)])
def test_cached_generation_equals_uncached_under_greedy(prompt_len, new, block_size):
    model = tiny_gpt(block_size=block_size)
    prompt = torch.randint(0, 11, (3, prompt_len), generator=torch.Generator().manual_seed(prompt_len))
    cached = decoding.generate(model, prompt, new, temperature=0, use_cache=True)
    plain = decoding.generate(model, prompt, new, temperature=0, use_cache=False)
    assert torch.equal(cached, plain)
    if new >= 10:
        assert len(set(cached[:, prompt_len:].flatten().tolist())) > 2, "a degenerate model would make this vacuous"


def test_cached_generation_equals_uncached_when_sampling():
    model = tiny_gpt()
    prompt = torch.tensor([[1, 2, 3]])
    runs = [decoding.generate(model, prompt, 15, temperature=1.0, top_k=5, use_cache=c,
                              generator=torch.Generator().manual_seed(9)) for c in (True, False)]
    assert torch.equal(*runs)


# --------------------------------------------------------------------------- beam search

def all_hypotheses(model, prompt, max_new, V, eos):
    """Every continuation, each stopped at its first eos, with its total log-probability."""
    seen = {}
    for tail in itertools.product(range(V), repeat=max_new):
        tail = list(tail)
        if eos is not None and eos in tail:
            tail = tail[:tail.index(eos) + 1]
        ids = torch.tensor([prompt[0].tolist() + tail])
        logp = F.log_softmax(model(ids[:, :-1]), -1)[0, prompt.shape[1] - 1:]
        seen[tuple(tail)] = float(logp.gather(-1, ids[0, prompt.shape[1]:, None]).sum())
    return seen


@pytest.mark.parametrize("eos, alpha", [(None, 0.0), (0, 0.0), (0, 1.0), (0, 0.6)])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_beam_search_equals_exhaustive_search_when_wide_enough(eos, alpha, seed):
    V, max_new = 3, 4
    model = TableModel(random_table(V, 10, seed=seed))
    prompt = torch.tensor([[1]])
    scores = {t: s / len(t) ** alpha for t, s in all_hypotheses(model, prompt, max_new, V, eos).items()}
    best = max(scores, key=scores.get)
    results = decoding.beam_search(model, prompt, max_new, beam_width=V ** max_new, length_penalty=alpha,
                                   eos_token=eos)
    ids, score = results[0]
    assert tuple(ids[1:].tolist()) == best and score == pytest.approx(scores[best], abs=1e-5)
    assert [s for _, s in results] == sorted((s for _, s in results), reverse=True)


def test_beam_search_finds_what_greedy_misses():
    # step 1: A (0.6) or B (0.4); after A the next token is a toss-up (≤ 0.34), after B it is sure (0.9)
    V, A, B = 4, 1, 2
    table = torch.full((3, V, V), -10.0)
    table[0, 0, A], table[0, 0, B] = math.log(0.6), math.log(0.4)
    table[1, A, :3] = math.log(1 / 3)
    table[1, B, 3] = math.log(0.9)
    table[1, B, :3] = math.log(0.1 / 3)
    model = TableModel(table)
    prompt = torch.tensor([[0]])
    greedy = decoding.generate(model, prompt, 2, temperature=0)[0]
    (beam, score), *_ = decoding.beam_search(model, prompt, 2, beam_width=2, length_penalty=0.0)
    assert greedy[1].item() == A and beam.tolist() == [0, B, 3]
    assert score == pytest.approx(math.log(0.4 * 0.9), abs=1e-4)
    assert score > math.log(0.6 / 3)           # better than greedy's best path


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_beam_width_one_is_greedy(seed):
    model = TableModel(random_table(7, 20, seed=seed))
    prompt = torch.tensor([[3, 1]])
    greedy = decoding.generate(model, prompt, 10, temperature=0, stop_token=0)
    (ids, _), = decoding.beam_search(model, prompt, 10, beam_width=1, eos_token=0)
    assert torch.equal(ids, greedy[0])


def test_length_normalisation_favours_longer_outputs():
    model = TableModel(random_table(4, 12, seed=5, scale=1.0))
    prompt = torch.tensor([[1]])
    raw = decoding.beam_search(model, prompt, 8, beam_width=6, length_penalty=0.0, eos_token=0)
    normalised = decoding.beam_search(model, prompt, 8, beam_width=6, length_penalty=1.0, eos_token=0)
    assert len(raw[0][0]) <= len(normalised[0][0])


def test_beam_search_rejects_bad_input():
    model = TableModel(random_table(3, 5, seed=0))
    with pytest.raises(ValueError, match=r"\(1, T\)"):
        decoding.beam_search(model, torch.tensor([[1], [2]]), 2, beam_width=2)
    with pytest.raises(ValueError, match="beam_width"):
        decoding.beam_search(model, torch.tensor([[1]]), 2, beam_width=0)
    with pytest.raises(ValueError, match="length_penalty"):
        decoding.beam_search(model, torch.tensor([[1]]), 2, beam_width=2, length_penalty=-1)


# --------------------------------------------------------------------------- measures

def test_distinct_n_and_repetition():
    assert decoding.distinct_n(["abab", "abc"], 2) == pytest.approx(3 / 5)
    assert decoding.distinct_n([[1, 2, 3], torch.tensor([1, 2, 3])], 3) == pytest.approx(1 / 2)
    assert decoding.distinct_n(["abcdef"], 1) == 1.0
    assert decoding.repeated_ngram_fraction("abcabcabc", 3) == pytest.approx(4 / 7)
    assert decoding.repeated_ngram_fraction("abcdefg", 2) == 0.0
    with pytest.raises(ValueError, match="length"):
        decoding.distinct_n(["ab"], 3)
    with pytest.raises(ValueError, match="positive integer"):
        decoding.distinct_n(["ab"], 0)


@pytest.mark.parametrize("max_context", [None, 5])
def test_mean_log_prob_against_a_hand_loop(max_context):
    model = TableModel(random_table(5, 30, seed=6), max_context=max_context)
    ids = torch.randint(0, 5, (3, 12), generator=torch.Generator().manual_seed(0))
    start = 4
    want = torch.zeros(3)
    for t in range(start, 12):
        context = ids[:, :t] if max_context is None else ids[:, max(0, t - max_context):t]
        want += F.log_softmax(model(context)[:, -1], -1).gather(-1, ids[:, t:t + 1])[:, 0]
    torch.testing.assert_close(decoding.mean_log_prob(model, ids, start), want / (12 - start))
    with pytest.raises(ValueError, match="start"):
        decoding.mean_log_prob(model, ids, 12)
