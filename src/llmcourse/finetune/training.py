"""Fine-tuning machinery: new characters, answer-only loss, freezing, the step and the loop (Chapter 11).

* :func:`extend_vocabulary` — new characters for a character-level GPT, old rows kept;
* :func:`encode_examples` and :func:`answer_loss` — labels of ``-100`` on the prompt and the padding;
* :func:`freeze` and :func:`trainable_parameters`;
* :func:`finetune_step` and :func:`finetune`; :func:`story_loss` (what is left of the old corpus).
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from llmcourse._checks import eval_mode, int_at_least, non_negative, positive, positive_int, tensor
from llmcourse.finetune.task import END, Example
from llmcourse.gpt import GPT, GPTConfig, configure_optimizer, lr_schedule
from llmcourse.tokenization import CharTokenizer
from llmcourse.training import progress_bar, set_lr

IGNORE = -100        # a label that the loss skips (PyTorch's cross_entropy ignore_index)


def extend_vocabulary(model: GPT, tokenizer: CharTokenizer, text: str, *, seed: int = 0) -> tuple[GPT, CharTokenizer]:
    """A copy of ``model`` whose vocabulary also holds every character of ``text`` it lacked.

    Returns ``(new_model, new_tokenizer)``; ``model`` is not changed. The new
    :class:`~llmcourse.tokenization.CharTokenizer` keeps ids in sorted character order, so old
    characters may get new ids: each row of the embedding ``(V, C)`` (tied to the output layer)
    moves with its character. A new character's row is drawn (with ``seed``) from the old rows'
    distribution, dimension by dimension: their mean plus their standard deviation times a normal
    draw — a typical character, and one of its own. (Rows all equal to the mean would be "average"
    too, but identical: attention could not tell the new characters apart until training had
    pulled them apart.) All other weights are copied. With no new character, the copy equals the
    model.

    >>> model = GPT(GPTConfig(vocab_size=3, block_size=8, n_layers=1, n_heads=1, d_model=4))
    >>> bigger, tok = extend_vocabulary(model, CharTokenizer("abc"), "ab0")
    >>> tok.itos, bool((bigger.tok_emb.weight[1:] == model.tok_emb.weight).all())
    (['0', 'a', 'b', 'c'], True)

    Chapter 11 — Fine-tuning and transfer learning.
    """
    if not isinstance(model, GPT) or not isinstance(tokenizer, CharTokenizer):
        raise TypeError("extend_vocabulary expects a GPT and its CharTokenizer")
    if tokenizer.unk_token is not None or tokenizer.vocab_size != model.config.vocab_size:
        raise ValueError(f"the tokenizer ({tokenizer.vocab_size} characters) must be the model's "
                         f"({model.config.vocab_size}), without an unk_token")
    new = CharTokenizer(tokenizer.itos + sorted(set(text) - set(tokenizer.itos)))
    bigger = GPT(GPTConfig(**{**model.config.__dict__, "vocab_size": new.vocab_size}))
    state = {k: v for k, v in model.state_dict().items() if k not in ("tok_emb.weight", "lm_head.weight")}
    bigger.load_state_dict(state, strict=False)
    old = model.tok_emb.weight.detach()                                      # (V, C)
    noise = torch.randn(new.vocab_size, old.shape[1], generator=torch.Generator().manual_seed(seed))
    rows = old.mean(dim=0) + old.std(dim=0) * noise                          # (V', C): typical rows
    rows[[new.stoi[c] for c in tokenizer.itos]] = old                       # old characters keep theirs
    with torch.no_grad():
        bigger.tok_emb.weight.copy_(rows)                                   # lm_head is the same tensor
    bigger.train(model.training)
    return bigger, new


def encode_examples(examples: Sequence[Example], tokenizer, *, pad_id: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """A padded batch: ``ids (B, T)`` and ``labels (B, T)`` (long), ``T`` the longest example.

    ``ids`` holds each ``Example.text`` then ``pad_id``. ``labels`` equals ``ids`` on the answer
    and its :data:`END`, and :data:`IGNORE` (``-100``) on the prompt and the padding, so that only
    the answer's tokens are learned. Labels are *aligned* with ``ids``: :func:`answer_loss` shifts
    them (the prediction made at position ``t`` is scored against ``labels[t + 1]``).

    >>> tok = CharTokenizer("abc\\n")                          # ids: newline 0, a 1, b 2, c 3
    >>> ids, labels = encode_examples([Example("x", "ab", "c"), Example("y", "a", "b")], tok)
    >>> ids.tolist(), labels.tolist()          # the second row padded with id 0 (not learned)
    ([[1, 2, 3, 0], [1, 2, 0, 0]], [[-100, -100, 3, 0], [-100, 2, 0, -100]])

    Chapter 11 — Fine-tuning and transfer learning.
    """
    if not examples:
        raise ValueError("encode_examples needs at least one example")
    rows = [(tokenizer.encode(e.prompt), tokenizer.encode(e.answer + END)) for e in examples]
    T = max(len(p) + len(a) for p, a in rows)
    ids = torch.full((len(rows), T), pad_id, dtype=torch.long)
    labels = torch.full((len(rows), T), IGNORE, dtype=torch.long)
    for b, (prompt, answer) in enumerate(rows):
        n = len(prompt) + len(answer)
        ids[b, :n] = torch.tensor(prompt + answer)
        labels[b, len(prompt):n] = torch.tensor(answer)
    return ids, labels


def answer_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy over the labelled tokens: ``logits (B, T, V)``, ``labels (B, T)`` → scalar.

    Position ``t`` predicts token ``t + 1``, so ``logits[:, :-1]`` are scored against
    ``labels[:, 1:]``; labels equal to :data:`IGNORE` (the prompt, the padding) count for nothing.
    Every answer token weighs the same, whichever example it belongs to.

    Chapter 11 — Fine-tuning and transfer learning.
    """
    tensor("logits", logits, "(B, T, V)", dtype="float")
    tensor("labels", labels, "(B, T)", dtype="long")
    if logits.shape[:2] != labels.shape:
        raise ValueError(f"logits {tuple(logits.shape)} and labels {tuple(labels.shape)} must share (B, T)")
    targets = labels[:, 1:]
    if not (targets != IGNORE).any():
        raise ValueError("no label to learn: every label after the first is -100")
    return F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), targets.reshape(-1),
                           ignore_index=IGNORE)


