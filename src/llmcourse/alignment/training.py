"""The pipeline's training loops: SFT, the reward model, RLHF and DPO (Chapter 14 — Learning from preferences).

Read top to bottom:

1. :func:`supervised_finetune` — SFT: maximise ``log π(y | x)`` of demonstrated endings;
2. :func:`annotate` — preference pairs: two endings per prompt, the annotator prefers one with
   the Bradley–Terry probability ``σ(r*(a) − r*(b))`` of the true reward (:class:`Pairs`);
3. :class:`RewardModel` and :func:`train_reward_model` — a GPT body with a scalar head that reads
   prompt and ending, trained with the Bradley–Terry loss;
4. :func:`train_reinforce` — RLHF with REINFORCE: endings sampled from the policy, scored by the
   reward model minus ``β`` times their log-ratio to the reference, a leave-one-out baseline;
5. :func:`train_dpo` — DPO on the preference pairs, against the frozen reference's log-probs of
   them (:func:`pair_logprobs`).

Every loop uses AdamW without weight decay at a constant learning rate and returns its losses.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import nn

from llmcourse._checks import int_at_least, positive, positive_int, tensor
from llmcourse.alignment.objectives import bradley_terry_loss, dpo_loss, sequence_logprob
from llmcourse.alignment.task import EndingTask, sample_endings
from llmcourse.training import progress_bar

__all__ = ["policy_logprob", "supervised_finetune", "Pairs", "annotate", "RewardModel", "train_reward_model",
           "train_reinforce", "pair_logprobs", "train_dpo"]


def policy_logprob(model: nn.Module, task: EndingTask, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``log π(y | x)`` of ending indices ``y (B,)`` after prompts ``x (B, P)``, through the trie: ``(B,)``.

    With gradients (for training); :func:`~llmcourse.alignment.task.ending_logprobs` gives every ending at once.

    Chapter 14 — Learning from preferences.
    """
    ids, mask, allowed = task.sequences(x, y)
    return sequence_logprob(model(ids), ids, mask, allowed)


def _batches(n: int, size: int, steps: int, generator: torch.Generator, desc: str, progress: bool):
    """``steps`` index batches of ``size`` drawn from ``range(n)``, epoch by epoch (each epoch a new order),
    with a progress bar."""
    order: list[int] = []
    with progress_bar(steps, desc, progress) as bar:
        for _ in range(steps):
            while len(order) < size:
                order += torch.randperm(n, generator=generator).tolist()
            batch, order = order[:size], order[size:]
            yield torch.tensor(batch)
            bar.update(1)


def _fit(module: nn.Module, n: int, batch_loss, *, steps: int, batch_size: int, lr: float, seed: int, desc: str,
         progress: bool) -> list[float]:
    """``steps`` AdamW steps on ``batch_loss(indices)``, a scalar loss of a batch of ``range(n)`` (:func:`_batches`,
    seeded by ``seed``); trains ``module`` in place and returns every step's loss."""
    opt = torch.optim.AdamW(module.parameters(), lr=positive("lr", lr), weight_decay=0.0)
    g = torch.Generator().manual_seed(seed)
    losses = []
    module.train()
    for b in _batches(n, positive_int("batch_size", batch_size), int_at_least("steps", steps, 0), g, desc, progress):
        loss = batch_loss(b)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    module.eval()
    return losses


def supervised_finetune(model: nn.Module, task: EndingTask, x: torch.Tensor, y: torch.Tensor, *, steps: int,
                        batch_size: int = 32, lr: float = 1e-3, seed: int = 0, progress: bool = True) -> list[float]:
    """SFT: ``steps`` AdamW steps on ``−mean log π(y | x)`` of demonstrations ``x (N, P)``, ``y (N,)``.

    Trains ``model`` in place; returns the loss of every step (nats per ending).

    Chapter 14 — Learning from preferences.
    """
    tensor("x", x, "(N, P)", dtype="long")
    tensor("y", y, f"({x.shape[0]},)", dtype="long")
    return _fit(model, len(x), lambda b: -policy_logprob(model, task, x[b], y[b]).mean(), steps=steps,
                batch_size=batch_size, lr=lr, seed=seed, desc="SFT", progress=progress)


