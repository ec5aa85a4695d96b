"""How the World is written: the sentence templates of each document and the question templates.

A document is one sentence per *group* of facts: the first group names the entity (``Kessa
Bralow lives in Dornholt.``), the others follow in an order fixed per entity. Each sentence picks
one of three templates, and after the first sentence the subject is either the entity's name or
a pronoun (``She``, ``It``: ``pronoun_rate``). Every choice comes from a hash of the seed, the
entity and the group — never from the values — so a fact that changes between versions changes
its own sentence and nothing else.

>>> fill("{Sub} work{s} as {a_job}.", {"a_job": "an emberwright"}, _subject("Kessa", "they", True))
'They work as an emberwright.'
"""

from __future__ import annotations

import hashlib
import random
import re

__all__ = ["SENTENCES", "QUESTIONS", "SHOP_KINDS", "WEEKDAYS", "NUMBER_WORDS", "choose", "fill", "render",
           "template_text"]

#: The second word of a shop's name (``Kravell Bakery``).
SHOP_KINDS = ("Bakery", "Bookshop", "Teahouse", "Toyshop", "Forge", "Apothecary", "Workshop", "Emporium",
              "Pantry", "Creamery", "Pottery", "Bindery", "Mill", "Brewery", "Tannery", "Chandlery")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
NUMBER_WORDS = ("two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
                "sixteen seventeen eighteen nineteen twenty").split()

#: kind → the sentence groups of its documents: (the attributes a sentence states, its templates).
#: The first group opens the document and names the entity in full.
SENTENCES: dict[str, tuple[tuple[tuple[str, ...], tuple[str, ...]], ...]] = {
    "person": (
        (("home",), ("{name} lives in {home}.", "{name} has lived in {home} for many years.",
                     "{name} is a resident of {home}.")),
        (("born",), ("{Sub} {was} born in {born}.", "{Pos} birth year is {born}.",
                     "{Sub} {was} born in the year {born}.")),
        (("job",), ("{Sub} work{s} as {a_job}.", "By trade, {sub} {is} {a_job}.",
                    "{Sub} earn{s} a living as {a_job}.")),
        (("pet_species", "pet_name"), ("{Sub} {has} {a_pet_species} called {pet_name}.",
                                       "{Pos} pet is {a_pet_species} named {pet_name}.",
                                       "{pet_name} is {pos} pet {pet_species}.")),
        (("colour",), ("{Pos} favourite colour is {colour}.", "{Sub} like{s} {colour} more than any other colour.",
                       "Of all colours, {sub} like{s} {colour} best.")),
    ),
    "town": (
        (("river",), ("{name} lies on the River {river}.", "The River {river} flows through {name}.",
                      "{name} stands on the banks of the River {river}.")),
        (("founded",), ("{Sub} was founded in {founded}.", "The first houses of {name} were built in {founded}.",
                        "{Pos} history goes back to {founded}.")),
        (("founder",), ("{Pos} founder was {founder}.", "{founder} founded {name}.",
                        "{Sub} was founded by {founder}.")),
        (("population",), ("{Sub} has {population} inhabitants.", "{population} people live in {name}.",
                           "{Pos} population is {population}.")),
        (("mayor",), ("The mayor of {name} is {mayor}.", "{mayor} is the mayor of {name}.",
                      "{Sub} is governed by Mayor {mayor}.")),
        (("market_day",), ("Market day in {name} is {market_day}.", "Every {market_day}, {name} holds a market.",
                           "{Sub} holds a market every {market_day}.")),
    ),
    "shop": (
        (("town",), ("{name} can be found in {town}.", "You will find {name} in {town}.",
                     "{name} stands in the middle of {town}.")),
        (("opened",), ("{Sub} opened in {opened}.", "{name} has been open since {opened}.",
                       "{Sub} opened for business in {opened}.")),
        (("owner",), ("{Sub} is run by {owner}.", "The owner of {name} is {owner}.", "{owner} owns {name}.")),
        (("ware",), ("{Pos} best-selling item is the {ware}.", "Customers come from far away for {pos} {ware}.",
                     "Most people visit {name} for the {ware}.")),
        (("staff",), ("{Sub} employ{s} {staff} people.", "{Sub} {has} a staff of {staff}.",
                      "{name} gives work to {staff} people.")),
    ),
}

