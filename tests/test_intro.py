"""Chapter 00 — the pipeline in one page: softmax, temperature, the greedy pick, the table."""

from __future__ import annotations

import math

import pytest
import torch

from llmcourse.intro import apply_temperature, greedy_pick, probability_table, softmax


def test_softmax_matches_the_formula_and_sums_to_one():
    logits = torch.tensor([[1.0, 2.0, 3.0], [0.0, 0.0, -1.0]])
    probs = softmax(logits)
    by_hand = [[math.exp(x) / sum(math.exp(y) for y in row) for x in row] for row in logits.tolist()]
    assert torch.allclose(probs, torch.tensor(by_hand), atol=1e-6)
    assert torch.allclose(softmax(logits, dim=0).sum(dim=0), torch.ones(3))


def test_softmax_does_not_overflow_and_gives_minus_infinity_zero():
    probs = softmax(torch.tensor([1000.0, 1001.0, float("-inf")]))
    assert torch.isfinite(probs).all()
    assert probs[2] == 0.0
    assert abs(float(probs[1]) - 1 / (1 + math.exp(-1))) < 1e-6


def test_softmax_refuses_integer_logits():
    with pytest.raises(TypeError, match="floating-point"):
        softmax(torch.tensor([1, 2]))


def test_temperature_sharpens_and_flattens_without_changing_the_input():
    logits = torch.tensor([1.0, 3.0])
    before = logits.clone()
    cold, hot = softmax(apply_temperature(logits, 0.5)), softmax(apply_temperature(logits, 4.0))
    assert cold[1] > softmax(logits)[1] > hot[1] > 0.5
    assert torch.equal(logits, before)


@pytest.mark.parametrize("temperature", [0.0, -1.0, float("nan")])
def test_temperature_must_be_positive(temperature):
    with pytest.raises(ValueError, match="temperature must be > 0"):
        apply_temperature(torch.zeros(3), temperature)


def test_greedy_pick_takes_the_first_of_ties_and_keeps_batch_shape():
    assert greedy_pick(torch.tensor([0.2, 0.5, 0.5])) == 1
    picks = greedy_pick(torch.tensor([[[0.0, 1.0], [3.0, 2.0]]]))
    assert picks.shape == (1, 2) and picks.tolist() == [[1, 0]]
    with pytest.raises(ValueError, match="scalar"):
        greedy_pick(torch.tensor(1.0))


def test_probability_table_sorts_and_caps_k():
    rows = probability_table(torch.tensor([0.1, 0.6, 0.3]), {0: "a", 1: "b", 2: "c"}, k=10)
    assert rows == [("b", pytest.approx(0.6)), ("c", pytest.approx(0.3)), ("a", pytest.approx(0.1))]
    with pytest.raises(ValueError, match=r"shape \(V,\)"):
        probability_table(torch.ones(2, 2), ["a", "b"])
