"""The story corpus: a seeded generator of short stories that knows each story's exact probability.

A story follows one plan, one sentence at a time (the count of a section is random where a
range is shown)::

    opening · home (0–2) · object_intro · [filler × recall_gap · recall] · friend_intro ·
    scene (0–1) · problem (chooses the arc) · middle (config.middle_events: arc events,
    fillers and the friend's doings or words) · help ·
    resolution (chooses the mood) · ending

Every sentence is one entry of a set in :mod:`llmcourse.data.lexicon`, with random words in its
slots. The generator adds up the log-probability of every choice, so ``story.logprob`` is the
natural log of the probability of exactly this text, and :func:`~llmcourse.data.probability.logprob`
recovers it from the text alone by parsing (the grammar is unambiguous: each text has at most one
derivation).

>>> from llmcourse.data.probability import logprob
>>> story = generate_stories(1, seed=0)[0]
>>> abs(logprob(story.text) - story.logprob) < 1e-9
True

**The entropy floor.** The corpus a model reads is the stories, each followed by
:data:`SEPARATOR`. Stories are independent, and the end of a story is one of the generator's
choices, so the best possible model — the generator itself — pays exactly ``-story.logprob``
nats for a story *and* its separator. :func:`~llmcourse.data.probability.entropy_floor` divides the
total by the number of characters: no model can have a lower per-character cross-entropy on this text. For the default
corpus it is about 0.22 nats (0.32 bits) per character; ``python -m llmcourse floor`` measures it. It is the floor
for a model that sees each story from its start; a model with a shorter context window sits
above it (it cannot know, say, the hero's name any more).

Chapter 02 — language_models introduces the floor; Chapters 04 — rnn and 07 — gpt use the
recall knob (:class:`StoryConfig` ``recall_gap``); Chapter 10 — encoder_decoder the Korean.
"""

from __future__ import annotations

import math
import operator
import random
from bisect import bisect_right
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from typing import Any

from llmcourse._checks import is_int
from llmcourse.data.grammar import Grammar, Walker
from llmcourse.data.lexicon import ARCS, MOODS, SENTENCES, WORDS

__all__ = ["SEPARATOR", "ARCS", "MOODS", "StoryConfig", "DEFAULT_CONFIG", "Recall", "Story", "generate_stories",
           "corpus_text"]

#: What follows every story in the corpus text (and marks its end).
SEPARATOR = "\n\n"
_MAX_GAP = 40


def _range(value: Any, name: str, low: int, high: int) -> tuple[int, int]:
    if isinstance(value, bool) or not isinstance(value, (int, tuple, list)):
        raise TypeError(f"StoryConfig.{name} must be an int or a (min, max) pair of ints, got {value!r}")
    pair = (value, value) if isinstance(value, int) else tuple(value)
    if len(pair) != 2 or not all(is_int(v) for v in pair):
        raise TypeError(f"StoryConfig.{name} must be an int or a (min, max) pair of ints, got {value!r}")
    if not low <= pair[0] <= pair[1] <= high:
        raise ValueError(f"StoryConfig.{name} must satisfy {low} <= min <= max <= {high}, got {value!r}")
    return pair


