"""The enumerable task: write a story's last line, one of 32 endings (Chapter 14 — Learning from preferences).

Read top to bottom:

1. :data:`ENDINGS` — the restricted vocabulary: every ending line of the story generator that has
   no word slot to fill (its own words, :mod:`llmcourse.data.lexicon`), each with its mood;
2. :func:`story_prompts` — stories cut before their last line and given its first words
   ("That night, Mina "), with the story's mood; :func:`generator_ending_logprobs` — the
   generator's exact distribution over the endings after such a prompt (through
   :func:`llmcourse.data.logprob`);
3. :class:`EndingTask` — the endings as token ids and as a **trie** (a tree of shared prefixes):
   which characters may come next after each prefix, so that a language model writes only these
   endings (*constrained decoding*);
4. :func:`ending_logprobs` — the exact log-probability of **every** ending under a model, for a
   batch of prompts (one forward pass, the prompt read once through the KV cache);
   :func:`sample_endings` — draw endings character by character through the trie.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

import torch

from llmcourse._checks import eval_mode, positive_int, tensor
from llmcourse.data import MOODS, generate_stories, logprob
from llmcourse.data.lexicon import WORDS

__all__ = ["Ending", "ENDINGS", "TAILS", "MOOD_REWARD", "Prompt", "story_prompts", "generator_ending_logprobs",
           "EndingTask", "ending_logprobs", "sample_endings"]

#: Optional words after a happy or bittersweet line (the generator's ``etail`` set has these and more).
TAILS = ("", " at last", " before bed")
#: The annotators' reward for an ending's mood (the Bradley–Terry scale: P(happy ≻ sad) = σ(2)).
MOOD_REWARD = {"happy": 2.0, "bittersweet": 1.0, "sad": 0.0}


@dataclass(frozen=True)
class Ending:
    """One ending line: what follows "That night, Mina " (``text``, ends with ".") and its ``mood`` (Chapter 14)."""

    text: str
    mood: str


def _plain(set_name: str) -> list[str]:
    """The entries of a lexicon set that have no slot to fill (no ``{...}``)."""
    return [entry[0] for entry in WORDS[set_name] if "{" not in entry[0]]


def _endings() -> tuple[Ending, ...]:
    out = [Ending(f"{line}{tail}.", "happy") for line in _plain("happy_end") for tail in TAILS]
    out += [Ending(f"{line}{tail}.", "bittersweet") for line in _plain("bs_end") for tail in TAILS]
    out += [Ending(f"{line}.", "sad") for line in _plain("sad_end")]
    out += [Ending(f"went to bed {how}.", "sad") for how in _plain("sad_how")]
    return tuple(out)


#: The 32 endings: 4 happy lines and 3 bittersweet ones, each with 3 tails, and 11 sad lines.
ENDINGS: tuple[Ending, ...] = _endings()


@dataclass(frozen=True)
class Prompt:
    """A story cut before its last line, plus that line's first words (Chapter 14).

    ``text`` ends with "<opener>, <hero> " (e.g. "... That night, Mina "); ``mood`` is the story's
    (fixed by its resolution, the sentence before); ``last`` is the story's own last sentence.
    """

    text: str
    mood: str
    last: str


def story_prompts(n: int, seed: int = 0) -> list[Prompt]:
    """``n`` prompts from ``generate_stories(n, seed)``: each story without its last sentence, then
    "<opener>, <hero> " with an opener of the generator's (``end_open``) drawn with ``seed``.

    >>> p = story_prompts(1)[0]
    >>> p.text.endswith(", Jun "), p.mood
    (True, 'sad')

    Chapter 14 — Learning from preferences.
    """
    positive_int("n", n)
    openers = _plain("end_open")
    rng = random.Random(seed)
    out = []
    for story in generate_stories(n, seed=seed):
        *body, last = [english for english, _ in story.sentences]
        text = f"{' '.join(body)} {rng.choice(openers)}, {story.labels['hero']} "
        out.append(Prompt(text, story.labels["mood"], last))
    return out


def generator_ending_logprobs(prompt: Prompt, endings: tuple[Ending, ...] = ENDINGS) -> torch.Tensor:
    """The story generator's exact distribution over ``endings`` after ``prompt``: ``(n,)`` log-probs.

    ``logprob(prompt.text + ending)`` for each ending (the probability of the whole story), then
    normalised over the endings: the generator's conditional distribution restricted to them.
    Endings of another mood than the story's get ``-inf`` (the generator never writes them).

    Chapter 14 — Learning from preferences.
    """
    scores = torch.tensor([logprob(prompt.text + e.text) for e in endings], dtype=torch.float64)
    if not math.isfinite(float(scores.max())):
        raise ValueError(f"the generator can write none of the endings after {prompt.text[-40:]!r}")
    return (scores - torch.logsumexp(scores, 0)).float()


class EndingTask:
    """Prompts of ``context`` characters and the ``endings`` as tokens and as a trie (Chapter 14).

    For ``n`` endings of at most ``L`` characters (tokens of ``tokenizer``, one per character):

    * ``y_ids (n, L)`` long — each ending's ids, right-padded with 0; ``y_mask (n, L)`` bool — real ids;
    * ``y_nodes (n, L)`` long — the trie node *before* each id: node 0 is the root (nothing
      written yet), every prefix of an ending is one node;
    * ``allowed (N, V)`` bool — the ids that may follow each of the ``N`` nodes (the last row,
      for padding and prompts, allows everything); ``child (N, V)`` long — the node reached by
      writing an id after a node (−1: not allowed), ``ending_at (N,)`` — the ending whose last id
      leads to a node (−1 for the others);
    * ``moods (n,)`` long — index into :data:`llmcourse.data.MOODS`; ``reward (n,)`` — :data:`MOOD_REWARD`.

    >>> from llmcourse.tokenization import CharTokenizer
    >>> task = EndingTask(CharTokenizer("abcdefghijklmnopqrstuvwxyz ,."), context=8)
    >>> task.y_ids.shape, task.allowed.shape
    (torch.Size([32, 49]), torch.Size([568, 29]))
    """

    def __init__(self, tokenizer, context: int = 40, endings: tuple[Ending, ...] = ENDINGS) -> None:
        self.tokenizer, self.context, self.endings = tokenizer, positive_int("context", context), tuple(endings)
        texts = [e.text for e in self.endings]
        if len(set(texts)) != len(texts) or any(a != b and b.startswith(a) for a in texts for b in texts):
            raise ValueError("endings must be distinct and none may be the start of another")
        encoded = [tokenizer.encode(t) for t in texts]
        n, L = len(encoded), max(len(e) for e in encoded)
        self.y_ids = torch.zeros(n, L, dtype=torch.long)
        self.y_mask = torch.zeros(n, L, dtype=torch.bool)
        self.y_nodes = torch.zeros(n, L, dtype=torch.long)
        children: dict[tuple[int, int], int] = {}       # (node, id) → the node after it
        leaves: dict[int, int] = {}                       # the node after an ending → its index
        for i, ids in enumerate(encoded):
            node = 0
            for t, token in enumerate(ids):
                self.y_ids[i, t], self.y_mask[i, t], self.y_nodes[i, t] = token, True, node
                node = children.setdefault((node, token), len(children) + 1)
            leaves[node] = i
        anything = len(children) + 1                      # one more row, for prompts and padding
        self.allowed = torch.zeros(anything + 1, tokenizer.vocab_size, dtype=torch.bool)
        self.child = torch.full((anything + 1, tokenizer.vocab_size), -1, dtype=torch.long)
        self.ending_at = torch.full((anything + 1,), -1, dtype=torch.long)
        for (node, token), nxt in children.items():
            self.allowed[node, token], self.child[node, token] = True, nxt
        for node, i in leaves.items():
            self.ending_at[node] = i
        self.allowed[anything] = True
        self.y_nodes[~self.y_mask] = anything
        self.moods = torch.tensor([MOODS.index(e.mood) for e in self.endings])
        self.reward = torch.tensor([MOOD_REWARD[e.mood] for e in self.endings])

    def __len__(self) -> int:
        return len(self.endings)

    def encode(self, prompts: list[Prompt] | list[str]) -> torch.Tensor:
        """The last ``context`` characters of each prompt as ids: ``(B, context)`` long."""
        texts = [p.text if isinstance(p, Prompt) else p for p in prompts]
        short = [t for t in texts if len(t) < self.context]
        if short:
            raise ValueError(f"every prompt needs at least context={self.context} characters, got {short[0]!r}")
        return torch.tensor([self.tokenizer.encode(t[-self.context:]) for t in texts], dtype=torch.long)

    def sequences(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Prompt ids ``x (B, P)`` and ending indices ``y (B,)`` → ``ids, mask, allowed``, each ``(B, P + L')``.

        ``ids`` is the prompt followed by the ending (right-padded with 0 to the longest ending in the
        batch, ``L'``), ``mask`` marks the ending's ids, and ``allowed (B, P + L', V)`` the ids
        the trie allows at each position (everything on the prompt and the padding).
        """
        tensor("x", x, "(B, P)", dtype="long")
        tensor("y", y, "(B,)", dtype="long")
        width = int(self.y_mask[y].sum(1).max())
        ids = torch.cat([x, self.y_ids[y, :width]], 1)
        mask = torch.cat([torch.zeros_like(x, dtype=torch.bool), self.y_mask[y, :width]], 1)
        nodes = torch.cat([torch.full_like(x, len(self.allowed) - 1), self.y_nodes[y, :width]], 1)
        return ids, mask, self.allowed[nodes]

    def lengths(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The number of real ids of each sequence of :meth:`sequences`: ``P + len(ending)``, ``(B,)``."""
        return x.shape[1] + self.y_mask[y].sum(1)


@torch.no_grad()
def ending_logprobs(model: torch.nn.Module, task: EndingTask, x: torch.Tensor) -> torch.Tensor:
    """``log π(y | x)`` of every ending ``y`` for each prompt: ``x (B, P)`` → ``(B, n)``.

    π is ``model`` restricted to the trie: at each character, the softmax over the characters the
    trie allows there. Each row sums to 1 over the ``n`` endings (in probability), exactly. The
    prompts are read once and their keys and values copied for the ``n`` endings (the model must
    have ``new_caches``, as the course's GPT does).

    Chapter 14 — Learning from preferences.
    """
    tensor("x", x, "(B, P)", dtype="long")
    B, n = x.shape[0], len(task)
    with eval_mode(model):
        caches = model.new_caches()
        last = model(x, caches=caches)[:, -1:]                                   # (B, 1, V)
        for cache in caches:                                                     # the prompt, once per ending
            cache.k, cache.v = cache.k.repeat_interleave(n, 0), cache.v.repeat_interleave(n, 0)
        ids = task.y_ids.repeat(B, 1)                                            # (B·n, L)
        logits = torch.cat([last.repeat_interleave(n, 0), model(ids[:, :-1], caches=caches)], 1)
    logits = logits.float().masked_fill(~task.allowed[task.y_nodes.repeat(B, 1)], float("-inf"))
    logp = logits.log_softmax(-1).gather(-1, ids[..., None])[..., 0]            # (B·n, L)
    return logp.masked_fill(~task.y_mask.repeat(B, 1), 0.0).sum(1).view(B, n)


@torch.no_grad()
def sample_endings(model: torch.nn.Module, task: EndingTask, x: torch.Tensor, *,
                   generator: torch.Generator | None = None, chunk: int = 256) -> torch.Tensor:
    """One ending per prompt, written character by character through the trie: ``x (B, P)`` → ``(B,)``.

    Each step samples from the model's softmax over the characters the trie allows after what the
    row has written (reading one new character through the KV cache), so the row's ending is drawn
    with exactly the probability ``ending_logprobs`` gives it. Returns the endings' indices. Rows
    are written ``chunk`` at a time (a cache that grows by copying is slow for large batches).

    Chapter 14 — Learning from preferences.
    """
    tensor("x", x, "(B, P)", dtype="long")
    if x.shape[0] > positive_int("chunk", chunk):
        return torch.cat([sample_endings(model, task, part, generator=generator, chunk=chunk)
                          for part in x.split(chunk)])
    anything = len(task.allowed) - 1
    node = torch.zeros(x.shape[0], dtype=torch.long)                             # every row at the root
    done = torch.full_like(node, -1)                                             # the ending, once written
    with eval_mode(model):
        caches = model.new_caches()
        logits = model(x, caches=caches)[:, -1]                                  # (B, V)
        for _ in range(task.y_ids.shape[1]):
            probs = logits.float().masked_fill(~task.allowed[node], float("-inf")).softmax(-1)
            nxt = torch.multinomial(probs, 1, generator=generator)[:, 0]       # (B,)
            node = torch.where(done < 0, task.child[node, nxt], anything)
            done = torch.where(done < 0, task.ending_at[node], done)
            node = torch.where(done < 0, node, anything)                        # finished rows write anything
            if bool((done >= 0).all()):
                break
            logits = model(nxt[:, None], caches=caches)[:, -1]
    return done
