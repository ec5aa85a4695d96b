"""How the World's facts are drawn, and how each version changes some of them.

Every attribute (:data:`ATTRIBUTES`) draws from a *pool*: invented words
(:mod:`~llmcourse.data.world.pools`), invented full names, a range of numbers, the world's own
towns, weekdays or small numbers in words. An attribute with ``unique=True`` never gives two
entities the same value, and a new version draws values never used before, so an old answer is
nowhere in a new version. Each attribute has a random stream of its own, continued from
version to version: ``world(version=3)`` replays versions 1 and 2 first.

>>> def person(version):
...     draws = Draws(seed=0)
...     every = entities({"town": 2, "person": 1, "shop": 0}, draws)
...     return values(draws, version, 1.0, every)["person-0000"]  # change = 1.0: every mutable fact
>>> one, two = person(1), person(2)
>>> one["born"] == two["born"], one["job"] != two["job"], one == person(1)
(True, True, True)
"""

from __future__ import annotations

import itertools
import random
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from llmcourse.data.world.pools import pools
from llmcourse.data.world.render import NUMBER_WORDS, SHOP_KINDS, WEEKDAYS, choose

__all__ = ["ATTRIBUTES", "Attribute", "MOST_PEOPLE", "Draws", "entities", "values"]


@dataclass(frozen=True)
class Attribute:
    """What an attribute is: the entity ``kind`` that has it, the ``pool`` its values come from,
    whether values are ``unique`` in a world (then it gets questions) and ``mutable`` (it may
    change between versions)."""

    kind: str
    pool: str
    unique: bool
    mutable: bool


#: Every attribute, by kind, in document order. Shared values (a home town, a birth year) make
#: the documents read naturally but get no questions: their answer is in many documents.
ATTRIBUTES: dict[str, Attribute] = {
    "home": Attribute("person", "towns", False, True), "born": Attribute("person", "born", False, False),
    "job": Attribute("person", "job", True, True), "pet_species": Attribute("person", "species", True, True),
    "pet_name": Attribute("person", "pet", True, True), "colour": Attribute("person", "colour", True, True),
    "river": Attribute("town", "river", True, False), "founded": Attribute("town", "founded", True, False),
    "founder": Attribute("town", "fullname", True, False), "population": Attribute("town", "population", True, True),
    "mayor": Attribute("town", "fullname", True, True), "market_day": Attribute("town", "weekday", False, False),
    "town": Attribute("shop", "towns", False, False), "opened": Attribute("shop", "opened", False, False),
    "owner": Attribute("shop", "fullname", True, True), "ware": Attribute("shop", "ware", True, True),
    "staff": Attribute("shop", "staff", False, True),
}
_RANGES = {"born": (1935, 2006), "founded": (1100, 1900), "opened": (1900, 2021), "population": (10_000, 100_000)}
_KINDS = ("town", "person", "shop")  # drawn in this order: people and shops live in towns
#: The most people a world may have (towns and shops: as many as their pools have names).
MOST_PEOPLE = 100_000



