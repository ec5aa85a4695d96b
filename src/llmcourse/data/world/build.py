"""The World's facts, documents and questions, and how a version follows the last.

:func:`world` draws every entity's facts, changes a fraction of them once per version after the
first, writes the documents (:mod:`~llmcourse.data.world.render`) and asks a question about every
fact whose value is unique (an attribute with ``unique=True`` in :data:`ATTRIBUTES`). A question
is kept only if its answer occurs in its gold document and in no other document (an exact
substring search over the whole world), so a retriever that finds the answer has found the gold
document, and a model that gives it has read (or remembered) that document.

>>> w = world(n_people=3, n_towns=2, n_shops=1)
>>> q = w.qa[0]
>>> q.answer in w.document(q.doc_id).text and q.answer not in w.document("town-0001").text
True
"""

from __future__ import annotations

import itertools
import random
from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property

from llmcourse._checks import int_at_least, is_int, non_negative, one_of, positive_int
from llmcourse.data.world.pools import NAME_SIZES, pools
from llmcourse.data.world.render import NUMBER_WORDS, QUESTIONS, SENTENCES, SHOP_KINDS, WEEKDAYS, choose, render

__all__ = ["ATTRIBUTES", "Attribute", "Fact", "Document", "QA", "Change", "WorldConfig", "World", "world",
           "changed_facts", "split_qa"]


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
_KINDS = ("town", "person", "shop")
_MOST_PEOPLE = 100_000  # drawn in this order: people and shops live in towns


@dataclass(frozen=True)
class Fact:
    """One fact: ``entity`` (its id, e.g. ``"person-0007"``) has ``attribute`` = ``value``."""

    entity: str
    attribute: str
    value: str

    @property
    def key(self) -> str:
        """``"entity/attribute"``: the same fact in every version."""
        return f"{self.entity}/{self.attribute}"


@dataclass(frozen=True)
class Document:
    """One entity's document: ``id`` (the entity's id, the same in every version), ``kind``,
    ``title`` (the entity's name), ``sentences`` and ``text`` (the sentences joined by spaces),
    ``facts`` (those it states), ``version``."""

    id: str
    kind: str
    title: str
    sentences: tuple[str, ...] = field(repr=False)
    text: str
    facts: tuple[Fact, ...] = field(repr=False)
    version: int
    where: tuple[tuple[str, int], ...] = field(repr=False)  # (attribute, index of the sentence stating it)

    def sentence_of(self, attribute: str) -> int:
        """The index in ``sentences`` of the sentence stating ``attribute``."""
        return dict(self.where)[one_of("attribute", attribute, dict(self.where))]


@dataclass(frozen=True)
class QA:
    """A question whose ``answer`` (a name, a number or a word) occurs in the gold document
    ``doc_id`` and in no other: in sentence ``sentence`` of it, at ``text[answer_start:]``.
    ``fact`` is the fact it tests; ``id`` is ``"<entity>/<attribute>/<paraphrase>"``."""

    id: str
    question: str
    answer: str
    doc_id: str
    fact: Fact
    sentence: int
    answer_start: int


@dataclass(frozen=True)
class Change:
    """A fact whose value differs between two versions: ``old`` → ``new``."""

    entity: str
    attribute: str
    old: str
    new: str

    @property
    def key(self) -> str:
        return f"{self.entity}/{self.attribute}"


