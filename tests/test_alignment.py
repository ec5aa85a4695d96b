"""Chapter 14 — learning from preferences: the ending task and its trie against the story generator,
exact log-probabilities against step-by-step references, losses against their formulas, π*, best-of-n
and win rates against brute force, and the training loops on a tiny GPT."""

from __future__ import annotations

import copy
import itertools
import math

import pytest
import torch
import torch.nn.functional as F

from llmcourse import alignment as al
from llmcourse.data import MOODS, logprob
from llmcourse.data.lexicon import WORDS
from llmcourse.gpt import GPT, GPTConfig
from llmcourse.tokenization import CharTokenizer

ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ ,.'\"!?-"


@pytest.fixture(scope="module")
def tok():
    return CharTokenizer(ALPHABET)


@pytest.fixture(scope="module")
def task(tok):
    return al.EndingTask(tok, context=12)


@pytest.fixture(scope="module")
def prompts():
    return al.story_prompts(40, seed=3)


def tiny_gpt(tok, seed=0, scale=3.0):
    torch.manual_seed(seed)
    model = GPT(GPTConfig(vocab_size=tok.vocab_size, block_size=80, n_layers=2, n_heads=2, d_model=16))
    with torch.no_grad():                          # sharper predictions than at initialisation
        for p in model.parameters():
            if p.dim() == 2:
                p.mul_(scale)
    return model.eval()


# ---------------------------------------------------------------------------------- the task
def test_endings_are_the_generators_plain_lines():
    assert len(al.ENDINGS) == 32
    counts = {m: sum(e.mood == m for e in al.ENDINGS) for m in MOODS}
    assert counts == {"happy": 12, "bittersweet": 9, "sad": 11}
    plain = {s: [e[0] for e in WORDS[s] if "{" not in e[0]] for s in ("happy_end", "bs_end", "sad_end")}
    for e in al.ENDINGS:
        assert e.text.endswith(".") and "{" not in e.text
        line = e.text[:-1]
        for tail in al.TAILS[1:]:
            line = line.removesuffix(tail)
        key = {"happy": "happy_end", "bittersweet": "bs_end", "sad": "sad_end"}[e.mood]
        assert line in plain[key] or (e.mood == "sad" and line.startswith("went to bed "))


def test_prompts_end_with_an_opener_and_the_hero(prompts):
    openers = [e[0] for e in WORDS["end_open"]]
    for p in prompts:
        opener = next(o for o in openers if f" {o}, " in p.text[-40:])
        body, _, hero = p.text.rpartition(f" {opener}, ")
        assert p.text.endswith(" ") and hero[:-1].isalpha() and f" {hero[:-1]}" in p.text
        assert p.last.endswith((".", "!", "\"")) and len(p.last) > 20 and p.last not in body
    assert {p.mood for p in prompts} == set(MOODS)


def test_generator_writes_exactly_the_endings_of_the_storys_mood(prompts):
    seen = {}
    for p in prompts[:12]:
        lp = al.generator_ending_logprobs(p)
        assert abs(torch.logsumexp(lp, 0).item()) < 1e-5
        moods = torch.tensor([MOODS.index(e.mood) for e in al.ENDINGS])
        assert torch.isfinite(lp[moods == MOODS.index(p.mood)]).all()
        assert torch.isinf(lp[moods != MOODS.index(p.mood)]).all()
        # the log-ratio of two endings is the difference of the whole stories' log-probabilities
        i, j = [k for k, e in enumerate(al.ENDINGS) if e.mood == p.mood][:2]
        want = logprob(p.text + al.ENDINGS[i].text) - logprob(p.text + al.ENDINGS[j].text)
        assert math.isclose(lp[i].item() - lp[j].item(), want, abs_tol=1e-5)
        # and it depends on the mood only
        if p.mood in seen:
            assert torch.allclose(seen[p.mood], lp)
        seen[p.mood] = lp
    assert len(seen) >= 2


