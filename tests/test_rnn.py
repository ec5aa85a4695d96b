"""Chapter 04 — the RNN baseline: cells and layers against torch, clipping, CharRNN, recall."""

from __future__ import annotations

import pytest
import torch

from llmcourse import rnn
from llmcourse.data import StoryConfig, generate_stories

TORCH_CELLS = {"rnn": torch.nn.RNNCell, "lstm": torch.nn.LSTMCell, "gru": torch.nn.GRUCell}
TORCH_LAYERS = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}


def _copy_cell(ours, ref):
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(ours, name).copy_(getattr(ref, name))


@pytest.mark.parametrize("kind", sorted(TORCH_CELLS))
def test_cell_equals_torch(kind):
    torch.manual_seed(0)
    ref, ours = TORCH_CELLS[kind](5, 7), rnn.CELLS[kind](5, 7)
    assert {n: p.shape for n, p in ours.named_parameters()} == {n: p.shape for n, p in ref.named_parameters()}
    _copy_cell(ours, ref)
    x = torch.randn(4, 5)
    if kind == "lstm":
        state = (torch.randn(4, 7), torch.randn(4, 7))
        for a, b in zip(ours(x, state), ref(x, state)):
            torch.testing.assert_close(a, b, atol=1e-5, rtol=0)
        for a, b in zip(ours(x), ref(x)):
            torch.testing.assert_close(a, b, atol=1e-5, rtol=0)
    else:
        h = torch.randn(4, 7)
        torch.testing.assert_close(ours(x, h), ref(x, h), atol=1e-5, rtol=0)
        torch.testing.assert_close(ours(x), ref(x), atol=1e-5, rtol=0)


@pytest.mark.parametrize("kind", sorted(TORCH_LAYERS))
@pytest.mark.parametrize("n_layers", [1, 2])
def test_unrolled_layer_equals_torch(kind, n_layers):
    torch.manual_seed(1)
    ref = TORCH_LAYERS[kind](3, 6, num_layers=n_layers, batch_first=True)
    ours = rnn.Recurrent(kind, 3, 6, n_layers).load_torch(ref)
    x = torch.randn(2, 9, 3)
    h0 = torch.randn(n_layers, 2, 6)
    state = (h0, torch.randn(n_layers, 2, 6)) if kind == "lstm" else h0
    for s in (None, state):
        out_ours, final_ours = ours(x, s)
        out_ref, final_ref = ref(x, s)
        torch.testing.assert_close(out_ours, out_ref, atol=1e-5, rtol=0)
        for a, b in zip(final_ours if kind == "lstm" else [final_ours], final_ref if kind == "lstm" else [final_ref]):
            torch.testing.assert_close(a, b, atol=1e-5, rtol=0)


def test_cell_rejects_wrong_shape():
    with pytest.raises(ValueError, match=r"\(B, 5\)"):
        rnn.LSTMCell(5, 3)(torch.zeros(2, 4))
    with pytest.raises(ValueError, match="cell must be one of"):
        rnn.Recurrent("transformer", 2, 2)


@pytest.mark.parametrize("max_norm", [0.01, 1.0, 1e6])
def test_clip_grad_norm_equals_torch(max_norm):
    torch.manual_seed(2)
    a = [torch.randn(3, 4, requires_grad=True), torch.randn(5, requires_grad=True), torch.randn(2, requires_grad=True)]
    b = [p.detach().clone().requires_grad_(True) for p in a]
    for params in (a, b):
        (params[0].sum() * 3 + (params[1] ** 2).sum()).backward()   # the third has no gradient
    before = [p.grad.clone() for p in a[:2]]
    norm_before = torch.sqrt(sum((g ** 2).sum() for g in before))   # ≈ 10.7: above 0.01 and 1, below 1e6
    total = rnn.clip_grad_norm(a, max_norm)
    torch.testing.assert_close(total, norm_before)
    norm_after = torch.sqrt(sum((p.grad ** 2).sum() for p in a[:2]))
    if norm_before > max_norm:       # clipped: the global norm is now max_norm, the direction kept
        assert norm_after == pytest.approx(max_norm, rel=1e-4)
        for p, g in zip(a[:2], before):
            torch.testing.assert_close(p.grad, g * (max_norm / norm_before), rtol=1e-4, atol=1e-9)
    else:                            # below the threshold: the gradients are left as they were
        for p, g in zip(a[:2], before):
            assert torch.equal(p.grad, g)
    expected = torch.nn.utils.clip_grad_norm_(b, max_norm)
    torch.testing.assert_close(total, expected)
    for p, q in zip(a[:2], b[:2]):
        torch.testing.assert_close(p.grad, q.grad)
    assert a[2].grad is None


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_char_rnn_fast_and_teaching_paths_agree(kind):
    torch.manual_seed(3)
    fast = rnn.CharRNN(11, 4, 8, cell=kind, n_layers=2)
    slow = rnn.CharRNN(11, 4, 8, cell=kind, n_layers=2, fast=False)
    slow.embedding.load_state_dict(fast.embedding.state_dict())
    slow.head.load_state_dict(fast.head.state_dict())
    slow.rnn.load_torch(fast.rnn)
    x = torch.randint(0, 11, (3, 6))
    torch.testing.assert_close(fast(x), slow(x), atol=1e-5, rtol=0)
    assert fast(x).shape == (3, 6, 11)