@dataclass(frozen=True)
class StoryConfig:
    """The knobs of the story generator (frozen, hashable, validated).

    * ``recall_gap`` — the long-range-dependency knob. ``None`` (default): off. An int ``k``
      or a pair ``(lo, hi)``: right after the hero's object is introduced ("a red kite"),
      ``k`` (or uniformly ``lo..hi``) random filler sentences follow, then a **recall
      sentence** repeats the colour ("... still thought about the red kite."). Each filler
      adds ~50 characters: ``k = 0`` puts the recall ~20–60 characters after the colour,
      ``k = 8`` about 450. Every story then carries one ``Recall`` of kind ``"gap"``.
    * ``middle_events`` — how many sentences happen between the problem and the helper,
      uniformly in ``(min, max)`` (default 2–5).
    * ``arcs`` — which story arcs may occur (uniformly), a subset of :data:`ARCS`.
    * ``moods`` — weights of the ending moods, ``{"happy": .5, "bittersweet": .3, "sad": .2}``
      (a mapping or pairs; a missing mood never occurs).

    >>> StoryConfig(recall_gap=(0, 8)).recall_gap
    (0, 8)
    """

    recall_gap: int | tuple[int, int] | None = None
    middle_events: tuple[int, int] = (2, 5)
    arcs: tuple[str, ...] = ARCS
    moods: tuple[tuple[str, float], ...] = (("happy", 0.5), ("bittersweet", 0.3), ("sad", 0.2))

    def __post_init__(self) -> None:
        if self.recall_gap is not None:
            object.__setattr__(self, "recall_gap", _range(self.recall_gap, "recall_gap", 0, _MAX_GAP))
        object.__setattr__(self, "middle_events", _range(self.middle_events, "middle_events", 0, 10))
        arcs = self.arcs
        if isinstance(arcs, str) or not isinstance(arcs, Sequence):
            raise TypeError(f"StoryConfig.arcs must be a sequence of arc names from {ARCS}, got {arcs!r}")
        unknown = [a for a in arcs if a not in ARCS]
        if unknown or not arcs or len(set(arcs)) != len(arcs):
            raise ValueError(f"StoryConfig.arcs must be distinct names from {ARCS} (at least one), got {arcs!r}")
        object.__setattr__(self, "arcs", tuple(arcs))
        moods = dict(self.moods) if isinstance(self.moods, Mapping) else None
        if moods is None:
            try:
                moods = dict(self.moods)
            except (TypeError, ValueError):
                raise TypeError(f"StoryConfig.moods must map moods {MOODS} to weights, got {self.moods!r}") from None
        bad = [m for m in moods if m not in MOODS]
        if bad:
            raise ValueError(f"StoryConfig.moods: unknown mood(s) {bad}; expected names from {MOODS}")
        for m, w in moods.items():
            if isinstance(w, bool) or not isinstance(w, (int, float)) or not math.isfinite(w) or w < 0:
                raise ValueError(f"StoryConfig.moods[{m!r}] must be a finite weight >= 0, got {w!r}")
        if not any(w > 0 for w in moods.values()):
            raise ValueError(f"StoryConfig.moods needs at least one positive weight, got {self.moods!r}")
        object.__setattr__(self, "moods", tuple((m, float(moods[m])) for m in MOODS if m in moods))


DEFAULT_CONFIG = StoryConfig()


@dataclass(frozen=True)
class Recall:
    """A detail repeated from earlier in the story (the colour of the hero's object).

    ``source_span`` and ``target_span`` are ``(start, end)`` character offsets into
    ``story.text`` with ``text[slice(*source_span)] == text[slice(*target_span)] == value``; the
    source is the detail's most recent earlier mention. ``distance_chars = target_start -
    source_end`` is how far back a model must look. ``kind`` is ``"gap"`` for the recall
    sentence of the ``recall_gap`` knob (the words before it fix the value: its log-probability
    is 0) and ``"story"`` for mentions in the story's own sentences.
    """

    source_span: tuple[int, int]
    target_span: tuple[int, int]
    distance_chars: int
    value: str
    kind: str
    key: str = "color"


@dataclass(frozen=True)
class Story:
    """One generated story (Chapter 02 onwards).

    ``text`` (English, one line), ``logprob`` (natural log of its probability under the
    generator, end of story included), ``labels`` (``hero``, ``pronoun``, ``role``, ``trait``,
    ``place``, ``object``, ``color``, ``helper``, ``helper_pronoun``, ``arc``, ``mood``: all
    fixed by the text), ``recalls``, and — built on first use — ``sentences``
    (``(english, korean)`` pairs) and ``korean``. ``trace`` lists the generator's choices (the
    Korean is rendered by replaying them).

    >>> story = generate_stories(1, seed=2)[0]
    >>> english, korean = story.sentences[0]
    >>> story.text.startswith(english), story.korean.startswith(korean), story.labels["hero"] in english
    (True, True, True)
    """

    text: str
    logprob: float
    labels: dict[str, str]
    recalls: tuple[Recall, ...]
    config: StoryConfig = field(repr=False)
    trace: tuple[int, ...] = field(repr=False)

    @cached_property
    def sentences(self) -> tuple[tuple[str, str], ...]:
        """The story sentence by sentence: ``(english, korean)`` pairs."""
        walker = Walker(_grammar(self.config), forced=iter(self.trace), korean=True)
        pairs = tuple(_run(walker, _plan(self.config))[0])
        if " ".join(en for en, _ in pairs) != self.text:  # pragma: no cover - a replay is exact
            raise RuntimeError("replaying the story's choices did not give back its text")
        return pairs

    @cached_property
    def korean(self) -> str:
        """The Korean rendering, one Korean sentence per English sentence."""
        return " ".join(ko for _, ko in self.sentences)