def test_the_trie_spells_every_ending_and_nothing_else(task, tok):
    anything = len(task.allowed) - 1
    assert task.allowed[anything].all() and (task.child[anything] == -1).all()
    for i, e in enumerate(al.ENDINGS):
        node = 0
        for t, token in enumerate(tok.encode(e.text)):
            assert task.y_nodes[i, t] == node and task.allowed[node, token]
            node = int(task.child[node, token])
            assert node > 0
        assert task.ending_at[node] == i and not task.allowed[node].any()
    # allowed is exactly "a child exists"
    assert torch.equal(task.allowed[:anything], task.child[:anything] >= 0)
    # each node's allowed characters are the next characters of the endings that pass through it
    prefixes = {}
    for e in al.ENDINGS:
        for t in range(len(e.text)):
            prefixes.setdefault(e.text[:t], set()).add(e.text[t])
    assert len(prefixes) + len(al.ENDINGS) + 1 == len(task.allowed)
    assert task.y_mask.sum(1).tolist() == [len(e.text) for e in al.ENDINGS]
    assert task.reward.tolist() == [al.MOOD_REWARD[e.mood] for e in al.ENDINGS]


def test_task_refuses_endings_that_are_prefixes_and_short_prompts(tok, task):
    with pytest.raises(ValueError, match="start of another"):
        al.EndingTask(tok, endings=(al.Ending("abc.", "happy"), al.Ending("abc.d.", "sad")))
    with pytest.raises(ValueError, match="context"):
        task.encode(["too short"])
    assert task.encode(["a" * 20 + "b" * 12]).tolist() == [tok.encode("b" * 12)]


# ---------------------------------------------------------------------------------- exact log-probs
def _stepwise_logprob(model, task, tok, prompt_ids, ending):
    """The restricted log-probability of one ending, one character at a time, without the cache."""
    ids = prompt_ids.tolist()
    total, node = 0.0, 0
    for token in tok.encode(ending):
        logits = model(torch.tensor([ids]))[0, -1]
        logits = logits.masked_fill(~task.allowed[node], float("-inf"))
        total += F.log_softmax(logits, -1)[token].item()
        node = int(task.child[node, token])
        ids.append(token)
    return total


def test_ending_logprobs_are_a_distribution_equal_to_a_stepwise_reference(task, tok, prompts):
    model = tiny_gpt(tok)
    x = task.encode(prompts[:3])
    table = al.ending_logprobs(model, task, x)
    assert table.shape == (3, 32)
    assert torch.allclose(table.logsumexp(1), torch.zeros(3), atol=1e-5)
    for b in range(3):
        for i in (0, 5, 13, 31):
            want = _stepwise_logprob(model, task, tok, x[b], al.ENDINGS[i].text)
            assert math.isclose(table[b, i].item(), want, abs_tol=1e-4)
    # and equal to the training path (a whole sequence, padded, through sequence_logprob)
    y = torch.arange(32).repeat(3)
    with torch.no_grad():
        flat = al.policy_logprob(model, task, x.repeat_interleave(32, 0), y).view(3, 32)
    assert torch.allclose(flat, table, atol=1e-4)


def test_sample_endings_draws_with_the_exact_probabilities(task, tok, prompts):
    model = tiny_gpt(tok, scale=1.5)
    x = task.encode(prompts[:1]).repeat(1200, 1)
    draws = al.sample_endings(model, task, x, generator=torch.Generator().manual_seed(0))
    assert draws.min() >= 0 and draws.max() < 32
    freq = torch.bincount(draws, minlength=32).float() / len(draws)
    p = al.ending_logprobs(model, task, x[:1])[0].exp()
    assert (freq - p).abs().max() < 4 * math.sqrt(0.25 / len(draws)) + 1e-3
    again = al.sample_endings(model, task, x, generator=torch.Generator().manual_seed(0))
    assert torch.equal(again, draws)                                         # the same seed, the same draws


