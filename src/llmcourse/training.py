"""The training loop every model of the course uses (Chapter 02 — language models).

Read top to bottom, this is the whole recipe of training a language model:

1. :func:`train_val_split` — hold out the end of the token stream to measure generalisation;
2. :func:`get_batch` — cut ``B`` random windows of ``T`` tokens; the targets are the same
   windows shifted by one token (predict the *next* token at every position);
3. :func:`evaluate` — mean cross-entropy over a fixed set of batches, in nats per token;
4. :func:`train` — AdamW steps on random batches, evaluating as it goes, recorded in a
   :class:`LossHistory` that plots itself next to the corpus entropy floor.

A model is any ``torch.nn.Module`` mapping token ids ``x`` of shape ``(B, T)`` to logits of
shape ``(B, T, V)``. Chapter 02 trains a bigram with it; Chapters 04 and 07 train an RNN and a
GPT with the very same function, at equal CPU time (``time_budget``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from llmcourse._checks import eval_mode, int_at_least, positive, positive_int, tensor


def train_val_split(ids: torch.Tensor, val_fraction: float = 0.1) -> tuple[torch.Tensor, torch.Tensor]:
    """Split a 1-D token stream into its first part (training) and its last part (validation).

    The split is contiguous, not shuffled: shuffling single tokens would leak the validation
    text into training through overlapping windows.

    >>> train, val = train_val_split(torch.arange(10), val_fraction=0.2)
    >>> train.tolist(), val.tolist()
    ([0, 1, 2, 3, 4, 5, 6, 7], [8, 9])

    Chapter 02 — language models.
    """
    tensor("ids", ids, "(N,)", dtype="int")
    if not 0.0 < float(val_fraction) < 1.0:
        raise ValueError(f"val_fraction must lie strictly between 0 and 1, got {val_fraction}")
    n_val = int(round(len(ids) * val_fraction))
    if n_val < 1 or n_val >= len(ids):
        raise ValueError(f"val_fraction={val_fraction} of {len(ids)} tokens leaves an empty part "
                         f"({len(ids) - n_val} train, {n_val} val); use more data or another fraction")
    return ids[:-n_val].long(), ids[-n_val:].long()


def get_batch(data: torch.Tensor, batch_size: int, block_size: int,
              generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Sample ``batch_size`` random windows of ``block_size`` tokens and their next tokens.

    Returns ``x, y`` of shape ``(B, T)`` (dtype long) with ``x[b, t] = data[i_b + t]`` and
    ``y[b, t] = data[i_b + t + 1]``: the target at every position is the token that follows.
    Start positions ``i_b`` are uniform in ``[0, len(data) - T - 1]``, drawn from ``generator``.

    >>> x, y = get_batch(torch.arange(100), batch_size=2, block_size=4, generator=torch.Generator().manual_seed(0))
    >>> x.shape, bool((y == x + 1).all())
    (torch.Size([2, 4]), True)

    Chapter 02 — language models.
    """
    tensor("data", data, "(N,)", dtype="int")
    positive_int("batch_size", batch_size)
    positive_int("block_size", block_size)
    if len(data) < block_size + 1:
        raise ValueError(f"data has {len(data)} tokens, but a window of block_size={block_size} "
                         f"needs at least {block_size + 1} (block_size inputs + 1 shifted target)")
    starts = torch.randint(0, len(data) - block_size, (batch_size,), generator=generator)   # (B,)
    offsets = torch.arange(block_size)                                                       # (T,)
    index = starts[:, None] + offsets[None, :]                                               # (B, T)
    return data[index].long(), data[index + 1].long()


def _loss(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    logits = model(x)                                                                        # (B, T, V)
    if logits.dim() != 3 or logits.shape[:2] != x.shape:
        raise ValueError(f"model(x) must return logits of shape (B, T, V) = ({x.shape[0]}, {x.shape[1]}, V), "
                         f"got {tuple(logits.shape)}")
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))


@torch.no_grad()
def evaluate(model: torch.nn.Module, data: torch.Tensor, *, batch_size: int, block_size: int,
             n_batches: int = 20, seed: int = 0) -> float:
    """Mean cross-entropy of ``model`` on ``data``, in nats per token.

    Averages over ``n_batches`` batches drawn with a generator seeded by ``seed``, so two calls
    (and two models) see exactly the same windows. The model is put in ``eval()`` mode while
    scoring and returned to the mode it was in.

    >>> model = torch.nn.Embedding(5, 5)              # a bigram: a table of logits
    >>> _ = torch.nn.init.zeros_(model.weight)        # all equal: uniform over 5 tokens
    >>> round(evaluate(model, torch.arange(50) % 5, batch_size=2, block_size=4), 4)   # log 5
    1.6094

    Chapter 02 — language models.
    """
    positive_int("n_batches", n_batches)
    generator = torch.Generator().manual_seed(seed)
    total = 0.0
    with eval_mode(model):
        for _ in range(n_batches):
            x, y = get_batch(data, batch_size, block_size, generator)
            total += float(_loss(model, x, y))
    return total / n_batches