class Draws:
    """Where values come from: one random stream per attribute (continued from version to
    version) and, per pool, every value used so far, so a new value was never seen before."""

    def __init__(self, seed: int) -> None:
        self.seed, self.streams, self.used = seed, {}, defaultdict(set)
        self.words, self.towns = pools(), ()

    def _rng(self, stream: str) -> random.Random:
        if stream not in self.streams:
            self.streams[stream] = random.Random(f"llmcourse-world/{self.seed}/{stream}")
        return self.streams[stream]

    def _choices(self, pool: str) -> Sequence[str]:
        return {"towns": self.towns, "weekday": WEEKDAYS, "staff": NUMBER_WORDS}.get(pool) or self.words[pool]

    def _one(self, pool: str, rng: random.Random) -> str:
        if pool == "fullname":
            return f"{rng.choice(self.words['given'])} {rng.choice(self.words['surname'])}"
        if pool in _RANGES:
            n = rng.randrange(*_RANGES[pool])
            return f"{n:,}" if pool == "population" else str(n)
        return rng.choice(self._choices(pool))

    def _size(self, pool: str) -> int:
        if pool == "fullname":
            return len(self.words["given"]) * len(self.words["surname"])
        return (_RANGES[pool][1] - _RANGES[pool][0]) if pool in _RANGES else len(self._choices(pool))

    def _all(self, pool: str) -> Iterable[str]:
        if pool == "fullname":
            return (f"{g} {s}" for g, s in itertools.product(self.words["given"], self.words["surname"]))
        if pool in _RANGES:
            return (f"{n:,}" if pool == "population" else str(n) for n in range(*_RANGES[pool]))
        return self._choices(pool)

    def unique(self, stream: str, pool: str) -> str:
        """A value of ``pool`` never used before (once the pool is spent, values repeat: the
        uniqueness check then drops their questions)."""
        rng, used, size = self._rng(stream), self.used[pool], self._size(pool)
        if len(used) >= size:  # spent
            return self._one(pool, rng)
        if len(used) < 0.75 * size:
            value = self._one(pool, rng)
            while value in used:
                value = self._one(pool, rng)
        else:  # nearly spent: pick among the rest
            value = rng.choice([v for v in self._all(pool) if v not in used])
        used.add(value)
        return value

    def shared(self, stream: str, pool: str, avoid: str | None = None) -> str:
        """Any value of ``pool`` (other than ``avoid``)."""
        rng = self._rng(stream)
        value = self._one(pool, rng)
        while value == avoid:
            value = self._one(pool, rng)
        return value

    def draw(self, attribute: str, avoid: str | None = None) -> str:
        spec = ATTRIBUTES[attribute]
        return self.unique(attribute, spec.pool) if spec.unique else self.shared(attribute, spec.pool, avoid)


def entities(counts: dict[str, int], draws: Draws) -> list[tuple[str, str, str, str, str]]:
    """``(id, kind, name, short name, pronoun)`` of every entity (``counts``: kind → how many), towns first."""
    out = []
    for kind in _KINDS:
        width = max(4, len(str(counts[kind] - 1)))
        for i in range(counts[kind]):
            eid = f"{kind}-{i:0{width}d}"
            if kind == "town":
                name = draws.unique("name/town", "town")
                out.append((eid, kind, name, name, "it"))
            elif kind == "person":
                name = draws.unique("name/person", "fullname")
                pick = choose(20, draws.seed, eid, "pronoun")
                out.append((eid, kind, name, name.split()[0], "she" if pick < 9 else "he" if pick < 18 else "they"))
            else:
                kind_word = SHOP_KINDS[choose(len(SHOP_KINDS), draws.seed, eid, "shop kind")]
                name = f"{draws.unique('name/shop', 'brand')} {kind_word}"
                out.append((eid, kind, name, name, "it"))
        if kind == "town":
            draws.towns = tuple(name for _, _, name, _, _ in out)
    return out


def values(draws: Draws, version: int, change: float, entities: list) -> dict[str, dict[str, str]]:
    """Every entity's values in ``version``: version 1 drawn, each later one a copy of the last
    with ``change`` of each mutable attribute's facts drawn anew (exactly that fraction, rounded)."""
    values = {eid: {a: draws.draw(a) for a, spec in ATTRIBUTES.items() if spec.kind == kind}
              for eid, kind, *_ in entities}
    for v in range(2, version + 1):
        for attribute, spec in ATTRIBUTES.items():
            if not spec.mutable:
                continue
            ids = [eid for eid, kind, *_ in entities if kind == spec.kind]
            picked = random.Random(f"llmcourse-world/{draws.seed}/v{v}/{attribute}").sample(
                range(len(ids)), round(change * len(ids)))
            for i in sorted(picked):
                values[ids[i]][attribute] = draws.draw(attribute, avoid=values[ids[i]][attribute])
    return values