# ---------------------------------------------------------------------------------- losses
def test_sequence_logprob_counts_the_masked_tokens_only():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(3, 6, 5, generator=g, requires_grad=True)
    ids = torch.randint(0, 5, (3, 6), generator=g)
    mask = torch.tensor([[0, 0, 1, 1, 1, 0], [0, 1, 1, 1, 1, 1], [0, 0, 0, 0, 1, 0]], dtype=torch.bool)
    got = al.sequence_logprob(logits, ids, mask)
    logp = F.log_softmax(logits, -1)
    want = torch.stack([sum(logp[b, t - 1, ids[b, t]] for t in range(1, 6) if mask[b, t]) for b in range(3)])
    assert torch.allclose(got, want)
    got.sum().backward()
    assert logits.grad[2, :3].abs().sum() == 0 and logits.grad[2, 3].abs().sum() > 0   # only position 3 counts
    # restricted to allowed tokens: the softmax runs over them only; -inf never reaches masked positions
    allowed = torch.ones(3, 6, 5, dtype=torch.bool)
    allowed[:, :, 0] = False
    ids2 = ids.clamp_min(1)
    ids2[0, 5] = 0                                            # a disallowed token at a masked-out position
    got = al.sequence_logprob(logits.detach(), ids2, mask, allowed)
    restricted = F.log_softmax(logits.detach()[..., 1:], -1)
    want = torch.stack([sum(restricted[b, t - 1, ids2[b, t] - 1] for t in range(1, 6) if mask[b, t])
                        for b in range(3)])
    assert torch.isfinite(got).all() and torch.allclose(got, want)


def test_bradley_terry_loss_is_the_negative_log_likelihood_and_stable():
    chosen, rejected = torch.tensor([2.0, 0.0, -1.0]), torch.tensor([0.0, 0.0, 1.0])
    want = -torch.log(torch.sigmoid(chosen - rejected)).mean()
    assert torch.allclose(al.bradley_terry_loss(chosen, rejected), want)
    big = al.bradley_terry_loss(torch.tensor([0.0, 200.0]), torch.tensor([200.0, 0.0]))
    assert math.isclose(big.item(), 100.0, rel_tol=1e-6)
    r = torch.tensor([0.5], requires_grad=True)
    al.bradley_terry_loss(r, torch.tensor([0.0])).backward()
    assert r.grad.item() < 0                                  # raising the chosen reward lowers the loss
    with pytest.raises(ValueError):
        al.bradley_terry_loss(torch.zeros(3), torch.zeros(2))


def test_dpo_loss_matches_its_formula_and_leaves_the_reference_alone():
    g = torch.Generator().manual_seed(1)
    pc, pr = torch.randn(5, generator=g, requires_grad=True), torch.randn(5, generator=g, requires_grad=True)
    rc, rr = torch.randn(5, generator=g, requires_grad=True), torch.randn(5, generator=g, requires_grad=True)
    loss, margin = al.dpo_loss(pc, pr, rc, rr, beta=0.3)
    want_margin = 0.3 * ((pc - rc) - (pr - rr))
    assert torch.allclose(margin, want_margin) and not margin.requires_grad
    assert torch.allclose(loss, -torch.log(torch.sigmoid(want_margin)).mean())
    loss.backward()
    assert rc.grad is None and rr.grad is None and pc.grad is not None
    assert torch.allclose(pc.grad, -0.3 * torch.sigmoid(-want_margin.detach()) / 5)
    # equal policy and reference: the loss is ln 2 whatever beta
    z = torch.zeros(4)
    assert math.isclose(al.dpo_loss(z, z, z, z, beta=7.0)[0].item(), math.log(2), rel_tol=1e-6)
    with pytest.raises(ValueError):
        al.dpo_loss(z, z, z, z, beta=0.0)


# ---------------------------------------------------------------------------------- exact quantities
def _random_logp(B, n, seed, zeros=False):
    g = torch.Generator().manual_seed(seed)
    logp = F.log_softmax(2 * torch.randn(B, n, generator=g), -1)
    if zeros:
        logp[:, 0] = float("-inf")
    return logp