# -- the plan: which set writes the next sentence ----------------------------------------------
class _Moves:
    """The possible next steps of the plan with their probabilities (sampled like a set)."""

    __slots__ = ("steps", "logps", "cum", "total")

    def __init__(self, steps: list[tuple[Any, str | None, str]], probs: list[float]) -> None:
        self.steps = steps
        self.logps = tuple(math.log(p) for p in probs)
        self.cum = [math.fsum(probs[: i + 1]) for i in range(len(probs))]
        self.total = self.cum[-1]

    def sample(self, rng: random.Random) -> int:
        return min(bisect_right(self.cum, rng.random() * self.total), len(self.cum) - 1)


def _uniform(lo: int, hi: int) -> tuple[float, ...]:
    return tuple(0.0 if k < lo else 1.0 / (hi - lo + 1) for k in range(hi + 1))


class _Plan:
    """Sections of a story, each a set (maybe named after the memory) and a count distribution."""

    def __init__(self, config: StoryConfig) -> None:
        gap = config.recall_gap
        self.sections: list[tuple[str, str, tuple[float, ...]]] = [
            ("opening", "opening", (0.0, 1.0)),
            ("home", "home", (0.2, 0.5, 0.3)),
            ("object", "object_intro", (0.0, 1.0)),
            ("gap", "filler", (1.0,) if gap is None else _uniform(*gap)),
            ("recall", "recall", (1.0,) if gap is None else (0.0, 1.0)),
            ("friend", "friend_intro", (0.0, 1.0)),
            ("scene", "filler", (0.5, 0.5)),
            ("problem", "problem", (0.0, 1.0)),
            ("middle", "middle_{arc}", _uniform(*config.middle_events)),
            ("help", "help_{arc}", (0.0, 1.0)),
            ("resolution", "resolution_{arc}", (0.0, 1.0)),
            ("ending", "ending_{mood}", (0.0, 1.0)),
        ]
        self._cache: dict[tuple[int, int], _Moves] = {}

    def moves(self, state: tuple[int, int]) -> _Moves:
        """Next steps from ``state = (section, sentences written in it)``: ``(state', set, section)``."""
        m = self._cache.get(state)
        if m is None:
            s, c = state
            steps, probs, reach = [], [], 1.0
            while s < len(self.sections):
                name, set_name, dist = self.sections[s]
                tail = math.fsum(dist[c:])
                more = math.fsum(dist[c + 1:]) / tail
                if more > 0:
                    steps.append(((s, c + 1), set_name, name))
                    probs.append(reach * more)
                if dist[c] == 0:
                    break
                reach *= dist[c] / tail
                s, c = s + 1, 0
            else:
                steps.append((None, None, "end"))
                probs.append(reach)
            m = self._cache[state] = _Moves(steps, probs)
        return m


@lru_cache(maxsize=32)
def _plan(config: StoryConfig) -> _Plan:
    return _Plan(config)


@lru_cache(maxsize=32)
def _grammar(config: StoryConfig) -> Grammar:
    sets: dict[str, list] = {**WORDS, **SENTENCES}
    arc_weight = {a: (1.0 if a in config.arcs else 0.0) for a in ARCS}
    mood_weight = dict(config.moods)
    sets["problem"] = [(f"{{p_{a}}}", f"{{p_{a}}}", {"weight": arc_weight[a], "sets": {"arc": a}, "label": a})
                       for a in ARCS]
    for a in ARCS:
        sets[f"middle_{a}"] = [(f"{{m_{a}}}", f"{{m_{a}}}", {"weight": 2}), ("{filler}", "{filler}", {"weight": 2}),
                               ("{chat}", "{chat}", {"weight": 1})]
        sets[f"resolution_{a}"] = [(f"{{r_{a}_{m}}}", f"{{r_{a}_{m}}}",
                                    {"weight": mood_weight.get(m, 0.0), "sets": {"mood": m}, "label": m})
                                   for m in MOODS]
    return Grammar(sets)


