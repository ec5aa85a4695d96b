"""Losses and exact quantities of preference learning (Chapter 14 — Learning from preferences).

Read top to bottom:

1. :func:`sequence_logprob` — ``log π(y | x)``: the sum of the log-probabilities of a response's
   tokens, the prompt and the padding masked out (optionally restricted to allowed tokens);
2. :func:`bradley_terry_loss` — the reward model's pairwise loss, ``−log σ(r(chosen) − r(rejected))``;
3. :func:`dpo_loss` — Direct Preference Optimization: the same pairwise loss with the reward
   replaced by ``β · log π(y | x) / π_ref(y | x)``;
4. over a finite set of responses, exactly: :func:`kl_divergence`, :func:`optimal_policy`
   (``π* ∝ π_ref · exp(r / β)``), :func:`best_of_n`, :func:`win_rate`.

Log-probabilities over ``n`` responses are tensors ``(B, n)``, one row per prompt.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from llmcourse._checks import positive, positive_int, same, tensor

__all__ = ["sequence_logprob", "bradley_terry_loss", "dpo_loss", "kl_divergence", "optimal_policy",
           "best_of_n", "win_rate", "expectation"]


def sequence_logprob(logits: torch.Tensor, ids: torch.Tensor, mask: torch.Tensor,
                     allowed: torch.Tensor | None = None) -> torch.Tensor:
    """``log π(response | prompt)`` per row: ``logits (B, T, V)``, ``ids (B, T)``, ``mask (B, T)`` → ``(B,)``.

    ``logits = model(ids)``: position ``t`` predicts ``ids[:, t + 1]``. The sum runs over the
    positions ``t ≥ 1`` with ``mask[:, t]`` true (the response's tokens; the prompt and the padding
    are false) of ``log softmax(logits[:, t - 1])[ids[:, t]]``. With ``allowed (B, T, V)`` (bool),
    the softmax at ``t - 1`` runs over the tokens allowed at ``t`` only (constrained decoding).

    >>> logits = torch.zeros(1, 3, 4)                     # uniform over 4 tokens
    >>> sequence_logprob(logits, torch.tensor([[0, 1, 2]]), torch.tensor([[False, True, True]]))
    tensor([-2.7726])

    Chapter 14 — Learning from preferences.
    """
    tensor("logits", logits, "(B, T, V)", dtype="float")
    tensor("ids", ids, f"({logits.shape[0]}, {logits.shape[1]})", dtype="long")
    tensor("mask", mask, f"({logits.shape[0]}, {logits.shape[1]})", dtype="bool")
    scores = logits[:, :-1].float()                                           # (B, T-1, V): predicts ids[:, 1:]
    if allowed is not None:
        tensor("allowed", allowed, f"({logits.shape[0]}, {logits.shape[1]}, {logits.shape[2]})", dtype="bool")
        scores = scores.masked_fill(~allowed[:, 1:], float("-inf"))
    token_logp = scores.log_softmax(-1).gather(-1, ids[:, 1:, None])[..., 0]  # (B, T-1)
    return token_logp.masked_fill(~mask[:, 1:], 0.0).sum(1)                   # -inf never leaks from padding


def bradley_terry_loss(chosen: torch.Tensor, rejected: torch.Tensor) -> torch.Tensor:
    """The pairwise loss of a reward model: ``mean(−log σ(chosen − rejected))`` over ``(N,)`` rewards.

    Under the Bradley–Terry model a person prefers ``a`` to ``b`` with probability
    ``σ(r(a) − r(b))``; this is the negative log-likelihood of the observed preferences
    (``logsigmoid`` keeps it finite for large margins).

    >>> bradley_terry_loss(torch.tensor([1.0]), torch.tensor([1.0]))    # no preference: ln 2
    tensor(0.6931)

    Chapter 14 — Learning from preferences.
    """
    tensor("chosen", chosen, "(N,)", dtype="float")
    tensor("rejected", rejected, f"({chosen.shape[0]},)", dtype="float")
    return -F.logsigmoid(chosen - rejected).mean()


def dpo_loss(policy_chosen: torch.Tensor, policy_rejected: torch.Tensor, reference_chosen: torch.Tensor,
             reference_rejected: torch.Tensor, beta: float) -> tuple[torch.Tensor, torch.Tensor]:
    """The DPO loss and the implicit reward margins, from sequence log-probs ``(N,)`` each.

    The implicit reward of a response is ``β · (log π(y|x) − log π_ref(y|x))``; the loss is the
    Bradley–Terry loss on it, ``mean(−log σ(margin))``. The reference is frozen: its log-probs are
    detached, so no gradient reaches it. Returns ``(loss, margin (N,))`` with ``margin`` detached.

    >>> loss, margin = dpo_loss(torch.tensor([-1.0]), torch.tensor([-2.0]), torch.tensor([-1.5]),
    ...                         torch.tensor([-1.5]), beta=0.5)
    >>> round(margin.item(), 3), round(loss.item(), 4)                   # 0.5·(0.5 − (−0.5)) = 0.5
    (0.5, 0.4741)

    Chapter 14 — Learning from preferences.
    """
    tensor("policy_chosen", policy_chosen, "(N,)", dtype="float")
    shape = f"({policy_chosen.shape[0]},)"
    for name, value in [("policy_rejected", policy_rejected), ("reference_chosen", reference_chosen),
                        ("reference_rejected", reference_rejected)]:
        tensor(name, value, shape, dtype="float")
    positive("beta", beta)
    chosen = beta * (policy_chosen - reference_chosen.detach())
    rejected = beta * (policy_rejected - reference_rejected.detach())
    margin = chosen - rejected
    return -F.logsigmoid(margin).mean(), margin.detach()


# -- exact quantities over a finite set of responses ------------------------------------------------
def _logp(name: str, value: torch.Tensor) -> torch.Tensor:
    return tensor(name, value, "(B, n)", dtype="float")


def expectation(logp: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """``E_π[values]`` per row: ``logp (B, n)`` and ``values (B, n)`` or ``(n,)`` → ``(B,)``.

    Chapter 14 — Learning from preferences.
    """
    _logp("logp", logp)
    return (logp.exp() * values.to(logp.dtype)).sum(-1)


def kl_divergence(p_logp: torch.Tensor, q_logp: torch.Tensor) -> torch.Tensor:
    """``KL(p ‖ q) = Σ_y p(y) (log p(y) − log q(y))`` per row, exactly: ``(B, n)`` each → ``(B,)``.

    Terms with ``p(y) = 0`` count 0; ``q(y) = 0`` where ``p(y) > 0`` gives ``inf``.

    >>> p = torch.tensor([[0.5, 0.5]]).log(); q = torch.tensor([[0.25, 0.75]]).log()
    >>> kl_divergence(p, q)
    tensor([0.1438])

    Chapter 14 — Learning from preferences.
    """
    _logp("p_logp", p_logp)
    same("shape", p_logp=tuple(p_logp.shape), q_logp=tuple(q_logp.shape))
    p = p_logp.exp()
    terms = torch.where(p > 0, p * (p_logp - q_logp), torch.zeros_like(p))
    return terms.sum(-1)


def optimal_policy(reference_logp: torch.Tensor, reward: torch.Tensor, beta: float) -> torch.Tensor:
    """``π*(y|x) ∝ π_ref(y|x) · exp(r(x, y) / β)``: it maximises ``E_π[r] − β KL(π ‖ π_ref)``.

    ``reference_logp (B, n)``, ``reward (B, n)`` or ``(n,)`` → ``log π* (B, n)``.

    >>> optimal_policy(torch.tensor([[0.5, 0.5]]).log(), torch.tensor([0.0, 1.0]), beta=1.0).exp()
    tensor([[0.2689, 0.7311]])

    Chapter 14 — Learning from preferences.
    """
    _logp("reference_logp", reference_logp)
    positive("beta", beta)
    scores = reference_logp + reward.to(reference_logp.dtype) / beta
    return scores - scores.logsumexp(-1, keepdim=True)


def best_of_n(reference_logp: torch.Tensor, scores: torch.Tensor, n: int) -> torch.Tensor:
    """The exact distribution of best-of-``n``: draw ``n`` responses from ``π_ref``, keep the best-scored.

    ``reference_logp (B, k)``, ``scores (B, k)`` or ``(k,)`` (ties broken towards the lower index)
    → ``(B, k)`` log-probs. With the responses sorted by score, ``P(pick y) = F(y)^n − F⁻(y)^n``,
    where ``F(y)`` is the reference's mass on responses ranked no better than ``y`` and ``F⁻(y)``
    the mass ranked strictly below it.

    >>> best_of_n(torch.tensor([[0.5, 0.5]]).log(), torch.tensor([0.0, 1.0]), n=2).exp()
    tensor([[0.2500, 0.7500]])

    Chapter 14 — Learning from preferences.
    """
    _logp("reference_logp", reference_logp)
    positive_int("n", n)
    p = reference_logp.double().exp()
    s = scores.to(p.dtype).expand_as(p)
    k = p.shape[-1]
    tiebreak = torch.arange(k, dtype=p.dtype) * -1e-9 * (s.abs().max() + 1)   # earlier index ranks higher
    order = torch.argsort(s + tiebreak, dim=-1)                                 # worst first
    sorted_p = p.gather(-1, order)
    upto = sorted_p.cumsum(-1).clamp(max=1.0)
    below = upto - sorted_p
    picked = upto.pow(n) - below.pow(n)
    out = torch.empty_like(picked).scatter_(-1, order, picked)
    return out.clamp_min(0).log().to(reference_logp.dtype)


def win_rate(p_logp: torch.Tensor, q_logp: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
    """``P(score(y) > score(y')) + ½ P(tie)`` for ``y ~ p``, ``y' ~ q`` independent: ``(B, n)`` each → ``(B,)``.

    ``scores (B, n)`` or ``(n,)`` rank the responses (a reward model's, say).

    >>> win_rate(torch.tensor([[0.0, 1.0]]).clamp_min(1e-30).log(), torch.tensor([[0.5, 0.5]]).log(),
    ...          torch.tensor([0.0, 1.0]))
    tensor([0.7500])

    Chapter 14 — Learning from preferences.
    """
    _logp("p_logp", p_logp)
    same("shape", p_logp=tuple(p_logp.shape), q_logp=tuple(q_logp.shape))
    s = scores.to(p_logp.dtype).expand_as(p_logp)
    diff = s[..., :, None] - s[..., None, :]                                   # (B, n, n): y against y'
    beats = (diff > 0).to(p_logp.dtype) + 0.5 * (diff == 0).to(p_logp.dtype)
    return torch.einsum("bi,bij,bj->b", p_logp.exp(), beats, q_logp.exp())
