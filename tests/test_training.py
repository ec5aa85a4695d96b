"""The shared training loop (Chapter 02) against hand-computed cases."""

import math
from types import SimpleNamespace

import matplotlib
import pytest
import torch

from llmcourse import training
from llmcourse.training import LossHistory, evaluate, get_batch, train, train_val_split

matplotlib.use("Agg")


class Bigram(torch.nn.Module):
    """A table of logits: row = current token."""

    def __init__(self, vocab_size: int) -> None:
        super().__init__()
        self.table = torch.nn.Embedding(vocab_size, vocab_size)

    def forward(self, x):
        return self.table(x)


class Flat(Bigram):
    """A wrong model: logits flattened to (B*T, V)."""

    def forward(self, x):
        return super().forward(x).reshape(-1, self.table.num_embeddings)


def test_split_is_contiguous_and_sized():
    ids = torch.arange(100)
    train_ids, val_ids = train_val_split(ids, 0.1)
    assert train_ids.tolist() == list(range(90)) and val_ids.tolist() == list(range(90, 100))
    assert train_ids.dtype == torch.long


def test_get_batch_shapes_and_shift():
    data = torch.arange(1000)
    x, y = get_batch(data, 8, 16, torch.Generator().manual_seed(0))
    assert x.shape == y.shape == (8, 16) and x.dtype == y.dtype == torch.long
    assert torch.equal(y, x + 1)                              # targets are the next tokens
    assert torch.equal(x[:, 1:], x[:, :-1] + 1)               # contiguous windows
    # the last possible window is reachable and never overruns
    x, y = get_batch(torch.arange(5), 200, 4, torch.Generator().manual_seed(0))
    assert int(y.max()) == 4 and set(x[:, 0].tolist()) == {0}


def test_get_batch_is_deterministic_for_a_seed():
    data = torch.randint(0, 50, (500,), generator=torch.Generator().manual_seed(3))
    a = get_batch(data, 4, 8, torch.Generator().manual_seed(7))
    b = get_batch(data, 4, 8, torch.Generator().manual_seed(7))
    c = get_batch(data, 4, 8, torch.Generator().manual_seed(8))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[0], c[0])


def test_evaluate_equals_hand_computed_cross_entropy():
    torch.manual_seed(0)
    model = Bigram(3)
    data = torch.tensor([0, 1, 2, 0, 1, 2, 0, 1, 2, 0])
    # with block_size = 9 there is one possible window: every transition scored once
    logp = torch.log_softmax(model.table.weight.detach(), dim=-1)
    expected = -sum(float(logp[a, b]) for a, b in zip(data[:-1].tolist(), data[1:].tolist())) / 9
    model.train()
    got = evaluate(model, data, batch_size=2, block_size=9, n_batches=3)
    assert math.isclose(got, expected, rel_tol=1e-5)
    assert model.training
    model.eval()
    evaluate(model, data, batch_size=2, block_size=9, n_batches=1)
    assert not model.training


def test_train_decreases_loss_and_is_deterministic():
    data = torch.tensor([0, 1, 2, 3] * 100)
    tr, va = train_val_split(data, 0.25)
    runs = []
    for _ in range(2):
        torch.manual_seed(0)
        model = Bigram(4)
        runs.append(train(model, tr, va, steps=60, batch_size=8, block_size=8, lr=0.1, eval_every=20,
                          eval_batches=2, progress=False))
    h = runs[0]
    assert h.steps == [0, 20, 40, 60] and len(h.train) == len(h.val) == len(h.seconds) == 4
    assert h.val[-1] < 0.5 * h.val[0] and h.train[-1] < 0.5 * h.train[0]
    assert runs[0].train == runs[1].train and runs[0].val == runs[1].val


def test_grad_clip_and_custom_optimizer_run():
    data = torch.tensor([0, 1, 2] * 50)
    model = Bigram(3)
    opt = torch.optim.SGD(model.parameters(), lr=1.0)
    h = train(model, data, data, steps=10, block_size=4, optimizer=opt, grad_clip=0.5, eval_every=5,
              eval_batches=1, progress=False)
    assert h.steps == [0, 5, 10] and h.val[-1] < h.val[0]


def test_time_budget_stops_training(monkeypatch):
    # A clock of our own, read by train through its module's `time`: one training step costs
    # exactly 1 "second" and nothing else moves it, so the test never depends on the machine.
    clock = SimpleNamespace(now=0.0)
    monkeypatch.setattr(training, "time", SimpleNamespace(perf_counter=lambda: clock.now))

    class Slow(Bigram):
        def forward(self, x):
            if self.training:
                clock.now += 1.0
            return super().forward(x)

    data = torch.tensor([0, 1, 2] * 50)
    h = train(Slow(3), data, data, steps=10_000, block_size=4, eval_every=5, eval_batches=1,
              time_budget=12, progress=False)
    assert h.steps == [0, 5, 10, 12], "12 steps of 1 s fit in a 12 s budget, the 13th does not start"
    assert h.seconds == [0.0, 5.0, 10.0, 12.0]
    h = train(Slow(3), data, data, steps=3, block_size=4, eval_every=5, eval_batches=1,
              time_budget=12, progress=False)
    assert h.steps == [0, 3], "steps ends training first when the budget is not used up"


def test_plot_draws_floor():
    h = LossHistory(steps=[0, 1], train=[2.0, 1.0], val=[2.1, 1.2], seconds=[0.0, 0.1])
    ax = h.plot(floor=0.5, label="bigram", title="t")
    labels = [line.get_label() for line in ax.get_lines()]
    assert labels == ["bigram train", "bigram validation", "entropy floor"]
    assert ax.get_title() == "t" and "nats" in ax.get_ylabel()


def test_bad_arguments_are_refused_clearly():
    with pytest.raises(ValueError, match=r"shape \(N,\)"):
        get_batch(torch.zeros(3, 4, dtype=torch.long), 2, 2)
    with pytest.raises(ValueError, match="at least 9"):
        get_batch(torch.arange(5), 2, 8)
    with pytest.raises(ValueError, match="batch_size"):
        get_batch(torch.arange(50), 0, 8)
    with pytest.raises(ValueError, match="integer"):
        get_batch(torch.rand(50), 2, 8)
    with pytest.raises(ValueError, match="val_fraction"):
        train_val_split(torch.arange(10), 1.5)
    with pytest.raises(ValueError, match="empty"):
        train_val_split(torch.arange(3), 0.01)
    with pytest.raises(ValueError, match=r"\(B, T, V\)"):
        evaluate(Flat(50), torch.arange(50), batch_size=2, block_size=4)
    data = torch.arange(50) % 3
    with pytest.raises(ValueError, match="steps"):
        train(Bigram(3), data, data, steps=-1, progress=False)
    with pytest.raises(ValueError, match="time_budget"):
        train(Bigram(3), data, data, steps=1, block_size=4, time_budget=0, progress=False)
    with pytest.raises(ValueError, match="val_data"):
        train(Bigram(3), data, data[:5], steps=1, block_size=8, progress=False)