@dataclass(frozen=True)
class WorldConfig:
    """The sizes and knobs of a world (validated). ``change``: the fraction of each mutable
    attribute's facts that get a new value in each new version; ``questions_per_fact``:
    paraphrases asked per fact (1–3); ``pronoun_rate``: how often a sentence after the first
    names its subject by a pronoun (``It``, ``She``) instead of its name."""

    n_people: int = 350
    n_towns: int = 50
    n_shops: int = 100
    change: float = 0.3
    questions_per_fact: int = 1
    pronoun_rate: float = 0.5

    def __post_init__(self) -> None:
        int_at_least("n_people", self.n_people, 0)
        int_at_least("n_towns", self.n_towns, 2, " (people and shops live in towns, and move)")
        int_at_least("n_shops", self.n_shops, 0)
        for name, most in (("n_people", _MOST_PEOPLE), ("n_towns", NAME_SIZES["town"]),
                           ("n_shops", NAME_SIZES["brand"])):  # every entity has a name of its own
            if getattr(self, name) > most:
                raise ValueError(f"{name} must be at most {most:,} (the invented names), got {getattr(self, name)!r}")
        for name in ("change", "pronoun_rate"):
            value = non_negative(name, getattr(self, name))
            if value > 1:
                raise ValueError(f"{name} must be a fraction in [0, 1], got {value!r}")
        positive_int("questions_per_fact", self.questions_per_fact)
        if self.questions_per_fact > 3:
            raise ValueError(f"questions_per_fact must be at most 3 (the templates per attribute), "
                             f"got {self.questions_per_fact}")


class _Draws:
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
        rng, used = self._rng(stream), self.used[pool]
        if len(used) < 0.75 * self._size(pool):
            value = self._one(pool, rng)
            while value in used:
                value = self._one(pool, rng)
        else:  # nearly spent: pick among the rest
            rest = [v for v in self._all(pool) if v not in used]
            value = rng.choice(rest) if rest else self._one(pool, rng)
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


def _entities(config: WorldConfig, draws: _Draws) -> list[tuple[str, str, str, str, str]]:
    """``(id, kind, name, short name, pronoun)`` of every entity, towns first."""
    counts = {"town": config.n_towns, "person": config.n_people, "shop": config.n_shops}
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


def _values(draws: _Draws, version: int, config: WorldConfig, entities: list) -> dict[str, dict[str, str]]:
    """Every entity's values in ``version``: version 1 drawn, each later one a copy of the last
    with ``config.change`` of each mutable attribute's facts drawn anew (exactly that fraction, rounded)."""
    values = {eid: {a: draws.draw(a) for a, spec in ATTRIBUTES.items() if spec.kind == kind}
              for eid, kind, *_ in entities}
    for v in range(2, version + 1):
        for attribute, spec in ATTRIBUTES.items():
            if not spec.mutable:
                continue
            ids = [eid for eid, kind, *_ in entities if kind == spec.kind]
            picked = random.Random(f"llmcourse-world/{draws.seed}/v{v}/{attribute}").sample(
                range(len(ids)), round(config.change * len(ids)))
            for i in sorted(picked):
                values[ids[i]][attribute] = draws.draw(attribute, avoid=values[ids[i]][attribute])
    return values


def _containing(texts: Sequence[str], answers: Iterable[str]) -> dict[str, set[int]]:
    """For each answer, the indices of the texts that contain it (exact substring search).

    Through an index of the texts' 4-letter pieces of words: a text contains an answer only if
    one of its words contains the answer's longest word, whose first four letters find them.
    Every answer's longest word has at least 4 letters.
    """
    docs_of: dict[str, set[int]] = defaultdict(set)  # word → the texts holding it
    for i, text in enumerate(texts):
        for word in set(text.split()):
            docs_of[word].add(i)
    words_of: dict[str, list[str]] = defaultdict(list)  # 4 letters → the words holding them
    for word in docs_of:
        for gram in {word[j:j + 4] for j in range(len(word) - 3)}:
            words_of[gram].append(word)
    found = {}
    for answer in answers:
        key = max(answer.split(), key=len)
        if len(key) < 4:  # too short for the index: search every text
            found[answer] = {i for i, text in enumerate(texts) if answer in text}
            continue
        hits = {i for word in words_of.get(key[:4], ()) if key in word for i in docs_of[word]}
        found[answer] = {i for i in hits if answer in texts[i]} if " " in answer else hits
    return found