_TRACKED = frozenset({"C"})


def _run(w: Walker, plan: _Plan) -> tuple[list[tuple[str, str | None]], list[tuple[str, int, int, int]]]:
    """Write one story with ``w``; return its sentences and ``(section, start, end, n_events)``."""
    state: tuple[int, int] | None = (0, 0)
    sentences, marks = [], []
    while True:
        moves = plan.moves(state)
        state, set_name, section = moves.steps[w.choose(moves)]
        if state is None:
            return sentences, marks
        if sentences:
            w.emit(" ")
        start = w.pos
        sentences.append(w.sentence(set_name.format_map(w.mem) if "{" in set_name else set_name))
        marks.append((section, start, w.pos, len(w.events)))


def _recalls(w: Walker, marks: list[tuple[str, int, int, int]], text: str) -> tuple[Recall, ...]:
    kinds: list[str] = []
    for section, _, _, n_events in marks:
        kinds += [section] * (n_events - len(kinds))
    out, last = [], {}
    for (kind, key, start, end), section in zip(w.events, kinds):
        if kind == "ref" and key in last:
            s0, e0 = last[key]
            out.append(Recall((s0, e0), (start, end), start - e0, text[start:end],
                              "gap" if section == "recall" else "story"))
        last[key] = (start, end)
    return tuple(out)


def _story(w: Walker, marks: list, config: StoryConfig) -> Story:
    text = "".join(w.parts)
    m = w.mem
    labels = {"hero": m["H"].label, "pronoun": m["H"].tags["g"], "role": m["R"].label, "trait": m["T"].label,
              "place": m["P"].label, "object": m["O"].label, "color": m["C"].label, "helper": m["F"].label,
              "helper_pronoun": m["F"].tags["g"], "arc": m["arc"], "mood": m["mood"]}
    return Story(text, w.lp, labels, _recalls(w, marks, text), config, tuple(w.trace))


def _check_config(config: StoryConfig | None) -> StoryConfig:
    if config is None:
        return DEFAULT_CONFIG
    if not isinstance(config, StoryConfig):
        raise TypeError(f"config must be a StoryConfig or None, got {type(config).__name__}")
    return config


def _whole(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        return operator.index(value)  # int, numpy integers, ...
    except TypeError:
        return None


def _iter_stories(n: int, seed: int, config: StoryConfig | None) -> Iterator[Story]:
    count, seed_ = _whole(n), _whole(seed)
    if count is None or count < 0:
        raise ValueError(f"the number of stories must be an int >= 0, got {n!r}")
    if seed_ is None:
        raise TypeError(f"seed must be an int, got {seed!r}")
    n, seed = count, seed_
    config = _check_config(config)
    grammar, plan, rng = _grammar(config), _plan(config), random.Random(seed)
    for _ in range(n):
        w = Walker(grammar, rng=rng, tracked=_TRACKED)
        _, marks = _run(w, plan)
        yield _story(w, marks, config)


def generate_stories(n: int, seed: int = 0, config: StoryConfig | None = None) -> list[Story]:
    """``n`` stories drawn from one random stream seeded with ``seed`` (Chapter 02 onwards).

    The same ``(seed, config)`` always gives the same stories, and the first ``k`` stories of
    ``generate_stories(n, seed)`` are ``generate_stories(k, seed)``.

    >>> s = generate_stories(2, seed=1)
    >>> s[0].labels["hero"] in s[0].text, len(s)
    (True, 2)
    """
    return list(_iter_stories(n, seed, config))


def corpus_text(n: int, seed: int = 0, config: StoryConfig | None = None) -> str:
    """The text a model trains on: ``n`` stories, each followed by :data:`SEPARATOR`.

    >>> corpus_text(3).count(SEPARATOR)
    3
    """
    return "".join(s.text + SEPARATOR for s in _iter_stories(n, seed, config))