@pytest.mark.parametrize("fast", [True, False])
def test_forget_bias_opens_every_forget_gate(fast):
    torch.manual_seed(0)
    model = rnn.CharRNN(12, 5, 6, cell="lstm", n_layers=2, fast=fast, forget_bias=2.0)
    biases = dict(model.rnn.named_parameters())
    for name, b in biases.items():
        if "bias" not in name:
            continue
        f_rows = b[6:12]                                   # gate order i, f, g, o
        assert torch.all(f_rows == (2.0 if "bias_ih" in name else 0.0)), name
        assert not torch.all(b[:6] == 0)                   # the other gates keep torch's initialisation
    x = torch.randint(0, 12, (1, 4))
    _, (h, c) = model(x, return_state=True)
    assert h.shape == c.shape == (2, 1, 6)
    with pytest.raises(ValueError, match="forget_bias"):
        rnn.CharRNN(12, 5, 6, cell="gru", forget_bias=1.0)


def test_char_rnn_state_carries_and_generate():
    torch.manual_seed(4)
    model = rnn.CharRNN(7, 4, 8)
    x = torch.randint(0, 7, (2, 10))
    whole = model(x)
    first, state = model(x[:, :6], return_state=True)
    rest = model(x[:, 6:], state)
    torch.testing.assert_close(torch.cat([first, rest], dim=1), whole, atol=1e-5, rtol=0)
    caches = model.new_caches()                  # the same state, carried for decoding.generate
    pieces = [model(x[:, a:b], caches=caches) for a, b in [(0, 6), (6, 7), (7, 10)]]
    torch.testing.assert_close(torch.cat(pieces, dim=1), whole, atol=1e-5, rtol=0)
    out = model.generate(x[:, :3], 5, greedy=True)
    assert out.shape == (2, 8) and torch.equal(out[:, :3], x[:, :3])
    # greedy generation is the argmax of a full forward pass at every step
    for t in range(3, 8):
        assert torch.equal(model(out[:, :t])[:, -1].argmax(-1), out[:, t])
    with pytest.raises(ValueError, match="dtype long"):
        model(torch.zeros(2, 3))


def test_vanishing_gradients_rnn_far_below_lstm():
    torch.manual_seed(0)
    norms_rnn = rnn.input_gradient_norms(rnn.RNNCell(32, 32), 52, batch_size=8)
    torch.manual_seed(0)
    norms_lstm = rnn.input_gradient_norms(rnn.LSTMCell(32, 32), 52, batch_size=8)
    assert norms_rnn.shape == (52,)
    assert norms_rnn[50] < 1e-3 * norms_lstm[50]
    assert norms_rnn[0] > 100 * norms_rnn[20] > 0


def test_gradient_norms_agree_for_cell_and_layer():
    torch.manual_seed(5)
    layer = rnn.Recurrent("lstm", 4, 6)
    a = rnn.input_gradient_norms(layer, 10, batch_size=3)
    b = rnn.input_gradient_norms(layer.cells[0], 10, batch_size=3)
    torch.testing.assert_close(a, b)


class _Oracle(torch.nn.Module):
    """A model that reads the colour named earlier in the context and predicts its first letter."""

    def __init__(self, vocab, colours, max_context=None):
        super().__init__()
        self.vocab, self.colours, self.max_context = vocab, colours, max_context

    def forward(self, x):   # causal: position t sees x[:, :t+1] only
        logits = torch.zeros(*x.shape, len(self.vocab))
        for b, row in enumerate(x.tolist()):
            text, current = "", None
            for t, i in enumerate(row):
                text += self.vocab[i]
                current = next((c for c in self.colours if text.endswith(f" {c} ")), current)
                if current is not None:
                    logits[b, t, self.vocab.index(current[0])] = 1.0
        return logits


def test_recall_accuracy_perfect_and_truncated():
    stories = generate_stories(40, seed=1, config=StoryConfig(recall_gap=(0, 8)))
    vocab = sorted(set("".join(s.text for s in stories)) | {"\n"})
    colours = rnn._default_candidates()
    encode = lambda s: [vocab.index(c) for c in s]  # noqa: E731
    result = rnn.recall_accuracy(_Oracle(vocab, colours), encode=encode, stories=stories)
    assert result.chance == pytest.approx(1 / len(colours))
    assert sum(result.counts) == 40
    # the oracle names the most recent colour word: right unless a distractor colour sits in between.
    # Counted here by hand, story by story; its only non-zero logit is a candidate, so greedy agrees.
    def most_recent_colour(prefix):
        return max(colours, key=lambda c: prefix.rfind(f" {c} ") + len(c) if f" {c} " in prefix else -1)

    right = sum(most_recent_colour(s.text[:r.target_span[0]]) == r.value
                for s in stories for r in s.recalls if r.kind in ("gap", "code"))
    assert 0.6 * 40 < right < 40, "a distractor sometimes sits in between, but rarely"
    assert sum(a * n for a, n in zip(result.accuracy, result.counts)) == pytest.approx(right)
    assert sum(a * n for a, n in zip(result.greedy_accuracy, result.counts)) == pytest.approx(right)
    short = rnn.recall_accuracy(_Oracle(vocab, colours, max_context=10), encode=encode, stories=stories)
    # a 10-character window never sees the colour: all-zero logits rank the first candidate first
    n_first = sum(r.value == colours[0] for s in stories for r in s.recalls if r.kind == "gap")
    assert sum(a * n for a, n in zip(short.accuracy, short.counts)) == pytest.approx(n_first)
    assert max(short.greedy_accuracy) == 0.0


def test_doctests():
    import doctest

    assert doctest.testmod(rnn).failed == 0