@dataclass
class LossHistory:
    """Losses recorded during :func:`train` (nats per token), with the wall-clock time of each.

    ``steps[i]`` optimisation steps had been taken when ``train[i]``/``val[i]`` were measured,
    ``seconds[i]`` after training started.

    Chapter 02 — language models.
    """

    steps: list[int] = field(default_factory=list)
    train: list[float] = field(default_factory=list)
    val: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)

    def plot(self, ax=None, *, floor: float | None = None, label: str = "", title: str | None = None):
        """Plot train (solid) and validation (dotted) loss against the step.

        ``floor`` (nats/token) draws the corpus entropy floor as a dashed grey line labelled
        "entropy floor". Returns the matplotlib axes, so several histories can share one.
        """
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(6.4, 3.8))
        prefix = f"{label} " if label else ""
        (line,) = ax.plot(self.steps, self.train, "-", label=f"{prefix}train")
        ax.plot(self.steps, self.val, ":", color=line.get_color(), linewidth=2, label=f"{prefix}validation")
        if floor is not None and not any(t.get_label() == "entropy floor" for t in ax.get_lines()):
            ax.axhline(floor, linestyle="--", color="grey", label="entropy floor")
        ax.set_xlabel("training step")
        ax.set_ylabel("cross-entropy (nats/token)")
        ax.set_title(title if title is not None else "Training and validation loss")
        ax.legend()
        return ax


def progress_bar(steps: int, desc: str, enabled: bool = True):
    """A ``tqdm`` bar over ``steps`` steps, silent when ``enabled`` is false, so that a training
    loop calls ``bar.update(1)`` and ``bar.set_postfix(...)`` without asking whether it shows.

    >>> with progress_bar(3, "demo", enabled=False) as bar:
    ...     bar.update(1)
    ...     bar.set_postfix(loss="2.000")
    >>> bar.disable                     # nothing was drawn
    True
    """
    from tqdm.auto import tqdm
    return tqdm(total=steps, desc=desc, leave=False, disable=not enabled)


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    """Set the learning rate of every parameter group of ``optimizer`` to ``lr`` (a schedule's step)."""
    for group in optimizer.param_groups:
        group["lr"] = lr


def train(model: torch.nn.Module, train_data: torch.Tensor, val_data: torch.Tensor, *, steps: int,
          batch_size: int = 32, block_size: int = 64, lr: float = 3e-3,
          optimizer: torch.optim.Optimizer | None = None, grad_clip: float | None = None,
          eval_every: int = 100, eval_batches: int = 10, time_budget: float | None = None,
          seed: int = 0, progress: bool = True,
          lr_schedule: Callable[[int], float] | None = None) -> LossHistory:
    """Train ``model`` (``(B, T)`` ids → ``(B, T, V)`` logits) to predict the next token.

    Each step: sample a batch from ``train_data`` (seeded by ``seed``), compute the
    cross-entropy, ``zero_grad`` → ``backward`` → optionally clip the gradient norm to
    ``grad_clip`` → ``optimizer.step()``. AdamW with learning rate ``lr`` unless an
    ``optimizer`` is given. Stops after ``steps`` steps or once ``time_budget`` seconds of wall
    clock have passed, whichever comes first. Evaluates train and validation loss (the same
    ``eval_batches`` fixed batches each time) at step 0, every ``eval_every`` steps and at the end.
    With ``lr_schedule`` (a function of the number of steps taken so far, e.g. Chapter 07's
    warmup + cosine ``llmcourse.gpt.lr_schedule``), every parameter group's learning rate is
    set to ``lr_schedule(step)`` before each step.

    >>> model = torch.nn.Embedding(5, 5)      # a bigram: a table of logits
    >>> h = train(model, torch.arange(50) % 5, torch.arange(20) % 5, steps=50, block_size=4, progress=False)
    >>> h.val[-1] < h.val[0]
    True

    Chapter 02 — language models (used again in Chapters 04 and 07).
    """
    int_at_least("steps", steps, 0)
    positive_int("eval_every", eval_every)
    if time_budget is not None:
        positive("time_budget", time_budget, " seconds (or None)")
    if grad_clip is not None:
        positive("grad_clip", grad_clip, " (a gradient norm, or None)")
    for name, data in (("train_data", train_data), ("val_data", val_data)):
        if len(tensor(name, data, "(N,)", dtype="int")) < block_size + 1:
            raise ValueError(f"{name} has {len(data)} tokens, fewer than block_size + 1 = {block_size + 1}")
    if optimizer is None:
        optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(seed)
    history = LossHistory()
    start = time.perf_counter()

    def record(step: int) -> None:
        kwargs = dict(batch_size=batch_size, block_size=block_size, n_batches=eval_batches, seed=seed + 1)
        history.steps.append(step)
        history.train.append(evaluate(model, train_data, **kwargs))
        history.val.append(evaluate(model, val_data, **kwargs))
        history.seconds.append(time.perf_counter() - start)

    record(0)
    bar = progress_bar(steps, "training", progress)
    model.train()
    step = 0
    while step < steps:
        if time_budget is not None and time.perf_counter() - start >= time_budget:
            break
        x, y = get_batch(train_data, batch_size, block_size, generator)
        loss = _loss(model, x, y)
        loss_value = loss.item()
        if not math.isfinite(loss_value):
            raise FloatingPointError(f"the loss became {loss_value} at step {step}: lower the learning rate "
                                     f"(lr={lr}) or clip gradients (grad_clip)")
        if lr_schedule is not None:
            set_lr(optimizer, lr_schedule(step))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        optimizer.step()
        step += 1
        if step % eval_every == 0 and step != steps:
            record(step)
        bar.update(1)
        bar.set_postfix(loss=f"{loss_value:.3f}", val=f"{history.val[-1]:.3f}")
    if history.steps[-1] != step:
        record(step)
    bar.close()
    return history