#: attribute → question templates (only the attributes whose values are unique get questions).
QUESTIONS: dict[str, tuple[str, ...]] = {
    "job": ("What does {name} do for a living?", "What is {name}'s trade?", "What work does {name} do?"),
    "pet_species": ("What kind of animal is {name}'s pet?", "Which animal does {name} keep as a pet?",
                    "What species is {name}'s pet?"),
    "pet_name": ("What is the name of {name}'s pet?", "What is {name}'s pet called?",
                 "What name did {name} give {own} pet?"),
    "colour": ("What is {name}'s favourite colour?", "Which colour does {name} like best?",
               "What colour does {name} prefer?"),
    "river": ("Which river flows through {name}?", "On which river does {name} lie?",
              "What is the name of the river in {name}?"),
    "founded": ("In which year was {name} founded?", "When was {name} founded?", "What year was {name} founded in?"),
    "founder": ("Who founded {name}?", "Who was the founder of {name}?", "Which person founded {name}?"),
    "population": ("How many people live in {name}?", "What is the population of {name}?",
                   "How many inhabitants does {name} have?"),
    "mayor": ("Who is the mayor of {name}?", "Who governs {name} as mayor?",
              "Who holds the office of mayor in {name}?"),
    "owner": ("Who owns {name}?", "Who runs {name}?", "Who is the owner of {name}?"),
    "ware": ("What is the best-selling item at {name}?", "What do customers buy most at {name}?",
             "What is {name} best known for selling?"),
}

_PRONOUNS = {  # pronoun → subject, possessive, and the verb forms that agree with it
    "she": {"Sub": "She", "sub": "she", "Pos": "Her", "pos": "her", "s": "s", "is": "is", "was": "was", "has": "has"},
    "he": {"Sub": "He", "sub": "he", "Pos": "His", "pos": "his", "s": "s", "is": "is", "was": "was", "has": "has"},
    "they": {"Sub": "They", "sub": "they", "Pos": "Their", "pos": "their", "s": "", "is": "are", "was": "were",
             "has": "have"},
    "it": {"Sub": "It", "sub": "it", "Pos": "Its", "pos": "its", "s": "s", "is": "is", "was": "was", "has": "has"},
}


def choose(n: int, *key: object) -> int:
    """A number in ``[0, n)`` fixed by ``key`` (a hash: the same key always gives the same number).

    >>> choose(3, 0, "person-0001", "job") == choose(3, 0, "person-0001", "job")
    True
    """
    digest = hashlib.blake2b("/".join(map(str, key)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % n


def _subject(name: str, pronoun: str, use_pronoun: bool) -> dict[str, str]:
    """The subject fields of a sentence: the pronoun's, or the name's (singular)."""
    if use_pronoun:
        return _PRONOUNS[pronoun]
    return {**_PRONOUNS["it"], "Sub": name, "sub": name, "Pos": f"{name}'s", "pos": f"{name}'s"}


def _article(word: str) -> str:
    return f"an {word}" if word[0] in "aeiou" else f"a {word}"


def fill(template: str, values: dict[str, str], subject: dict[str, str]) -> str:
    """``template`` with the fact values (``a_job``: the value with its article) and the subject fields."""
    return template.format(**subject, **values)


def _shuffled(n: int, rng: random.Random) -> list[int]:
    """``0..n-1`` in a random order (Fisher–Yates, one ``rng.random()`` per step)."""
    out = list(range(n))
    for i in range(n - 1, 0, -1):
        j = int(rng.random() * (i + 1))
        out[i], out[j] = out[j], out[i]
    return out


def render(seed: int, entity: str, kind: str, name: str, short: str, pronoun: str, values: dict[str, str],
           pronoun_rate: float) -> tuple[tuple[str, ...], dict[str, int], dict[str, tuple[int, ...]]]:
    """One entity's document: its sentences, the sentence index of each attribute, and for each
    attribute with questions the order in which its question templates are used.

    ``short`` is how later sentences name the entity (a person's given name); ``pronoun`` is
    ``she``, ``he``, ``they`` or ``it``. The random choices come from a stream of their own
    (seed and entity), always drawn the same way: they do not depend on the values.
    """
    rng = random.Random(f"llmcourse-world/{seed}/{entity}/render")
    groups = SENTENCES[kind]
    slots = {"name": name, **values}
    slots.update({f"a_{a}": _article(values[a]) for a in ("job", "pet_species") if a in values})
    sentences, where = [], {}
    for g in [0] + [1 + g for g in _shuffled(len(groups) - 1, rng)]:
        attrs, templates = groups[g]
        use_pronoun = rng.random() < pronoun_rate and g > 0
        template = templates[int(rng.random() * len(templates))]
        text = fill(template, slots, _subject(short, pronoun, use_pronoun))
        sentences.append(text[0].upper() + text[1:])
        where.update({a: len(sentences) - 1 for a in attrs})
    asks = {a: tuple(_shuffled(len(QUESTIONS[a]), rng)) for a in values if a in QUESTIONS}
    return tuple(sentences), where, asks


def template_text() -> str:
    """Every fixed word the documents and questions can hold (templates without their slots,
    pronouns, shop kinds, weekdays, numbers in words): invented words are checked against it."""
    templates = [t for groups in SENTENCES.values() for _, ts in groups for t in ts]
    templates += [q for qs in QUESTIONS.values() for q in qs]
    words = [w for forms in _PRONOUNS.values() for w in forms.values()]
    text = " ".join(templates + words + list(SHOP_KINDS) + list(WEEKDAYS) + NUMBER_WORDS)
    return re.sub(r"\{[^}]*\}", " ", text)
