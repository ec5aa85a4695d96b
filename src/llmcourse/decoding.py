"""Decoding: from next-token scores to text (Chapter 08 — decoding).

Read top to bottom, in the order the chapter builds them:

1. :func:`top_k_filter` and :func:`top_p_filter` — keep the ``k`` best tokens, or the smallest
   set of best tokens whose probability reaches ``p`` (nucleus); the others get ``-inf``;
2. :func:`sample_next` — one decoding step: temperature, the filters, then a (seeded) draw,
   or the argmax at temperature 0 (greedy decoding);
3. :func:`generate` — repeat the step, feeding each token back; with a model that has caches
   (``model.new_caches()``, ``model(ids, caches=...)``) every step reads one new token only. It
   is the course's one generation loop: ``GPT.generate``, ``CharRNN.generate`` and
   ``NGramModel.generate`` call it;
4. :func:`beam_search` — keep the ``beam_width`` most probable continuations, rank the finished
   ones with a length penalty;
5. measuring text: :func:`distinct_n` (diversity), :func:`repeated_ngram_fraction` (repetition)
   and :func:`mean_log_prob` (likelihood under the model).

A model is anything that maps ids ``(B, T)`` to logits ``(B, T, V)`` whose output at position ``t``
depends on ``ids[:, :t + 1]`` only (every language model of the course). An optional attribute
``max_context`` (``None``: unlimited) says how many tokens it can read; :func:`generate` spells
out the whole protocol.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import torch
import torch.nn.functional as F

from llmcourse._checks import eval_mode, int_at_least, is_int, non_negative, positive, positive_int, tensor


def top_k_filter(logits: torch.Tensor, k: int) -> torch.Tensor:
    """Keep the ``k`` highest logits of every row, set the others to ``-inf``.

    ``logits (..., V)`` → a new tensor of the same shape (the input is not changed). A token is
    kept when its logit is at least the ``k``-th largest of its row, so tokens *tied* with the
    ``k``-th are all kept (more than ``k`` survive only on exact ties; the result never depends
    on the order of the vocabulary). ``k ≥ V`` keeps everything.

    >>> top_k_filter(torch.tensor([1.0, 3.0, 2.0, 0.0]), 2)
    tensor([-inf, 3., 2., -inf])

    Chapter 08 — decoding.
    """
    tensor("logits", logits, "(..., V)", dtype="float")
    positive_int("top_k", k)
    if k >= logits.shape[-1]:
        return logits.clone()
    kth = torch.topk(logits, k, dim=-1).values[..., -1:]                   # (..., 1)
    return logits.masked_fill(logits < kth, float("-inf"))


def top_p_filter(logits: torch.Tensor, p: float) -> torch.Tensor:
    """Nucleus filter: keep the smallest set of most probable tokens whose probability reaches ``p``.

    ``logits (..., V)`` → a new tensor of the same shape with the removed tokens at ``-inf``.
    Per row: sort the probabilities ``softmax(logits)`` in decreasing order and keep tokens until
    their running total reaches ``p`` — *including* the token that crosses the threshold, so the
    kept mass is ``≥ p`` and at least one token (the most probable) always survives. Tokens tied
    in probability with the last token kept are kept too (the result does not depend on the order
    of the vocabulary). ``p ≥ 1`` keeps everything; ``p`` must be ``> 0``. Entries already at
    ``-inf`` (e.g. from :func:`top_k_filter`) have probability 0 and stay removed.

    >>> top_p_filter(torch.tensor([0.5, 0.3, 0.2]).log(), 0.6).exp()     # 0.5 < 0.6 ≤ 0.5 + 0.3
    tensor([0.5000, 0.3000, 0.0000])

    Chapter 08 — decoding.
    """
    tensor("logits", logits, "(..., V)", dtype="float")
    positive("top_p", p, " (1 or more keeps every token)")
    if p >= 1:
        return logits.clone()
    probs = F.softmax(logits.float(), dim=-1)
    sorted_probs, _ = probs.sort(dim=-1, descending=True)                   # (..., V)
    mass_before = sorted_probs.cumsum(dim=-1) - sorted_probs                # mass of the better tokens
    in_nucleus = mass_before < p                                            # the crossing token is in
    smallest_kept = sorted_probs.masked_fill(~in_nucleus, float("inf")).amin(dim=-1, keepdim=True)
    return logits.masked_fill(probs < smallest_kept, float("-inf"))


def sample_next(logits: torch.Tensor, *, temperature: float = 1.0, top_k: int | None = None,
                top_p: float | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
    """One decoding step: the next token of every row, ``logits (B, V)`` → ids ``(B,)`` (long).

    ``temperature == 0`` is greedy decoding: the argmax of each row (the filters cannot change
    it). Otherwise the logits are divided by ``temperature``, then :func:`top_k_filter` (if
    ``top_k``) and :func:`top_p_filter` (if ``top_p``) are applied in that order, and one token is
    drawn from the softmax with ``torch.multinomial`` using ``generator`` (same seed, same draw).

    >>> sample_next(torch.tensor([[0.1, 2.0, 0.3]]), temperature=0)
    tensor([1])

    Chapter 08 — decoding.
    """
    tensor("logits", logits, "(B, V)", dtype="float")
    non_negative("temperature", temperature, " (0 = greedy)")
    if temperature == 0:
        return logits.argmax(dim=-1)
    scores = logits / temperature
    if top_k is not None:
        scores = top_k_filter(scores, top_k)
    if top_p is not None:
        scores = top_p_filter(scores, top_p)
    probs = F.softmax(scores.float(), dim=-1)
    return torch.multinomial(probs, 1, generator=generator)[:, 0]


def _max_context(model: torch.nn.Module) -> int | None:
    return getattr(model, "max_context", None)


@torch.no_grad()
def generate(model: Callable[..., torch.Tensor], prompt: torch.Tensor, max_new_tokens: int, *,
             temperature: float = 1.0, top_k: int | None = None, top_p: float | None = None,
             use_cache: bool = True, generator: torch.Generator | None = None,
             stop_token: int | None = None) -> torch.Tensor:
    """Continue ``prompt (B, T)`` (long) by up to ``max_new_tokens`` tokens → ``(B, T + n)``.

    The course's one generation loop. What it needs of ``model``:

    * ``model(ids (B, T))`` → logits ``(B, T, V)``, those at position ``t`` depending on
      ``ids[:, :t + 1]`` only;
    * ``model.max_context``: how many tokens it can read, or ``None`` (or no such attribute) for
      any number;
    * optionally, to read each token once: ``model.new_caches()`` → an empty cache, and
      ``model(new_ids (B, t), caches=caches)`` → the logits ``(B, t, V)`` of the new ids given
      everything read before, which the call adds to ``caches``. A GPT's cache holds each
      layer's keys and values (:class:`~llmcourse.transformer.KVCache`); an RNN's, its hidden state.

    Each step picks the next token with :func:`sample_next` (``temperature``, ``top_k``,
    ``top_p``, ``generator``) from the logits at the last position.

    * **With a cache** — when ``use_cache`` and the model has ``new_caches()`` — the prompt is
      read once, then each step feeds only the newest token, ``model(ids (B, 1), caches=caches)``:
      what earlier positions computed is kept in the cache instead of recomputed.
    * **Without** (``use_cache=False``, or a model without caches), each step re-runs the model on
      the whole context, cut to the last ``model.max_context`` tokens.

    Both give the same tokens. Once the text is longer than ``max_context`` every position of the
    window shifts at each step, so the cache cannot be reused: from then on the cached path
    re-runs the cropped window as well. With ``stop_token``, a row that has produced it is
    padded with ``stop_token`` from then on, and generation ends early once every row has (so
    ``n ≤ max_new_tokens``). The model is put in ``eval()`` mode and returned to its mode.

    >>> class Count(torch.nn.Module):             # the next id is the last id + 1 (mod 5)
    ...     def forward(self, ids):
    ...         return 10.0 * F.one_hot((ids + 1) % 5, 5)
    >>> generate(Count(), torch.tensor([[3]]), 4, temperature=0)
    tensor([[3, 4, 0, 1, 2]])

    Chapter 08 — decoding.
    """
    tensor("prompt", prompt, "(B, T)", dtype="long")
    if prompt.shape[1] == 0:
        raise ValueError("prompt must hold at least one token per row (T ≥ 1)")
    int_at_least("max_new_tokens", max_new_tokens, 0)
    window = _max_context(model)
    cached = use_cache and hasattr(model, "new_caches")
    ids, caches, cached_len = prompt, None, 0
    done = torch.zeros(prompt.shape[0], dtype=torch.bool)
    with eval_mode(model):
        for _ in range(max_new_tokens):
            if cached and window is not None and ids.shape[1] > window:
                cached = False                          # the window slides: positions change
            if cached and caches is None:
                caches = model.new_caches()
                logits = model(ids, caches=caches)      # read the prompt once (prefill)
            elif cached:
                logits = model(ids[:, cached_len:], caches=caches)   # (B, 1, V): the newest token only
            else:
                logits = model(ids if window is None else ids[:, -window:])
            cached_len = ids.shape[1]
            nxt = sample_next(logits[:, -1], temperature=temperature, top_k=top_k, top_p=top_p,
                              generator=generator)                  # (B,)
            if stop_token is not None:
                nxt = nxt.masked_fill(done, stop_token)
                done = done | (nxt == stop_token)
            ids = torch.cat([ids, nxt[:, None]], dim=1)
            if stop_token is not None and bool(done.all()):
                break
    return ids


@torch.no_grad()
def beam_search(model: torch.nn.Module, prompt: torch.Tensor, max_new_tokens: int, *, beam_width: int,
                length_penalty: float = 1.0, eos_token: int | None = None) -> list[tuple[torch.Tensor, float]]:
    """The most probable continuations of ``prompt (1, T)``, found with a beam.

    Each step extends every live hypothesis by every token and keeps the ``beam_width − f`` best
    by total log-probability ``Σ log p`` (``f`` = hypotheses finished so far). A hypothesis that
    ends with ``eos_token`` is finished and leaves the beam, which shrinks; the search stops when
    ``beam_width`` hypotheses are finished or after ``max_new_tokens`` steps. All hypotheses
    (finished and unfinished, at most ``beam_width``) are then ranked by the length-normalised
    score ``Σ log p / n ** length_penalty``, with ``n`` the number of generated tokens
    (``eos_token`` included). ``length_penalty = 0`` ranks by the raw sum, which favours short
    outputs (every token adds a negative log-probability); ``1`` ranks by the mean log-probability
    per token. ``beam_width = 1`` is greedy decoding.

    Returns a list of ``(ids, score)``, best first: ``ids`` the whole sequence ``(T + n,)`` (long,
    prompt included), ``score`` the normalised score (float). The model re-reads the context
    (cut to ``model.max_context``) at every step.

    Chapter 08 — decoding.
    """
    tensor("prompt", prompt, "(1, T)", dtype="long")
    positive_int("beam_width", beam_width)
    positive_int("max_new_tokens", max_new_tokens)
    non_negative("length_penalty", length_penalty, " (0: raw sum, 1: per token)")
    window = _max_context(model)
    with eval_mode(model):
        live = prompt                                           # (n_live, T + step)
        live_scores = torch.zeros(1)                            # (n_live,) Σ log p so far
        finished: list[tuple[torch.Tensor, float]] = []         # (ids, Σ log p)
        for _ in range(max_new_tokens):
            slots = beam_width - len(finished)
            if slots == 0 or live.shape[0] == 0:
                break
            logits = model(live if window is None else live[:, -window:])[:, -1]     # (n_live, V)
            total = live_scores[:, None] + F.log_softmax(logits.float(), dim=-1)     # (n_live, V)
            best, flat = total.flatten().topk(min(slots, total.numel()))
            rows, tokens = flat // total.shape[1], flat % total.shape[1]
            extended = torch.cat([live[rows], tokens[:, None]], dim=1)
            ends = tokens == eos_token if eos_token is not None else torch.zeros_like(tokens, dtype=torch.bool)
            finished += [(extended[i], float(best[i])) for i in ends.nonzero().flatten().tolist()]
            live, live_scores = extended[~ends], best[~ends]
    hypotheses = finished + [(live[i], float(live_scores[i])) for i in range(live.shape[0])]
    T = prompt.shape[1]
    ranked = [(ids, score / (len(ids) - T) ** length_penalty) for ids, score in hypotheses]
    return sorted(ranked, key=lambda pair: pair[1], reverse=True)


def _ngrams(sequence: Sequence | str | torch.Tensor, n: int) -> list[tuple]:
    items = sequence.tolist() if isinstance(sequence, torch.Tensor) else list(sequence)
    return [tuple(items[i:i + n]) for i in range(len(items) - n + 1)]


def distinct_n(sequences: Iterable[Sequence | str | torch.Tensor], n: int) -> float:
    """Diversity of a set of texts: distinct ``n``-grams / all ``n``-grams, pooled over ``sequences``.

    Each sequence is a string (its characters), a list of ids or a 1-D tensor. 1.0 means no
    ``n``-gram occurs twice anywhere; near 0 means the texts repeat each other (or themselves).

    >>> distinct_n(["abab", "abc"], 2)          # ab ba ab | ab bc → {ab, ba, bc}: 3 of 5
    0.6

    Chapter 08 — decoding.
    """
    positive_int("n", n)
    grams = [g for s in sequences for g in _ngrams(s, n)]
    if not grams:
        raise ValueError(f"distinct_n needs at least one sequence of length ≥ n = {n}")
    return len(set(grams)) / len(grams)


def repeated_ngram_fraction(sequence: Sequence | str | torch.Tensor, n: int) -> float:
    """Repetition inside one text: the fraction of its ``n``-grams that already occurred earlier in it.

    ``1 − distinct_n([sequence], n)``: 0 for a text that never repeats an ``n``-gram; close to 1
    for a text stuck in a loop.

    >>> repeated_ngram_fraction("abcabcabc", 3)    # abc bca cab, then 4 repeats of them
    0.5714285714285714

    Chapter 08 — decoding.
    """
    return 1.0 - distinct_n([sequence], n)


@torch.no_grad()
def mean_log_prob(model: torch.nn.Module, ids: torch.Tensor, start: int) -> torch.Tensor:
    """Average log-probability per token of ``ids[:, start:]`` under ``model``: ``(B, L)`` → ``(B,)``.

    ``mean over t ≥ start of log p(ids[:, t] | ids[:, :t])`` in nats (higher is more likely; its
    negative is the cross-entropy of the generated text). Typically ``start`` is the prompt length,
    so only generated tokens are scored. Each token is scored with the context the model would
    have read while generating it: the last ``model.max_context`` tokens at most.

    Chapter 08 — decoding.
    """
    tensor("ids", ids, "(B, L)", dtype="long")
    if not (is_int(start) and 1 <= start < ids.shape[1]):
        raise ValueError(f"start must be an integer in [1, L) = [1, {ids.shape[1]}), got {start!r}")
    window = _max_context(model)
    with eval_mode(model):
        B, L = ids.shape
        if window is None or L <= window:
            logp = F.log_softmax(model(ids[:, :-1]).float(), dim=-1)                  # (B, L-1, V)
            picked = logp.gather(-1, ids[:, 1:, None])[..., 0]                       # (B, L-1)
            return picked[:, start - 1:].mean(dim=1)
        # longer than the window: score token t from the window of ids ending at t - 1
        contexts = ids[:, :-1].unfold(1, window, 1)                                  # (B, L-window, window)
        targets = ids[:, window:]                                                    # (B, L-window)
        first = F.log_softmax(model(ids[:, :window]).float(), dim=-1)               # positions 1 .. window-1
        first = first[:, :-1].gather(-1, ids[:, 1:window, None])[..., 0]            # (B, window-1)
        last = model(contexts.reshape(-1, window))[:, -1].float()                   # (B·(L-window), V)
        rest = F.log_softmax(last, dim=-1).gather(-1, targets.reshape(-1, 1)).view(B, -1)
        return torch.cat([first, rest], dim=1)[:, start - 1:].mean(dim=1)
