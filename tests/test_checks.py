"""The argument checks the modules share (``llmcourse._checks``): what each accepts, what it refuses
and with which message; ``bool`` is never a number; ``eval_mode`` restores the mode even after an error."""

from __future__ import annotations

import math

import pytest
import torch

from llmcourse import _checks as c


@pytest.mark.parametrize("check, args, good, bad, message", [
    (c.positive_int, (), [1, 7], [0, -3, 2.0, "2", None, True], "n must be a positive integer, got "),
    (c.int_at_least, (0,), [0, 5], [-1, 0.0, False], "n must be an integer ≥ 0, got "),
    (c.int_at_least, (3,), [3, 4], [2, True], "n must be an integer ≥ 3, got "),
    (c.positive, (), [1, 0.5, 1e-9], [0, -1.0, math.nan, "1", True, None], "n must be a number > 0, got "),
    (c.non_negative, (), [0, 0.0, 2.5], [-1e-9, math.nan, False, "0"], "n must be a number ≥ 0, got "),
    (c.probability, (), [0, 0.0, 0.999], [1, 1.0, -0.1, math.nan, True], "n must be a probability in [0, 1), got "),
])
def test_number_checks(check, args, good, bad, message):
    for value in good:
        assert check("n", value, *args) == value
    for value in bad:
        with pytest.raises(ValueError) as info:
            check("n", value, *args)
        assert str(info.value) == f"{message}{value!r}"


def test_bool_is_never_an_integer_or_a_number():
    assert not c.is_int(True) and not c.is_int(False) and c.is_int(0) and not c.is_int(1.0)
    for check in (c.positive_int, c.positive, c.non_negative, c.probability):
        with pytest.raises(ValueError):
            check("x", True)


def test_notes_follow_the_expectation():
    with pytest.raises(ValueError, match=r"^temperature must be a number > 0 \(or greedy=True\), got 0$"):
        c.positive("temperature", 0, " (or greedy=True)")
    with pytest.raises(ValueError, match=r"^order must be a positive integer \(1 = unigram\), got 0$"):
        c.positive_int("order", 0, " (1 = unigram)")
    assert c.probability("dropout", 0) == 0.0 and isinstance(c.probability("dropout", 0), float)


def test_one_of():
    assert c.one_of("cell", "gru", ["gru", "lstm"]) == "gru"
    assert c.one_of("cell", "lstm", {"lstm": 1}) == "lstm"
    with pytest.raises(ValueError, match=r"^cell must be one of \['gru', 'lstm'\], got 'rnn'$"):
        c.one_of("cell", "rnn", {"lstm": 1, "gru": 2})


@pytest.mark.parametrize("shape, dtype, good", [
    ("(B, T)", "long", [torch.zeros(2, 3, dtype=torch.long), torch.zeros(0, 1, dtype=torch.long)]),
    ("(B, 5)", None, [torch.zeros(2, 5), torch.zeros(1, 5, dtype=torch.long)]),
    ("(..., T, d)", "float", [torch.zeros(3, 4), torch.zeros(1, 2, 3, 4, dtype=torch.float64)]),
    ("(...)", "int", [torch.tensor(3), torch.zeros(2, 2, dtype=torch.int8), torch.zeros(4, dtype=torch.uint8)]),
    ("(B,)", "bool", [torch.ones(3, dtype=torch.bool)]),
])
def test_tensor_accepts(shape, dtype, good):
    for x in good:
        assert c.tensor("x", x, shape, dtype) is x


@pytest.mark.parametrize("x, shape, dtype, message", [
    (torch.zeros(3), "(B, T)", "long",
     "x must be a tensor of shape (B, T) and dtype long, got shape (3,) and dtype torch.float32"),
    (torch.zeros(2, 3), "(B, T)", "long",
     "x must be a tensor of shape (B, T) and dtype long, got shape (2, 3) and dtype torch.float32"),
    (torch.zeros(2, 4), "(B, 5)", None, "x must be a tensor of shape (B, 5), got shape (2, 4) and dtype torch.float32"),
    (torch.zeros(4), "(..., T, d)", None, "x must be a tensor of shape (..., T, d), got shape (4,) and dtype torch.float32"),
    (torch.zeros(2, dtype=torch.long), "(..., d)", "float",
     "x must be a tensor of shape (..., d) and a floating-point dtype, got shape (2,) and dtype torch.int64"),
    (torch.ones(2, dtype=torch.bool), "(N,)", "int",
     "x must be a tensor of shape (N,) and an integer dtype, got shape (2,) and dtype torch.bool"),
    (torch.zeros(2, dtype=torch.int32), "(N,)", "long",
     "x must be a tensor of shape (N,) and dtype long, got shape (2,) and dtype torch.int32"),
    ([[1, 2]], "(B, T)", None, "x must be a tensor of shape (B, T), got list"),
])
def test_tensor_refuses(x, shape, dtype, message):
    with pytest.raises(ValueError) as info:
        c.tensor("x", x, shape, dtype)
    assert str(info.value) == message


def test_bool_mask():
    mask = torch.ones(2, 2, dtype=torch.bool)
    assert c.bool_mask("mask", mask) is mask and c.bool_mask("mask", None) is None
    for bad, got in [(torch.ones(2, 2), "torch.float32"), ([[True]], "list")]:
        with pytest.raises(ValueError, match=rf"^mask must be a bool tensor \(True = may attend\), got {got}$"):
            c.bool_mask("mask", bad)


def test_same_and_broadcast():
    assert c.same("d", q=4, k=4, v=4) == 4
    with pytest.raises(ValueError, match=r"^q, k and v need the same dtype, got q: a, k: a, v: b$"):
        c.same("dtype", q="a", k="a", v="b")
    assert c.broadcast("shapes", (2, 1, 4), (3, 1), ()) == (2, 3, 4)
    with pytest.raises(ValueError, match=r"^the leading dimensions do not broadcast: \(2,\), \(3,\)$"):
        c.broadcast("the leading dimensions", (2,), torch.Size([3]))


def test_in_vocab():
    ids = torch.tensor([[0, 4], [2, 1]])
    assert c.in_vocab("ids", ids, 5) is ids
    assert c.in_vocab("ids", torch.zeros(0, dtype=torch.long), 1).numel() == 0
    for bad, lo, hi in [(torch.tensor([0, 5]), 0, 5), (torch.tensor([-1, 2]), -1, 2)]:
        with pytest.raises(ValueError, match=rf"^ids must lie in \[0, vocab_size\) = \[0, 5\), got values from {lo} to {hi}$"):
            c.in_vocab("ids", bad, 5)


@pytest.mark.parametrize("start_training", [True, False])
def test_eval_mode_restores_the_mode_even_after_an_error(start_training):
    model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Dropout(0.5))
    model.train(start_training)
    with c.eval_mode(model) as inside:
        assert inside is model and not model.training and not model[1].training
    assert model.training == start_training and model[1].training == start_training
    with pytest.raises(RuntimeError, match="boom"):
        with c.eval_mode(model):
            assert not model.training
            raise RuntimeError("boom")
    assert model.training == start_training and model[1].training == start_training
    assert torch.is_grad_enabled(), "eval_mode leaves gradients alone: no_grad is separate"


def test_eval_mode_leaves_objects_without_modes_alone():
    class Counter:
        calls = 0

    counter = Counter()
    with c.eval_mode(counter) as inside:
        assert inside is counter
    assert not hasattr(counter, "training")
