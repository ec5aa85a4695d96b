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

from llmcourse._checks import int_at_least, non_negative, one_of, positive_int
from llmcourse.data.world.facts import ATTRIBUTES, MOST_PEOPLE, Draws, entities, values
from llmcourse.data.world.pools import NAME_SIZES
from llmcourse.data.world.render import QUESTIONS, render

__all__ = ["Fact", "Document", "QA", "Change", "WorldConfig", "World", "world",
           "changed_facts", "split_qa"]


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
    names its subject by a pronoun (``It``, ``She``) instead of its name.

    The pools keep every question up to 1,900 people, 800 towns and 1,500 shops in version 2
    (measured); beyond, a spent pool repeats values and their questions are dropped."""

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
        for name, most in (("n_people", MOST_PEOPLE), ("n_towns", NAME_SIZES["town"]),
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
    draws = Draws(seed)
    every = entities({"town": n_towns, "person": n_people, "shop": n_shops}, draws)
    drawn = values(draws, version, config.change, every)
    documents, facts, asked = [], [], []
    for eid, kind, name, short, pronoun in every:
        own = drawn[eid]
        sentences, where, asks = render(seed, eid, kind, name, short, pronoun, own, config.pronoun_rate)
        doc_facts = tuple(Fact(eid, a, v) for a, v in own.items())
        documents.append(Document(eid, kind, name, sentences, " ".join(sentences), doc_facts, version,
                                  tuple(where.items())))
        facts.extend(doc_facts)
        starts = list(itertools.accumulate((len(s) + 1 for s in sentences), initial=0))  # of each sentence
        possessive = {"she": "her", "he": "his", "they": "their"}.get(pronoun, "its")
        for fact in doc_facts:
            if ATTRIBUTES[fact.attribute].unique:
                s = where[fact.attribute]
                start = starts[s] + sentences[s].index(fact.value)
                asked.append((len(documents) - 1, name, possessive, fact, asks[fact.attribute], s, start))
    found = _containing([d.text for d in documents], {a[3].value for a in asked})
    qa = []
    for index, name, possessive, fact, order, s, start in asked:
        if found[fact.value] != {index}:  # in another document too (a spent pool): no question
            continue
        templates = QUESTIONS[fact.attribute]
        for p in range(config.questions_per_fact):
            question = templates[order[p]].format(name=name, own=possessive)
            qa.append(QA(f"{fact.key}/{p}", question, fact.value, documents[index].id, fact, s, start))
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
