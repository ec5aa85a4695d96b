"""Counting n-gram models against hand-computed cases."""

import math

import pytest
import torch

from llmcourse.ngram import NGramModel


def test_bigram_probabilities_are_normalised_counts():
    ids = [0, 1, 0, 1, 0, 2, 2, 1]
    m = NGramModel(order=2, alpha=0.0).fit(ids, vocab_size=3)
    assert torch.allclose(m.next_token_probs([0]), torch.tensor([0.0, 2 / 3, 1 / 3]))
    assert torch.allclose(m.next_token_probs([2]), torch.tensor([0.0, 0.5, 0.5]))
    for ctx in ([0], [1], [2], [5 % 3]):
        assert math.isclose(float(m.next_token_probs(ctx).sum()), 1.0, rel_tol=1e-6)


def test_smoothing_and_backoff_keep_every_token_possible():
    m = NGramModel(order=3, alpha=1.0).fit([0, 1, 2, 0, 1, 2], vocab_size=4)
    # context (2, 2) never occurs: backs off to the bigram row of 2, then smooths with alpha = 1
    probs = m.next_token_probs([2, 2])
    assert torch.allclose(probs, torch.tensor([2, 1, 1, 1]) / 5.0)   # 2 was followed once by 0
    assert m.nll([0, 1, 3]) < math.inf


def test_nll_matches_hand_computation_and_generation_is_seeded():
    ids = [0, 1, 0, 1, 0, 2]
    m = NGramModel(order=2, alpha=0.0).fit(ids, vocab_size=3)
    # transitions 0→1 (2/3), 1→0 (1), 0→1 (2/3), 1→0 (1), 0→2 (1/3)
    expected = -(2 * math.log(2 / 3) + math.log(1 / 3)) / 5
    assert math.isclose(m.nll(ids), expected, rel_tol=1e-6)
    a = m.generate([0], 20, generator=torch.Generator().manual_seed(1))
    b = m.generate([0], 20, generator=torch.Generator().manual_seed(1))
    assert a == b and len(a) == 20
    assert m.generate([1], 3, temperature=0) == [0, 1, 0]


@pytest.mark.parametrize("order", [1, 2, 3])
def test_the_model_protocol_and_the_one_generation_loop(order):
    from llmcourse import decoding

    ids = torch.randint(0, 5, (200,), generator=torch.Generator().manual_seed(order))
    m = NGramModel(order=order).fit(ids, vocab_size=5)
    x = ids[:14].view(2, 7)
    logits = m(x)                                          # (B, T, V), like every model of the course
    assert logits.shape == (2, 7, 5) and m.max_context == max(1, order - 1)
    for b in range(2):
        for t in range(7):
            assert torch.equal(logits[b, t], m.next_token_logits(x[b, :t + 1].tolist()))
    # generate is decoding.generate: the same draws, and a hand loop over next_token_probs
    assert m.generate([1, 2], 12, generator=torch.Generator().manual_seed(3)) == \
        decoding.generate(m, torch.tensor([[1, 2]]), 12, generator=torch.Generator().manual_seed(3))[0, 2:].tolist()
    out = [1, 2]
    for _ in range(12):
        out.append(int(m.next_token_probs(out).argmax()))
    assert m.generate([1, 2], 12, temperature=0) == out[2:]


def test_bad_input_is_refused_clearly():
    with pytest.raises(ValueError, match="order"):
        NGramModel(order=0)
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        NGramModel(order=2).fit([0, 1, 5], vocab_size=3)
    with pytest.raises(RuntimeError, match="fit"):
        NGramModel().next_token_probs([0])


# --- Chapter 02: the bigram as tensors --------------------------------------------------------------

from llmcourse.ngram import NeuralBigram, bigram_counts  # noqa: E402


def test_bigram_counts_match_the_counting_model():
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(0, 6, (500,), generator=g)
    counts = bigram_counts(ids, 6)
    assert counts.shape == (6, 6) and float(counts.sum()) == 499
    m = NGramModel(order=2, alpha=0.0).fit(ids, vocab_size=6)
    for i in range(6):
        assert torch.allclose(counts[i] / counts[i].sum(), m.next_token_probs([i]))
    assert bigram_counts([2, 0], 3)[2, 0] == 1 and bigram_counts([2, 0], 3)[0, 2] == 0   # row = context


def test_neural_bigram_from_counts_gives_the_smoothed_probabilities():
    ids = [0, 1, 0, 1, 0, 2, 2, 1]
    model = NeuralBigram.from_counts(bigram_counts(ids, 3), alpha=0.5)
    ngram = NGramModel(order=2, alpha=0.5).fit(ids, vocab_size=3)
    logits = model(torch.tensor([[0, 1, 2]]))
    assert logits.shape == (1, 3, 3)
    for t, ctx in enumerate([0, 1, 2]):
        assert torch.allclose(torch.softmax(logits[0, t], -1), ngram.next_token_probs([ctx]), atol=1e-6)


def test_bigram_helpers_refuse_bad_input():
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        bigram_counts([0, 3], 3)
    with pytest.raises(ValueError, match="at least 2"):
        bigram_counts([1], 3)
    with pytest.raises(ValueError, match="square"):
        NeuralBigram.from_counts(torch.zeros(2, 3))