@dataclass(frozen=True)
class World:
    """A version of the World knowledge base (Chapters 11 and 13): ``documents`` (one per
    entity), ``facts`` (every entity's, shared ones included) and ``qa`` (the questions), drawn
    from ``seed`` with ``config``. Build it with :func:`world`."""

    seed: int
    version: int
    config: WorldConfig
    documents: tuple[Document, ...] = field(repr=False)
    facts: tuple[Fact, ...] = field(repr=False)
    qa: tuple[QA, ...] = field(repr=False)

    @cached_property
    def _by_id(self) -> dict[str, Document]:
        return {d.id: d for d in self.documents}

    @cached_property
    def _by_key(self) -> dict[str, Fact]:
        return {f.key: f for f in self.facts}

    def document(self, id: str) -> Document:
        """The document of entity ``id`` (e.g. ``"town-0003"``)."""
        return self._by_id[one_of("id", id, self._by_id)]

    def fact(self, entity: str, attribute: str) -> Fact:
        """The fact ``entity``'s ``attribute`` in this version."""
        key = f"{entity}/{attribute}"
        if key not in self._by_key:
            raise ValueError(f"no fact {key!r} in this world: entity ids look like 'person-0007', "
                             f"attributes are {sorted(ATTRIBUTES)}")
        return self._by_key[key]

    def corpus(self, separator: str = "\n\n") -> str:
        """Every document's text, each followed by ``separator`` (a text to train a model on)."""
        return "".join(d.text + separator for d in self.documents)


def world(seed: int = 0, version: int = 1, *, n_people: int = 350, n_towns: int = 50, n_shops: int = 100,
          change: float = 0.3, questions_per_fact: int = 1, pronoun_rate: float = 0.5) -> World:
    """The World knowledge base: ``n_people`` people, ``n_towns`` towns and ``n_shops`` shops with
    invented names and random facts, as documents with questions (Chapters 11 and 13).

    The same arguments always give the same world, byte for byte. ``version`` 2 is version 1 with
    ``change`` of each mutable attribute's facts (a job, a pet, a mayor, ...) given new values
    never used before; everything else, wording included, stays the same. Version 3 changes
    version 2 the same way, and so on (:func:`changed_facts` lists the changes).

    >>> w = world(seed=1, n_people=2, n_towns=2, n_shops=1)
    >>> len(w.documents), [d.id for d in w.documents][:3]
    (5, ['town-0000', 'town-0001', 'person-0000'])
    >>> w.qa[0].question, w.qa[0].answer, w.qa[0].doc_id
    ('What is the name of the river in Mevham?', 'Ervan', 'town-0000')
    """
    int_at_least("seed", seed, 0)
    positive_int("version", version)
    config = WorldConfig(n_people, n_towns, n_shops, change, questions_per_fact, pronoun_rate)
    draws = _Draws(seed)
    entities = _entities(config, draws)
    values = _values(draws, version, config, entities)
    documents, facts, asked = [], [], []
    for eid, kind, name, short, pronoun in entities:
        own = values[eid]
        sentences, where, asks = render(seed, eid, kind, name, short, pronoun, own, config.pronoun_rate)
        doc_facts = tuple(Fact(eid, a, v) for a, v in own.items())
        documents.append(Document(eid, kind, name, sentences, " ".join(sentences), doc_facts, version,
                                  tuple(where.items())))
        facts.extend(doc_facts)
        asked.extend((len(documents) - 1, name, pronoun, f, asks[f.attribute]) for f in doc_facts
                     if ATTRIBUTES[f.attribute].unique)
    texts = [d.text for d in documents]
    found = _containing(texts, {f.value for _, _, _, f, _ in asked})
    qa = []
    for index, name, pronoun, fact, order in asked:
        if found[fact.value] != {index}:  # in another document too (a spent pool): no question
            continue
        doc = documents[index]
        s = doc.sentence_of(fact.attribute)
        start = sum(len(x) + 1 for x in doc.sentences[:s]) + doc.sentences[s].index(fact.value)
        templates = QUESTIONS[fact.attribute]
        own = {"she": "her", "he": "his", "they": "their"}.get(pronoun, "its")
        for p in range(config.questions_per_fact):
            question = templates[order[p]].format(name=name, own=own)
            qa.append(QA(f"{fact.key}/{p}", question, fact.value, doc.id, fact, s, start))
    return World(seed, version, config, tuple(documents), tuple(facts), tuple(qa))