def freeze(model: torch.nn.Module, prefixes: Sequence[str]) -> list[str]:
    """Stop training every parameter whose name starts with one of ``prefixes``; return their names.

    ``requires_grad = False``: backward computes no gradient for them, and an optimizer built
    afterwards over the trainable parameters (:func:`llmcourse.gpt.param_groups` keeps only
    those) never moves them — not even by weight decay. Other parameters are left as they are.

    >>> model = GPT(GPTConfig(vocab_size=5, block_size=4, n_layers=2, n_heads=1, d_model=4))
    >>> freeze(model, ["tok_emb", "blocks.0."])[:2]
    ['tok_emb.weight', 'blocks.0.ln1.weight']

    Chapter 11 — Fine-tuning and transfer learning.
    """
    if isinstance(prefixes, str):
        raise ValueError(f"prefixes must be a list of name prefixes, got the string {prefixes!r}")
    frozen = []
    for name, p in model.named_parameters():
        if any(name.startswith(prefix) for prefix in prefixes):
            p.requires_grad_(False)
            frozen.append(name)
    return frozen


def trainable_parameters(model: torch.nn.Module) -> int:
    """How many numbers training may change (a tied matrix counted once).

    Chapter 11 — Fine-tuning and transfer learning.
    """
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def finetune_step(model: torch.nn.Module, optimizer: torch.optim.Optimizer, ids: torch.Tensor,
                  labels: torch.Tensor, *, grad_clip: float | None = None) -> float:
    """One step on a batch from :func:`encode_examples`; returns the loss before the step.

    ``zero_grad`` (gradients would otherwise add up over steps) → forward → :func:`answer_loss`
    → ``backward`` → clip the gradient norm to ``grad_clip`` (if given) → ``optimizer.step()``.

    Chapter 11 — Fine-tuning and transfer learning.
    """
    model.train()
    optimizer.zero_grad(set_to_none=True)
    loss = answer_loss(model(ids), labels)
    loss.backward()
    if grad_clip is not None:
        torch.nn.utils.clip_grad_norm_([p for p in model.parameters() if p.requires_grad], grad_clip)
    optimizer.step()
    return loss.item()