@dataclass(frozen=True)
class Pairs:
    """Preference pairs (Chapter 14): prompt ids ``x (N, P)``, chosen and rejected ending indices ``(N,)``."""

    x: torch.Tensor
    chosen: torch.Tensor
    rejected: torch.Tensor

    def __len__(self) -> int:
        return len(self.chosen)

    def __getitem__(self, index) -> "Pairs":
        return Pairs(self.x[index], self.chosen[index], self.rejected[index])


def annotate(x: torch.Tensor, a: torch.Tensor, b: torch.Tensor, reward: torch.Tensor, *,
             generator: torch.Generator | None = None) -> Pairs:
    """A simulated annotator: of endings ``a`` and ``b (N,)`` it prefers ``a`` with probability ``σ(r*(a) − r*(b))``.

    ``reward (n,)`` is the true reward of each ending (the Bradley–Terry model with that reward is
    the annotator: a happy ending beats a sad one 88 % of the time with :data:`MOOD_REWARD`).

    Chapter 14 — Learning from preferences.
    """
    prefer_a = torch.rand(len(a), generator=generator) < torch.sigmoid(reward[a] - reward[b])
    return Pairs(x, torch.where(prefer_a, a, b), torch.where(prefer_a, b, a))


class RewardModel(nn.Module):
    """A reward model ``r(x, y)``: a copy of a GPT's body with a linear head on the last token (Chapter 14).

    ``forward(ids (B, T), lengths (B,))`` → rewards ``(B,)``: the GPT's embeddings and blocks and
    its final layer norm give a ``(B, T, C)`` state, and ``head`` (``C → 1``, zero at first) reads
    the state of each row's last real token, ``ids[b, lengths[b] - 1]``.
    """

    def __init__(self, gpt: nn.Module) -> None:
        super().__init__()
        body = copy.deepcopy(gpt)
        self.tok_emb, self.pos_emb, self.blocks, self.ln_f = body.tok_emb, body.pos_emb, body.blocks, body.ln_f
        self.head = nn.Linear(self.tok_emb.embedding_dim, 1)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        tensor("ids", ids, "(B, T)", dtype="long")
        tensor("lengths", lengths, f"({ids.shape[0]},)", dtype="int")
        h = self.tok_emb(ids) + self.pos_emb(torch.arange(ids.shape[1]))               # (B, T, C)
        for block in self.blocks:
            h = block(h, causal=True)
        last = self.ln_f(h)[torch.arange(ids.shape[0]), lengths - 1]                     # (B, C)
        return self.head(last)[:, 0]

    def score(self, task: EndingTask, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """``r(x, y)`` for prompt ids ``x (B, P)`` and ending indices ``y (B,)``: ``(B,)``."""
        ids, _, _ = task.sequences(x, y)
        return self(ids, task.lengths(x, y))

    @torch.no_grad()
    def table(self, task: EndingTask, x: torch.Tensor) -> torch.Tensor:
        """``r(x, y)`` of every ending for each prompt: ``x (B, P)`` → ``(B, n)``."""
        B, n = x.shape[0], len(task)
        return self.score(task, x.repeat_interleave(n, 0), torch.arange(n).repeat(B)).view(B, n)


def train_reward_model(rm: RewardModel, task: EndingTask, pairs: Pairs, *, steps: int, batch_size: int = 32,
                       lr: float = 1e-3, seed: int = 0, progress: bool = True) -> list[float]:
    """Fit ``rm`` to the preference ``pairs`` with :func:`bradley_terry_loss`; returns every step's loss.

    Chapter 14 — Learning from preferences.
    """
    def batch_loss(b: torch.Tensor) -> torch.Tensor:
        p = pairs[b]
        both = rm.score(task, torch.cat([p.x, p.x]), torch.cat([p.chosen, p.rejected]))
        return bradley_terry_loss(both[:len(b)], both[len(b):])

    return _fit(rm, len(pairs), batch_loss, steps=steps, batch_size=batch_size, lr=lr, seed=seed,
                desc="reward model", progress=progress)


def train_reinforce(policy: nn.Module, reference: nn.Module, reward_model: RewardModel, task: EndingTask,
                    x: torch.Tensor, *, beta: float, steps: int, prompts_per_step: int = 8,
                    samples_per_prompt: int = 4, lr: float = 1e-3, seed: int = 0, progress: bool = True
                    ) -> list[float]:
    """RLHF by REINFORCE with a KL penalty: trains ``policy`` in place; returns each step's mean KL-penalised reward.

    Each step takes ``prompts_per_step`` prompts of ``x (N, P)`` and samples ``samples_per_prompt``
    endings for each from the policy. An ending's return is ``R = r(x, y) − β (log π(y|x) −
    log π_ref(y|x))`` (the reward model's score minus the KL penalty), its baseline the mean return
    of the other endings of the same prompt, and the loss ``−mean((R − baseline) · log π(y|x))``.

    Chapter 14 — Learning from preferences.
    """
    positive("beta", beta)
    k = int_at_least("samples_per_prompt", samples_per_prompt, 2)
    opt = torch.optim.AdamW(policy.parameters(), lr=positive("lr", lr), weight_decay=0.0)
    g = torch.Generator().manual_seed(seed)
    returns = []
    for b in _batches(len(x), positive_int("prompts_per_step", prompts_per_step), int_at_least("steps", steps, 0), g,
                      f"RLHF, β = {beta:g}", progress):
        xs = x[b].repeat_interleave(k, 0)                                        # (B·k, P)
        y = sample_endings(policy, task, xs, generator=g)
        policy.train()
        logp = policy_logprob(policy, task, xs, y)                                # with gradients
        with torch.no_grad():
            ref_logp = policy_logprob(reference, task, xs, y)
            ret = (reward_model.score(task, xs, y) - beta * (logp - ref_logp)).view(-1, k)
            baseline = (ret.sum(1, keepdim=True) - ret) / (k - 1)                # leave-one-out
        loss = -((ret - baseline).view(-1) * logp).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        policy.eval()
        returns.append(ret.mean().item())
    return returns


@torch.no_grad()
def pair_logprobs(model: nn.Module, task: EndingTask, pairs: Pairs) -> tuple[torch.Tensor, torch.Tensor]:
    """``log π(chosen | x)`` and ``log π(rejected | x)`` of every pair, without gradients: two ``(N,)`` tensors.

    Chapter 14 — Learning from preferences.
    """
    model.eval()
    return policy_logprob(model, task, pairs.x, pairs.chosen), policy_logprob(model, task, pairs.x, pairs.rejected)


def train_dpo(policy: nn.Module, task: EndingTask, pairs: Pairs, reference: tuple[torch.Tensor, torch.Tensor], *,
              beta: float, steps: int, batch_size: int = 32, lr: float = 1e-3, seed: int = 0,
              progress: bool = True) -> list[float]:
    """DPO: ``steps`` AdamW steps of :func:`dpo_loss` on ``pairs``; trains ``policy`` in place, returns the losses.

    ``reference`` holds the frozen reference model's log-probs of each pair's chosen and rejected
    endings, ``(N,)`` each (:func:`pair_logprobs`): DPO needs the reference only there, once.

    Chapter 14 — Learning from preferences.
    """
    ref_chosen, ref_rejected = reference
    tensor("reference[0]", ref_chosen, f"({len(pairs)},)", dtype="float")
    tensor("reference[1]", ref_rejected, f"({len(pairs)},)", dtype="float")
    def batch_loss(b: torch.Tensor) -> torch.Tensor:
        p = pairs[b]
        both = policy_logprob(policy, task, torch.cat([p.x, p.x]), torch.cat([p.chosen, p.rejected]))
        return dpo_loss(both[:len(b)], both[len(b):], ref_chosen[b], ref_rejected[b], beta)[0]

    return _fit(policy, len(pairs), batch_loss, steps=steps, batch_size=batch_size, lr=lr, seed=seed,
                desc=f"DPO, β = {beta:g}", progress=progress)
