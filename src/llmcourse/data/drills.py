"""Recall drills: a dedicated copy task, dense enough for a small model to learn on a CPU.

The story corpus's recall knob (``StoryConfig(recall_gap=...)``) asks for one colour per 650
characters of story: about 2 of a story's 140 nats hang on it, too faint a signal for a small
model to pick up in minutes (Chapter 04 measures it at chance). A drill asks the same kind of
question with nothing else around it — a name and a password of random letters, optional
filler sentences, and the password again::

    Mina's password is qhzkw. Then Mina typed qhzkw.

Every letter of the second password is fully determined by the first, so a model that looks
back (or carries the letters forward) pays nothing for it, and one that does not pays
``ln 26`` nats per letter. The password has ``min_len..max_len`` letters (uniform), and
``0..max_gap`` filler sentences (``P(gap = g) ∝ gap_decay ** g``) sit between the two.
A letter's *distance* is the number of characters between its two copies: the password length
plus the words in between. An RNN must hold every letter of the password in its state at once;
attention can look each one up.

Every choice has a known probability, so :attr:`Drill.logprob` is exact and
:func:`drill_floor` gives the entropy floor of :func:`drill_text`, as
:func:`~llmcourse.data.entropy_floor` does for the stories.

>>> drill = generate_drills(1, seed=3)[0]
>>> drill.text
"Jun's password is ltp. Then Jun typed ltp."
>>> r = drill.recalls[0]
>>> drill.text[slice(*r.source_span)] == drill.text[slice(*r.target_span)] == r.value == "l"
True

Chapter 04 — rnn (the recall experiment) and Chapter 07 — gpt (the same experiment for the GPT).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from llmcourse._checks import is_int
from llmcourse.data.lexicon import WORDS
from llmcourse.data.probability import EntropyFloor
from llmcourse.data.stories import SEPARATOR, Recall

__all__ = ["DrillConfig", "Drill", "FILLERS", "LETTERS", "NAMES", "generate_drills", "drill_text", "drill_floor"]

#: The names a drill picks from (the story corpus's heroes).
NAMES: tuple[str, ...] = tuple(sorted({entry[0] for entry in WORDS["name"]}))
#: The alphabet of passwords.
LETTERS = "abcdefghijklmnopqrstuvwxyz"
#: Filler sentences between the code and its recall: each equally likely.
FILLERS: tuple[str, ...] = tuple(f"{entry[0]}." for entry in WORDS["weather"]) + (
    "A dog barked.", "A bird sang.", "The cat slept.", "It began to rain.", "A bell rang.",
    "The kettle hummed.", "The clock ticked.", "A door closed.", "The tea was hot.", "It was late.")


@dataclass(frozen=True)
class DrillConfig:
    """How drills are drawn: passwords of ``min_len..max_len`` random lowercase letters (uniform);
    ``0..max_gap`` filler sentences with ``P(gap = g) ∝ gap_decay ** g`` (``gap_decay = 1``: uniform);
    names from the first ``n_names`` of :data:`NAMES` (``None``: all of them; ``1``: always the
    same name, the simplest drill, used to start a curriculum)."""

    min_len: int = 1
    max_len: int = 8
    max_gap: int = 0
    gap_decay: float = 1.0
    n_names: int | None = None

    def __post_init__(self) -> None:
        if self.n_names is not None and (not is_int(self.n_names) or not 1 <= self.n_names <= len(NAMES)):
            raise ValueError(f"DrillConfig.n_names must be None or an int in 1..{len(NAMES)}, got {self.n_names!r}")
        for name, low in (("min_len", 1), ("max_len", 1), ("max_gap", 0)):
            value = getattr(self, name)
            if not is_int(value) or value < low:
                raise ValueError(f"DrillConfig.{name} must be an int >= {low}, got {value!r}")
        if self.max_len < self.min_len:
            raise ValueError(f"DrillConfig needs min_len <= max_len, got {self.min_len} > {self.max_len}")
        if not 0 < self.gap_decay <= 1:
            raise ValueError(f"DrillConfig.gap_decay must be in (0, 1], got {self.gap_decay!r}")

    @property
    def gap_probs(self) -> list[float]:
        """``P(gap = g)`` for ``g = 0..max_gap``."""
        weights = [self.gap_decay ** g for g in range(self.max_gap + 1)]
        total = math.fsum(weights)
        return [w / total for w in weights]


@dataclass(frozen=True)
class Drill:
    """One drill: ``text`` (one line), its exact ``logprob`` (natural log; the drill's end is
    certain once the password is copied), ``password``, ``gap`` (filler sentences) and ``recalls``:
    one :class:`Recall` of kind ``"copy"`` per letter of the copied password."""

    text: str
    logprob: float
    password: str
    gap: int
    recalls: tuple[Recall, ...]


def generate_drills(n: int, seed: int = 0, config: DrillConfig | None = None) -> list[Drill]:
    """``n`` drills drawn with ``random.Random(seed)``; the same arguments give the same drills."""
    if not is_int(n) or n < 0:
        raise ValueError(f"n must be an int >= 0, got {n!r}")
    config = config or DrillConfig()
    rng = random.Random(seed)
    probs = config.gap_probs
    lengths = range(config.min_len, config.max_len + 1)
    names = NAMES[:config.n_names] if config.n_names is not None else NAMES
    per_letter, per_name, per_filler = math.log(26), math.log(len(names)), math.log(len(FILLERS))
    drills = []
    for _ in range(n):
        name = rng.choice(names)
        password = "".join(rng.choice(LETTERS) for _ in range(rng.choice(lengths)))
        gap = rng.choices(range(config.max_gap + 1), probs)[0]
        head = f"{name}'s password is "
        parts = [head + password + "."] + [rng.choice(FILLERS) for _ in range(gap)] + [f"Then {name} typed {password}."]
        text = " ".join(parts)
        start = len(text) - 1 - len(password)                      # where the copy begins
        recalls = tuple(Recall((len(head) + j, len(head) + j + 1), (start + j, start + j + 1),
                               start - len(head) - 1, letter, "copy", key="password")
                        for j, letter in enumerate(password))
        lp = (-per_name - math.log(len(lengths)) - len(password) * per_letter - gap * per_filler
              + math.log(probs[gap]))
        drills.append(Drill(text, lp, password, gap, recalls))
    return drills


def drill_text(n: int, seed: int = 0, config: DrillConfig | None = None) -> str:
    """The drills as one training text, each followed by :data:`~llmcourse.data.SEPARATOR`."""
    return "".join(d.text + SEPARATOR for d in generate_drills(n, seed, config))


def drill_floor(n: int = 2000, seed: int = 0, config: DrillConfig | None = None) -> EntropyFloor:
    """The entropy floor of ``drill_text(n, seed, config)`` in nats per character: no model can do
    better on average, and a model that recalls every code perfectly reaches it."""
    drills = generate_drills(n, seed, config)
    if not drills:
        raise ValueError("drill_floor needs n >= 1")
    nats = [-d.logprob for d in drills]
    chars = [len(d.text) + len(SEPARATOR) for d in drills]
    total, n_chars = math.fsum(nats), sum(chars)
    rate = total / n_chars
    spread = math.fsum((x - rate * y) ** 2 for x, y in zip(nats, chars)) / max(len(nats) - 1, 1)
    stderr = math.sqrt(spread / len(nats)) / (n_chars / len(nats))
    return EntropyFloor(rate, rate / math.log(2), n_chars, len(nats), total, n_chars / len(nats), stderr)