@dataclass
class FinetuneHistory:
    """What :func:`finetune` recorded: the training ``loss`` of every step (answer tokens only)
    and the ``seconds`` (wall clock) and ``cpu_seconds`` it took.

    Chapter 11 — Fine-tuning and transfer learning.
    """

    loss: list[float]
    seconds: float
    cpu_seconds: float

    def smoothed(self, window: int = 20) -> list[float]:
        """The loss averaged over the last ``window`` steps, at every step."""
        positive_int("window", window)
        out, total = [], 0.0
        for i, value in enumerate(self.loss):
            total += value - (self.loss[i - window] if i >= window else 0.0)
            out.append(total / min(i + 1, window))
        return out


def _batches(lengths: Sequence[int], batch_size: int, sort_window: int, rng: random.Random) -> Iterator[list[int]]:
    """Batches of indices into examples of these ``lengths``, forever: without replacement, epoch
    after epoch, each epoch in a new order drawn from ``rng`` (what an epoch leaves over opens the
    next one's first batch). With ``sort_window`` > 0, each run of ``sort_window`` batches of an
    epoch is sorted by length before it is cut into batches, the batches are shuffled, and what is
    left over is dropped, so that examples of similar length share a batch."""
    order: list[int] = []
    while True:
        if not sort_window:
            if len(order) < batch_size:
                fresh = list(range(len(lengths)))
                rng.shuffle(fresh)
                order += fresh
            batch, order = order[:batch_size], order[batch_size:]
            yield batch
            continue
        fresh = list(range(len(lengths)))
        rng.shuffle(fresh)
        batches, size = [], sort_window * batch_size
        for first in range(0, len(fresh), size):
            window = sorted(fresh[first:first + size], key=lambda i: lengths[i])
            batches += [window[i:i + batch_size] for i in range(0, len(window) - batch_size + 1, batch_size)]
        rng.shuffle(batches)
        yield from batches or [fresh]


def finetune(model: GPT, tokenizer, examples: Sequence[Example], *, steps: int, batch_size: int = 16,
             lr: float = 1e-3, weight_decay: float = 0.0, warmup_steps: int | None = None,
             grad_clip: float | None = 1.0, seed: int = 0, progress: bool = True,
             on_step: Callable[[int, float], None] | None = None,
             curriculum: Sequence[tuple[Sequence[Example], int]] = (), sort_window: int = 0) -> FinetuneHistory:
    """Train ``model`` on ``examples`` for ``steps`` steps of :func:`finetune_step`; answer tokens only.

    Batches of ``batch_size`` examples are drawn without replacement, epoch after epoch, in an
    order seeded by ``seed`` (an example set smaller than a batch is one batch). AdamW over the
    *trainable* parameters (frozen ones are left out: see :func:`freeze`), decay on matrices only,
    learning rate warmed up linearly over ``warmup_steps`` (default: a tenth of the steps) then
    cosine-decayed to ``lr / 10``. ``on_step(step, loss)`` is called after every step.

    ``curriculum`` — ``((easier_examples, n_steps), ...)`` — trains on other examples first: each
    phase for its ``n_steps``, in order, then ``examples`` for the steps left (``steps`` counts
    them all). One optimizer and one learning-rate schedule run through every phase.
    ``sort_window`` > 0 puts examples of similar length in the same batch (each run of
    ``sort_window`` batches of an epoch sorted by length, the batches then shuffled): a batch is
    padded to its longest example, so less padding is computed.

    Chapter 11 — Fine-tuning and transfer learning.
    """
    int_at_least("steps", steps, 0)
    positive_int("batch_size", batch_size)
    positive("lr", lr)
    non_negative("weight_decay", weight_decay)
    int_at_least("sort_window", sort_window, 0)
    phases = [(list(phase), int_at_least("curriculum steps", n, 0)) for phase, n in curriculum]
    if sum(n for _, n in phases) > steps:
        raise ValueError(f"the curriculum's phases take {sum(n for _, n in phases)} steps, more than steps={steps}")
    if not examples or any(not phase for phase, _ in phases):
        raise ValueError("finetune needs at least one example (in every phase of the curriculum)")
    phases.append((list(examples), steps - sum(n for _, n in phases)))
    warmup = steps // 10 if warmup_steps is None else int_at_least("warmup_steps", warmup_steps, 0)
    if trainable_parameters(model) == 0:
        raise ValueError("every parameter of the model is frozen: nothing to fine-tune")
    optimizer = configure_optimizer(model, lr=lr, weight_decay=weight_decay)
    rng = random.Random(seed)
    losses = []
    start, cpu = time.perf_counter(), time.process_time()
    step = 0
    with progress_bar(steps, "fine-tuning", progress) as bar:
        for phase, phase_steps in phases:
            batches = _batches([len(e.text) for e in phase], batch_size, sort_window, rng)
            for _ in range(phase_steps):
                ids, labels = encode_examples([phase[i] for i in next(batches)], tokenizer)
                set_lr(optimizer, lr_schedule(step, max_lr=lr, min_lr=lr / 10, warmup_steps=warmup, total_steps=steps))
                loss = finetune_step(model, optimizer, ids, labels, grad_clip=grad_clip)
                if not math.isfinite(loss):
                    raise FloatingPointError(f"the loss became {loss} at step {step}: "
                                             f"lower the learning rate (lr={lr})")
                losses.append(loss)
                if on_step is not None:
                    on_step(step, loss)
                bar.update(1)
                bar.set_postfix(loss=f"{loss:.3f}")
                step += 1
    model.eval()
    return FinetuneHistory(losses, time.perf_counter() - start, time.process_time() - cpu)