def test_kl_divergence_against_torch_and_with_zeros():
    p, q = _random_logp(4, 6, 0), _random_logp(4, 6, 1)
    want = F.kl_div(q, p, log_target=True, reduction="none").sum(-1)
    assert torch.allclose(al.kl_divergence(p, q), want, atol=1e-6)
    pz = _random_logp(4, 6, 2, zeros=True)
    assert torch.isfinite(al.kl_divergence(pz, q)).all()
    assert torch.isinf(al.kl_divergence(q, pz)).all()
    assert torch.allclose(al.kl_divergence(p, p), torch.zeros(4), atol=1e-6)


def test_optimal_policy_maximises_reward_minus_beta_kl():
    ref = _random_logp(3, 7, 3)
    reward = torch.randn(3, 7, generator=torch.Generator().manual_seed(4))
    for beta in (0.1, 1.0, 5.0):
        star = al.optimal_policy(ref, reward, beta)
        assert torch.allclose(star.logsumexp(-1), torch.zeros(3), atol=1e-6)

        def objective(logp):
            return al.expectation(logp, reward) - beta * al.kl_divergence(logp, ref)

        best = objective(star)
        # its value is β log Z, and no other policy does better
        assert torch.allclose(best, beta * torch.logsumexp(ref + reward / beta, -1), atol=1e-5)
        for seed in range(20):
            other = F.log_softmax(star + 0.3 * torch.randn(3, 7, generator=torch.Generator().manual_seed(seed)), -1)
            assert (objective(other) <= best + 1e-6).all()
    # small beta: all the mass on the best response; large beta: the reference
    assert al.optimal_policy(ref, reward, 1e-3).exp().argmax(-1).tolist() == reward.argmax(-1).tolist()
    assert torch.allclose(al.optimal_policy(ref, reward, 1e4), ref, atol=1e-3)


def test_best_of_n_against_enumeration_and_the_kl_bound():
    ref = _random_logp(2, 4, 5)
    scores = torch.tensor([[0.3, -1.0, 2.0, 0.5], [1.0, 1.0, 0.0, -2.0]])        # a tie in row 1
    for n in (1, 2, 3):
        got = al.best_of_n(ref, scores, n).exp()
        for b in range(2):
            want = torch.zeros(4, dtype=torch.float64)
            for draw in itertools.product(range(4), repeat=n):
                prob = math.prod(ref[b, i].exp().item() for i in draw)
                best = max(draw, key=lambda i: (scores[b, i].item(), -i))   # ties: the lower index
                want[best] += prob
            assert torch.allclose(got[b].double(), want, atol=1e-6)
    assert torch.allclose(al.best_of_n(ref, scores, 1), ref, atol=1e-6)
    wide = _random_logp(3, 200, 6)
    s = torch.randn(200, generator=torch.Generator().manual_seed(7))
    for n in (2, 8, 32):
        kl = al.kl_divergence(al.best_of_n(wide, s, n), wide)
        assert (kl <= math.log(n) - (n - 1) / n + 1e-6).all()


def test_win_rate_against_enumeration():
    p, q = _random_logp(2, 5, 8), _random_logp(2, 5, 9)
    scores = torch.tensor([0.0, 1.0, 1.0, -2.0, 3.0])
    got = al.win_rate(p, q, scores)
    for b in range(2):
        want = sum(p[b, i].exp() * q[b, j].exp() * (1.0 if scores[i] > scores[j] else 0.5 if scores[i] == scores[j]
                                                     else 0.0) for i in range(5) for j in range(5))
        assert math.isclose(got[b].item(), want.item(), abs_tol=1e-6)
    assert torch.allclose(al.win_rate(p, p, scores) + al.win_rate(p, p, -scores), torch.ones(2), atol=1e-6)


# ---------------------------------------------------------------------------------- training loops
@pytest.fixture(scope="module")
def setting(task, tok, prompts):
    x = task.encode(prompts)
    return tiny_gpt(tok, scale=1.0), x