def changed_facts(old: World, new: World) -> list[Change]:
    """The facts whose values differ between two versions of one world (same seed and config).

    >>> v1, v2 = world(n_people=20, version=1), world(n_people=20, version=2)
    >>> changes = changed_facts(v1, v2)
    >>> sorted({c.attribute for c in changes})[:3], all(c.old != c.new for c in changes)
    (['colour', 'home', 'job'], True)
    """
    for name, w in (("old", old), ("new", new)):
        if not isinstance(w, World):
            raise ValueError(f"{name} must be a World (from world(...)), got {type(w).__name__}")
    if (old.seed, old.config) != (new.seed, new.config):
        raise ValueError(f"old and new must be versions of one world (same seed and config), got seed "
                         f"{old.seed} with {old.config} and seed {new.seed} with {new.config}")
    return [Change(a.entity, a.attribute, a.value, b.value) for a, b in zip(old.facts, new.facts)
            if a.value != b.value]


_SPLIT_KEYS = {"entity": lambda q: q.fact.entity, "attribute": lambda q: q.fact.attribute,
               "fact": lambda q: q.fact.key}


def split_qa(qa: Sequence[QA], by: str = "entity", held_out: float | Collection[str] = 0.2,
             seed: int = 0) -> tuple[list[QA], list[QA]]:
    """Split questions into ``(train, held_out)``, keeping their order, so that no entity
    (``by="entity"``), attribute (``"attribute"``: a kind of fact) or fact (``"fact"``: every
    paraphrase of a fact on one side) is on both sides.

    ``held_out`` is a fraction of the keys (rounded, at least one on each side) chosen at
    random with ``seed``, or the keys themselves (entity ids, attribute names or fact keys
    ``"person-0007/job"``).

    >>> qa = world(n_people=10, n_towns=2, n_shops=2).qa
    >>> train, test = split_qa(qa, by="attribute", held_out=["pet_name"])
    >>> {q.fact.attribute for q in test}, any(q.fact.attribute == "pet_name" for q in train)
    ({'pet_name'}, False)
    """
    key = _SPLIT_KEYS[one_of("by", by, _SPLIT_KEYS)]
    if isinstance(qa, (str, bytes)) or not all(isinstance(q, QA) for q in qa):
        raise ValueError("qa must be a sequence of QA items (world(...).qa)")
    keys = sorted({key(q) for q in qa})
    if isinstance(held_out, (str, bytes)):
        raise ValueError(f"held_out must be a fraction or a collection of keys, got the string {held_out!r}")
    if isinstance(held_out, Collection):
        unknown = sorted(set(held_out) - set(keys))
        if unknown:
            raise ValueError(f"held_out names keys that no question has ({by}): {unknown[:5]}")
        chosen = set(held_out)
    else:
        fraction = non_negative("held_out", held_out)
        if not 0 < fraction < 1 or len(keys) < 2:
            raise ValueError(f"held_out must be a fraction in (0, 1) of at least 2 keys, got {held_out!r} "
                             f"with {len(keys)} {by} key(s)")
        n = min(max(round(fraction * len(keys)), 1), len(keys) - 1)
        chosen = set(random.Random(f"llmcourse-world-split/{seed}").sample(keys, n))
    return [q for q in qa if key(q) not in chosen], [q for q in qa if key(q) in chosen]