def _answer_counts(model: torch.nn.Module, tokenizer, examples: Sequence[Example], batch_size: int
                   ) -> tuple[float, int, int]:
    """(nats summed, tokens ranked first, tokens) over the answer tokens of ``examples``, teacher-forced."""
    if not examples:
        raise ValueError("need at least one example")
    positive_int("batch_size", batch_size)
    nats, right, count = 0.0, 0, 0
    with eval_mode(model), torch.no_grad():
        for first in range(0, len(examples), batch_size):
            ids, labels = encode_examples(examples[first:first + batch_size], tokenizer)
            logits, targets = model(ids)[:, :-1], labels[:, 1:]                      # (B, T-1, V), (B, T-1)
            counted = targets != IGNORE
            nats += float(F.cross_entropy(logits[counted], targets[counted], reduction="sum"))
            right += int((logits[counted].argmax(dim=-1) == targets[counted]).sum())
            count += int(counted.sum())
    return nats, right, count


def mean_answer_loss(model: torch.nn.Module, tokenizer, examples: Sequence[Example], *,
                     batch_size: int = 64) -> float:
    """The mean :func:`answer_loss` over ``examples`` (nats per answer token, :data:`END` included),
    without training: every answer token of every example weighs the same.

    Chapter 11 — Fine-tuning and transfer learning.
    """
    nats, _, count = _answer_counts(model, tokenizer, examples, batch_size)
    return nats / count


def answer_accuracy(model: torch.nn.Module, tokenizer, examples: Sequence[Example], *,
                    batch_size: int = 64) -> float:
    """The fraction of answer tokens (:data:`END` included) that ``model`` ranks first when it is
    given the prompt and the right answer so far (teacher forcing): a per-character accuracy,
    which moves long before whole answers come out right (:func:`~llmcourse.finetune.task.exact_match`).

    Chapter 11 — Fine-tuning and transfer learning.
    """
    _, right, count = _answer_counts(model, tokenizer, examples, batch_size)
    return right / count


def story_loss(model: torch.nn.Module, tokenizer, text: str, *, n_batches: int = 8, batch_size: int = 16,
               seed: int = 0) -> float:
    """Cross-entropy (nats/char) of ``model`` on windows of ``text`` as long as its context.

    The same ``n_batches`` windows (seeded) for every model, so that two models — before and after
    fine-tuning — are compared on the same text. Chapter 02's :func:`~llmcourse.training.evaluate`.

    Chapter 11 — Fine-tuning and transfer learning.
    """
    from llmcourse.training import evaluate

    ids = torch.tensor(tokenizer.encode(text))
    return evaluate(model, ids, batch_size=batch_size, block_size=model.max_context, n_batches=n_batches, seed=seed)
