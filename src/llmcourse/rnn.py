"""Recurrent networks from scratch (Chapter 04 — the RNN baseline).

Read top to bottom, in the order the chapter builds them:

1. the cells — :class:`RNNCell` (``h' = tanh(W x + U h + b)``), :class:`LSTMCell` (gates
   i, f, g, o and a cell state), :class:`GRUCell` (gates r, z, n) — with torch's parameter
   layout (``weight_ih``, ``weight_hh``, ``bias_ih``, ``bias_hh``) so that, given the same
   weights, they equal ``torch.nn.RNNCell`` / ``LSTMCell`` / ``GRUCell``;
2. :class:`Recurrent` — a stack of cells unrolled over time, equal to ``torch.nn.RNN`` /
   ``LSTM`` / ``GRU`` (``batch_first=True``) after :meth:`Recurrent.load_torch`;
3. :func:`clip_grad_norm` — rescale all gradients together when their global norm is too big;
4. :class:`CharRNN` — embedding → recurrent layers → linear head, ``(B, T)`` → ``(B, T, V)``;
   its :class:`CarriedState` is what :func:`~llmcourse.decoding.generate` uses as its cache;
5. :func:`input_gradient_norms` — how strongly the last hidden state depends on each input;
6. :func:`recall_accuracy` — the long-range recall experiment, for *any* ``(B, T) → (B, T, V)`` model.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from llmcourse import decoding
from llmcourse._checks import eval_mode, one_of, positive, tensor
from llmcourse.data import SEPARATOR, Story, StoryConfig, generate_stories

class _Cell(nn.Module):
    """Shared parameters: ``weight_ih (G·H, I)``, ``weight_hh (G·H, H)``, biases ``(G·H,)``.

    Initialised like torch: uniform in ``±1/sqrt(H)``.
    """

    gates = 1

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        gh = self.gates * hidden_size
        self.weight_ih = nn.Parameter(torch.empty(gh, input_size))
        self.weight_hh = nn.Parameter(torch.empty(gh, hidden_size))
        self.bias_ih = nn.Parameter(torch.empty(gh))
        self.bias_hh = nn.Parameter(torch.empty(gh))
        bound = 1.0 / math.sqrt(hidden_size)
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def _zeros(self, x: torch.Tensor) -> torch.Tensor:
        return x.new_zeros(x.shape[0], self.hidden_size)


class RNNCell(_Cell):
    """The vanilla (Elman) cell: ``h' = tanh(x W_ihᵀ + b_ih + h W_hhᵀ + b_hh)``.

    ``x (B, I)``, ``h (B, H)`` or ``None`` (zeros) → ``h' (B, H)``.

    >>> cell = RNNCell(3, 4)
    >>> cell(torch.zeros(2, 3)).shape
    torch.Size([2, 4])

    Chapter 04 — the RNN baseline.
    """

    def forward(self, x: torch.Tensor, h: torch.Tensor | None = None) -> torch.Tensor:
        tensor("x", x, f"(B, {self.input_size})")
        h = self._zeros(x) if h is None else h
        return torch.tanh(x @ self.weight_ih.T + self.bias_ih + h @ self.weight_hh.T + self.bias_hh)


class LSTMCell(_Cell):
    """Long short-term memory: gates input ``i``, forget ``f``, candidate ``g``, output ``o``.

    ``c' = f ⊙ c + i ⊙ g`` and ``h' = o ⊙ tanh(c')``. The rows of the weights hold the gates in
    torch's order i, f, g, o. ``x (B, I)``, ``state = (h, c)`` each ``(B, H)`` or ``None``
    → ``(h', c')``.

    >>> h, c = LSTMCell(3, 4)(torch.zeros(2, 3))
    >>> h.shape, c.shape
    (torch.Size([2, 4]), torch.Size([2, 4]))

    Chapter 04 — the RNN baseline.
    """

    gates = 4

    def forward(self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        tensor("x", x, f"(B, {self.input_size})")
        h, c = (self._zeros(x), self._zeros(x)) if state is None else state
        z = x @ self.weight_ih.T + self.bias_ih + h @ self.weight_hh.T + self.bias_hh   # (B, 4H)
        i, f, g, o = z.chunk(4, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        return h, c


class GRUCell(_Cell):
    """Gated recurrent unit: reset ``r``, update ``z``, candidate ``n`` (torch's order r, z, n).

    ``n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))`` and ``h' = (1 − z) ⊙ n + z ⊙ h``.
    ``x (B, I)``, ``h (B, H)`` or ``None`` → ``h' (B, H)``.

    >>> GRUCell(3, 4)(torch.zeros(2, 3)).shape
    torch.Size([2, 4])

    Chapter 04 — the RNN baseline.
    """

    gates = 3

    def forward(self, x: torch.Tensor, h: torch.Tensor | None = None) -> torch.Tensor:
        tensor("x", x, f"(B, {self.input_size})")
        h = self._zeros(x) if h is None else h
        xr, xz, xn = (x @ self.weight_ih.T + self.bias_ih).chunk(3, dim=1)
        hr, hz, hn = (h @ self.weight_hh.T + self.bias_hh).chunk(3, dim=1)
        r, z = torch.sigmoid(xr + hr), torch.sigmoid(xz + hz)
        n = torch.tanh(xn + r * hn)
        return (1 - z) * n + z * h


CELLS = {"rnn": RNNCell, "lstm": LSTMCell, "gru": GRUCell}


class Recurrent(nn.Module):
    """``n_layers`` cells of one kind, unrolled over time: ``x (B, T, I)`` → ``(out (B, T, H), state)``.

    ``state`` is laid out as torch's: ``h (L, B, H)``, or ``(h, c)`` for the LSTM; ``None`` means
    zeros. ``out[:, t]`` is the top layer's hidden state after reading ``x[:, t]``.

    >>> out, h = Recurrent("gru", 3, 4, n_layers=2)(torch.zeros(2, 5, 3))
    >>> out.shape, h.shape
    (torch.Size([2, 5, 4]), torch.Size([2, 2, 4]))

    Chapter 04 — the RNN baseline.
    """

    def __init__(self, cell: str, input_size: int, hidden_size: int, n_layers: int = 1) -> None:
        super().__init__()
        self.kind = one_of("cell", cell, CELLS)
        self.input_size, self.hidden_size, self.n_layers = input_size, hidden_size, n_layers
        sizes = [input_size] + [hidden_size] * (n_layers - 1)
        self.cells = nn.ModuleList(CELLS[cell](i, hidden_size) for i in sizes)

    def forward(self, x: torch.Tensor, state=None):
        tensor("x", x, f"(B, T, {self.input_size})")
        lstm = self.kind == "lstm"
        finals_h, finals_c = [], []
        for layer, cell in enumerate(self.cells):
            s = None if state is None else ((state[0][layer], state[1][layer]) if lstm else state[layer])
            outputs = []
            for t in range(x.shape[1]):                  # the unrolled loop: one step per input
                s = cell(x[:, t], s)
                outputs.append(s[0] if lstm else s)
            x = torch.stack(outputs, dim=1)              # (B, T, H): the next layer's input
            finals_h.append(s[0] if lstm else s)
            if lstm:
                finals_c.append(s[1])
        h = torch.stack(finals_h)                        # (L, B, H)
        return x, ((h, torch.stack(finals_c)) if lstm else h)

    @torch.no_grad()
    def load_torch(self, module: nn.RNNBase) -> "Recurrent":
        """Copy the weights of a ``torch.nn.RNN/LSTM/GRU`` (``weight_ih_l0``, ...) into the cells."""
        for layer, cell in enumerate(self.cells):
            for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                getattr(cell, name).copy_(getattr(module, f"{name}_l{layer}"))
        return self


def clip_grad_norm(parameters: Iterable[torch.Tensor], max_norm: float) -> torch.Tensor:
    """Scale all gradients by ``min(1, max_norm / (total + 1e-6))``; return the total norm before.

    The total is the *global* L2 norm, over every gradient entry of every parameter, so the
    direction of the update is kept. Equals ``torch.nn.utils.clip_grad_norm_``.

    >>> w = torch.zeros(2, requires_grad=True); w.grad = torch.tensor([3.0, 4.0])   # norm 5
    >>> clip_grad_norm([w], 1.0), w.grad
    (tensor(5.), tensor([0.6000, 0.8000]))

    Chapter 04 — the RNN baseline.
    """
    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return torch.tensor(0.0)
    total = torch.sqrt(sum((g.detach().float() ** 2).sum() for g in grads))
    scale = torch.clamp(max_norm / (total + 1e-6), max=1.0)
    for g in grads:
        g.mul_(scale.to(g.dtype))
    return total


@dataclass
class CarriedState:
    """What a :class:`CharRNN` has read: its hidden state (``None`` before the first token).

    ``CharRNN.forward(x, caches=...)`` starts from it and stores the state after ``x``, so each new
    token costs one step — the recurrent counterpart of a :class:`~llmcourse.transformer.KVCache`.

    Chapter 04 — the RNN baseline.
    """

    state: object = None


class CharRNN(nn.Module):
    """A recurrent language model: ``x (B, T)`` ids → logits ``(B, T, V)``.

    Embedding ``(V, d_embed)`` → :class:`Recurrent` (or, with ``fast=True``, torch's fused
    ``nn.LSTM/GRU/RNN`` holding the same parameters) → linear head ``(d_hidden → V)``.
    ``forward(x, state=None, return_state=False)`` carries a state between calls;
    :meth:`new_caches` and ``forward(x, caches=...)`` do the same for
    :func:`~llmcourse.decoding.generate`, so generating reads each token once. With
    ``forget_bias`` (LSTM only) every forget gate's bias starts at that value instead of torch's
    small random one: gates start nearly open, and the memory is kept while training is young.

    >>> model = CharRNN(10, 8, 16, cell="gru")
    >>> model(torch.zeros(2, 5, dtype=torch.long)).shape
    torch.Size([2, 5, 10])

    Chapter 04 — the RNN baseline.
    """

    max_context = None   # an RNN reads any length (used by :func:`recall_accuracy`)

    def __init__(self, vocab_size: int, d_embed: int, d_hidden: int, cell: str = "lstm",
                 n_layers: int = 1, fast: bool = True, forget_bias: float | None = None) -> None:
        super().__init__()
        self.vocab_size, self.cell = vocab_size, one_of("cell", cell, CELLS)
        if forget_bias is not None and cell != "lstm":
            raise ValueError(f"forget_bias is for the LSTM's forget gate; cell {cell!r} has none")
        self.embedding = nn.Embedding(vocab_size, d_embed)
        if fast:
            torch_class = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[cell]
            self.rnn = torch_class(d_embed, d_hidden, num_layers=n_layers, batch_first=True)
        else:
            self.rnn = Recurrent(cell, d_embed, d_hidden, n_layers)
        self.head = nn.Linear(d_hidden, vocab_size)
        if forget_bias is not None:
            self._set_forget_bias(float(forget_bias), d_hidden)

    @torch.no_grad()
    def _set_forget_bias(self, value: float, hidden: int) -> None:
        # Rows H:2H of the biases belong to the forget gate (gate order i, f, g, o). Starting it
        # at ``value`` (1 in Jozefowicz et al., 2015) keeps f = sigmoid(value) near 1, so the cell
        # state -- and the gradient through it -- survives many steps from the first update on.
        for name, param in self.rnn.named_parameters():
            if "bias_ih" in name:
                param[hidden:2 * hidden] = value
            elif "bias_hh" in name:
                param[hidden:2 * hidden] = 0.0

    def new_caches(self) -> CarriedState:
        """An empty :class:`CarriedState`, for ``forward(..., caches=...)``."""
        return CarriedState()

    def forward(self, x: torch.Tensor, state=None, return_state: bool = False, *,
                caches: CarriedState | None = None):
        tensor("x", x, "(B, T)", dtype="long")
        out, state = self.rnn(self.embedding(x), state if caches is None else caches.state)   # (B, T, H)
        if caches is not None:
            caches.state = state                          # the next call goes on from there
        logits = self.head(out)                           # (B, T, V)
        return (logits, state) if return_state else logits

    def generate(self, prompt: torch.Tensor, max_new_tokens: int, *, temperature: float = 1.0,
                 greedy: bool = False, generator: torch.Generator | None = None) -> torch.Tensor:
        """Continue ``prompt (B, T)`` by ``max_new_tokens`` ids → ``(B, T + max_new_tokens)``.

        :func:`llmcourse.decoding.generate` (the course's one generation loop) with this model:
        the prompt is read once, then each token updates the carried state. Samples at
        ``temperature`` with ``generator``, or takes the argmax with ``greedy=True``.

        >>> CharRNN(10, 8, 16).generate(torch.zeros(2, 3, dtype=torch.long), 4, greedy=True).shape
        torch.Size([2, 7])

        Chapter 04 — the RNN baseline (the loop: Chapter 08 — decoding).
        """
        if not greedy:
            positive("temperature", temperature, " (or greedy=True)")
        return decoding.generate(self, prompt, max_new_tokens, temperature=0 if greedy else temperature,
                                 generator=generator)


def input_gradient_norms(model_or_cell: nn.Module, T: int, *, batch_size: int = 32, seed: int = 0
                         ) -> torch.Tensor:
    """``‖∂(u·h_T)/∂x_t‖`` for every input step, indexed by distance: entry ``d`` is ``t = T − 1 − d``.

    Feeds ``T`` standard-normal inputs ``(B, T, I)`` from a zero state into a cell
    (:class:`RNNCell`, :class:`LSTMCell`, :class:`GRUCell` or torch's), a :class:`Recurrent`, or a
    :class:`CharRNN` (its recurrent part, on inputs of size ``d_embed``), and backpropagates
    through time from ``u·h_T`` with a random unit vector ``u`` per sequence. Returns ``(T,)``:
    the gradient norm averaged over the batch.

    Chapter 04 — the RNN baseline.
    """
    module = model_or_cell.rnn if isinstance(model_or_cell, CharRNN) else model_or_cell
    g = torch.Generator().manual_seed(seed)
    size = module.input_size
    x = torch.randn(batch_size, T, size, generator=g, requires_grad=True)
    if isinstance(module, nn.RNNBase) and not module.batch_first:
        raise ValueError("input_gradient_norms needs a torch recurrent module built with batch_first=True")
    if isinstance(module, (nn.RNNBase, Recurrent)):
        h = module(x)[0][:, -1]                            # the top layer's last state (B, H)
    else:
        s = None
        for t in range(T):
            s = module(x[:, t], s)
        h = s[0] if isinstance(s, tuple) else s
    u = torch.randn(h.shape, generator=g)
    u = u / u.norm(dim=1, keepdim=True)
    (grad,) = torch.autograd.grad((h * u).sum(), x)
    return grad.norm(dim=2).mean(dim=0).flip(0).detach()   # (T,), distance 0 first


@dataclass
class RecallResult:
    """Accuracy of recalling the colour, per distance bucket ``[lo, hi)`` in characters (``hi=None``: open).

    ``accuracy`` — the correct colour's first character ranks first among the candidates';
    ``greedy_accuracy`` — it is the argmax over the whole vocabulary; ``chance`` = 1 / #candidates.
    """

    buckets: list[tuple[int, int | None]]
    accuracy: list[float]
    greedy_accuracy: list[float]
    counts: list[int]
    chance: float

    def rows(self) -> list[tuple[str, int, float, float]]:
        return [(f"{lo}–{hi}" if hi is not None else f"≥ {lo}", n, a, ga) for (lo, hi), n, a, ga in
                zip(self.buckets, self.counts, self.accuracy, self.greedy_accuracy)]


def _default_candidates() -> list[str]:
    from llmcourse.data.lexicon import WORDS
    return [english for english, _ in WORDS["color"]]


@torch.no_grad()
def recall_accuracy(model: nn.Module, *, encode: Callable[[str], Sequence[int]],
                    stories: Sequence[Story] | None = None, config: StoryConfig | None = None,
                    n_stories: int = 200, seed: int = 12345, buckets: Sequence[int] = (0, 100, 200, 300, 400, 600),
                    candidates: Sequence[str] | None = None, max_context: int | None = None,
                    kinds: tuple[str, ...] = ("gap", "code"), batch_size: int = 64) -> RecallResult:
    """The long-range recall experiment, for any model ``(B, T)`` ids → ``(B, T, V)`` logits.

    For every :class:`~llmcourse.data.Recall` of the given ``kinds`` in ``stories`` (anything with
    ``text`` and ``recalls``: stories, or the drills of :mod:`llmcourse.data.drills`; default
    ``generate_stories(n_stories, seed, config)``), the model reads :data:`SEPARATOR` + the text
    up to the recall's target — "... still thought about the " — and its logits for the next
    token are compared on the first characters of the ``candidates`` (default: the corpus's
    colours, whose first letters differ; for drills, the ten digits). Correct when the first
    character of the recalled value scores highest among them; chance is ``1 / len(candidates)``. ``encode`` maps a string to
    ids (one id per character: a char-level tokenizer). Contexts longer than ``max_context``
    (default: the model's ``max_context`` attribute, ``None`` = unlimited) are truncated from the
    left. Distances (``distance_chars``) are grouped by the edges ``buckets`` (the last bucket is
    open: ``hi = None``). Prompts are batched, padded on the right: the model must be causal (its
    logits at ``t`` depend on ``x[:, :t+1]`` only), as every language model of the course is.

    Chapter 04 — the RNN baseline (reused in Chapter 07 — gpt).
    """
    candidates = list(candidates) if candidates is not None else _default_candidates()
    firsts = [list(encode(c[0])) for c in candidates]
    if any(len(f) != 1 for f in firsts) or len({f[0] for f in firsts}) != len(firsts):
        raise ValueError("recall_accuracy needs each candidate's first character to be one distinct token "
                         f"(a character-level encode); got {dict(zip(candidates, firsts))}")
    cand_ids = torch.tensor([f[0] for f in firsts])
    if stories is None:
        stories = generate_stories(n_stories, seed=seed, config=config or StoryConfig(recall_gap=(0, 8)))
    if max_context is None:
        max_context = getattr(model, "max_context", None)
    edges = list(buckets)
    hits = [[0, 0, 0] for _ in buckets]                  # (n, ranked first, greedy)
    first_chars = [c[0] for c in candidates]
    items = [(story.text[:r.target_span[0]], r) for story in stories for r in story.recalls
             if r.kind in kinds and r.value[:1] in first_chars]
    with eval_mode(model):
        for start in range(0, len(items), batch_size):
            chunk = items[start:start + batch_size]
            rows = [list(encode(SEPARATOR + prefix)) for prefix, _ in chunk]
            if max_context is not None:
                rows = [ids[-max_context:] for ids in rows]
            width = max(len(ids) for ids in rows)   # pad on the right: a causal model ignores it
            x = torch.tensor([ids + [ids[-1]] * (width - len(ids)) for ids in rows])
            logits = model(x)                                                    # (B, T, V)
            last = logits[torch.arange(len(rows)), torch.tensor([len(ids) - 1 for ids in rows])]  # (B, V)
            for (_, recall), scores in zip(chunk, last):
                want = first_chars.index(recall.value[0])
                b = max(k for k in range(len(buckets)) if recall.distance_chars >= edges[k] or k == 0)
                hits[b][0] += 1
                hits[b][1] += int(scores[cand_ids].argmax()) == want
                hits[b][2] += int(scores.argmax()) == int(cand_ids[want])
    spans = [(edges[k], edges[k + 1] if k + 1 < len(edges) else None) for k in range(len(edges))]
    keep = [k for k in range(len(buckets)) if hits[k][0]]
    return RecallResult([spans[k] for k in keep], [hits[k][1] / hits[k][0] for k in keep],
                        [hits[k][2] / hits[k][0] for k in keep], [hits[k][0] for k in keep], 1 / len(candidates))
