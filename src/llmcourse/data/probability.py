"""A story's exact probability read back from its text, and the corpus's entropy floor.

The generator (:mod:`llmcourse.data.stories`) adds up the log-probability of every choice it makes;
:func:`logprob` recovers that sum from the text alone by parsing it with the same plan and grammar
(the grammar is unambiguous: each text has at most one derivation), :func:`parse_story` recovers
the whole :class:`~llmcourse.data.stories.Story`, and :func:`entropy_floor` turns the stories'
probabilities into the lowest loss any model can reach on the corpus (see the stories module).

>>> from llmcourse.data.stories import generate_stories
>>> story = generate_stories(1, seed=0)[0]
>>> abs(logprob(story.text) - story.logprob) < 1e-9
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from llmcourse.data.grammar import Walker
from llmcourse.data.stories import (_TRACKED, SEPARATOR, Story, StoryConfig, _check_config, _grammar, _iter_stories,
                                    _plan, _run, _story, _whole, corpus_text, generate_stories)  # noqa: F401

__all__ = ["EntropyFloor", "logprob", "parse_story", "entropy_floor"]


def _derivations(text: str, config: StoryConfig) -> list[tuple[float, Any]]:
    grammar, plan = _grammar(config), _plan(config)
    done: list[tuple[float, Any]] = []
    stack: list[tuple[int, tuple[int, int], dict, float, Any]] = [(0, (0, 0), {}, 0.0, None)]
    while stack:
        pos, state, mem, lp, trace = stack.pop()
        moves = plan.moves(state)
        for i, (nxt, set_name, _) in enumerate(moves.steps):
            lp2, trace2 = lp + moves.logps[i], (i, trace)
            if nxt is None:
                if pos == len(text):
                    done.append((lp2, trace2))
                continue
            start = pos
            if pos > 0:
                if not text.startswith(" ", pos):
                    continue
                start += 1
            if "{" in set_name:
                try:
                    set_name = set_name.format_map(mem)
                except KeyError:
                    continue
            for end, lp3, mem3, trace3 in grammar.match(set_name, text, start, mem, lp2, trace2):
                stack.append((end, nxt, mem3, lp3, trace3))
    return done


def logprob(text: str, config: StoryConfig | None = None) -> float:
    """Natural log of the probability that the generator writes exactly ``text`` as one story.

    ``-math.inf`` for any text it cannot write (a changed word, a cut story, a story followed
    by :data:`SEPARATOR`, ...).

    >>> story = generate_stories(1, seed=3)[0]
    >>> logprob(story.text) == story.logprob, logprob(story.text[:-1])
    (True, -inf)
    """
    if not isinstance(text, str):
        raise TypeError(f"logprob expects the story text as a str, got {type(text).__name__}")
    found = _derivations(text, _check_config(config))
    if not found:
        return -math.inf
    if len(found) == 1:
        return found[0][0]
    top = max(lp for lp, _ in found)  # never happens with the shipped grammar (it is unambiguous)
    return top + math.log(math.fsum(math.exp(lp - top) for lp, _ in found))


def parse_story(text: str, config: StoryConfig | None = None) -> Story:
    """Recover the :class:`Story` (labels, recalls, Korean) from its English text.

    Raises ``ValueError`` if the generator cannot write ``text``.
    """
    if not isinstance(text, str):
        raise TypeError(f"parse_story expects the story text as a str, got {type(text).__name__}")
    config = _check_config(config)
    found = _derivations(text, config)
    if not found:
        raise ValueError(f"the story generator cannot write this text: {text[:60]!r}...")
    lp, trace = max(found, key=lambda d: d[0])
    choices: list[int] = []
    while trace is not None:
        i, trace = trace
        choices.append(i)
    w = Walker(_grammar(config), forced=iter(reversed(choices)), tracked=_TRACKED)
    _, marks = _run(w, _plan(config))
    story = _story(w, marks, config)
    return Story(story.text, logprob(text, config) if len(found) > 1 else story.logprob, story.labels,
                 story.recalls, config, story.trace)


@dataclass(frozen=True)
class EntropyFloor:
    """The corpus entropy floor: the per-character cross-entropy of the true distribution.

    ``nats_per_char = total_nats / n_chars`` where ``total_nats`` is the sum of ``-logprob``
    over the stories and ``n_chars`` counts every story and its separator. ``stderr`` is the
    standard error of ``nats_per_char`` as an estimate of the generator's entropy rate.
    """

    nats_per_char: float
    bits_per_char: float
    n_chars: int
    n_stories: int
    total_nats: float
    chars_per_story: float
    stderr: float


def entropy_floor(n_stories: int = 2000, seed: int = 0, config: StoryConfig | None = None) -> EntropyFloor:
    """The lowest loss any model can reach on ``corpus_text(n_stories, seed, config)``.

    Exactly the cross-entropy, in nats per character, of the generator itself on that text —
    for a model that reads each story from its start (see the module docstring).

    >>> floor = entropy_floor(200, seed=0)
    >>> floor.n_chars == len(corpus_text(200, seed=0))
    True
    """
    if _whole(n_stories) is None or n_stories < 1:
        raise ValueError(f"n_stories must be an int >= 1, got {n_stories!r}")
    nats, chars = [], []
    for s in _iter_stories(n_stories, seed, config):
        nats.append(-s.logprob)
        chars.append(len(s.text) + len(SEPARATOR))
    total, n_chars = math.fsum(nats), sum(chars)
    rate = total / n_chars
    n = len(nats)
    spread = math.fsum((x - rate * y) ** 2 for x, y in zip(nats, chars)) / max(n - 1, 1)
    stderr = math.sqrt(spread / n) / (n_chars / n)
    return EntropyFloor(rate, rate / math.log(2), n_chars, n, total, n_chars / n, stderr)