def test_annotate_prefers_with_the_bradley_terry_probability(task):
    a, b = torch.zeros(20000, dtype=torch.long), torch.full((20000,), 31, dtype=torch.long)   # happy vs sad
    pairs = al.annotate(torch.zeros(20000, 1, dtype=torch.long), a, b, task.reward,
                        generator=torch.Generator().manual_seed(0))
    share = (pairs.chosen == 0).float().mean().item()
    assert abs(share - torch.sigmoid(torch.tensor(2.0)).item()) < 0.01
    assert torch.equal(torch.sort(torch.stack([pairs.chosen, pairs.rejected]), 0).values[0], a)


def test_reward_model_starts_at_zero_and_reads_the_last_real_token(task, setting):
    model, x = setting
    rm = al.RewardModel(model)
    assert torch.equal(rm.table(task, x[:2]), torch.zeros(2, 32))
    torch.nn.init.normal_(rm.head.weight)
    ids, _, _ = task.sequences(x[:2], torch.tensor([3, 20]))
    lengths = task.lengths(x[:2], torch.tensor([3, 20]))
    padded = torch.cat([ids, torch.full((2, 5), 7)], 1)
    assert torch.allclose(rm(ids, lengths), rm(padded, lengths), atol=1e-6)
    assert torch.allclose(rm.table(task, x[:2])[:, [3, 20]].diagonal(), rm(ids, lengths), atol=1e-5)
    # the reward model is a copy: training it leaves the policy as it was
    assert rm.tok_emb.weight is not model.tok_emb.weight


def test_loops_learn_their_objectives_and_are_deterministic(task, setting):
    model, x = setting
    g = torch.Generator().manual_seed(0)
    happy = torch.tensor([i for i, e in enumerate(al.ENDINGS) if e.mood == "happy"])
    demos = happy[torch.randint(0, len(happy), (len(x),), generator=g)]
    sft = copy.deepcopy(model)
    losses = al.supervised_finetune(sft, task, x, demos, steps=15, batch_size=16, lr=5e-3, progress=False)
    happy_share = al.ending_logprobs(sft, task, x).exp()[:, happy].sum(1).mean()
    assert losses[-1] < losses[0] and happy_share > 0.6
    twin = copy.deepcopy(model)
    assert al.supervised_finetune(twin, task, x, demos, steps=15, batch_size=16, lr=5e-3, progress=False) == losses

    a = al.sample_endings(model, task, x.repeat(3, 1), generator=g)
    b = al.sample_endings(model, task, x.repeat(3, 1), generator=g)
    pairs = al.annotate(x.repeat(3, 1), a, b, task.reward * 10, generator=g)      # a sure annotator
    rm = al.RewardModel(model)
    rm_losses = al.train_reward_model(rm, task, pairs, steps=20, batch_size=32, lr=5e-3, progress=False)
    table = rm.table(task, x[:4])
    assert rm_losses[-1] < rm_losses[0]
    assert table[:, task.moods == 0].mean() > table[:, task.moods == 2].mean() + 0.5

    ref = al.ending_logprobs(model, task, x)
    dpo = copy.deepcopy(model)
    dpo_losses = al.train_dpo(dpo, task, pairs, al.pair_logprobs(model, task, pairs), beta=0.5, steps=12,
                              batch_size=32, lr=5e-3, progress=False)
    after = al.ending_logprobs(dpo, task, x)
    assert dpo_losses[-1] < dpo_losses[0] - 0.1
    assert al.expectation(after, task.reward).mean() > al.expectation(ref, task.reward).mean() + 0.2
    assert all(p.grad is None for p in model.parameters())                  # the reference never trains

    rl = copy.deepcopy(model)
    returns = al.train_reinforce(rl, model, rm, task, x, beta=0.5, steps=12, prompts_per_step=8,
                                 samples_per_prompt=4, lr=5e-3, progress=False)
    after = al.ending_logprobs(rl, task, x)
    assert al.expectation(after, task.reward).mean() > al.expectation(ref, task.reward).mean() + 0.2
    assert len(returns) == 12
