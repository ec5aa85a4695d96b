"""Tests of the World knowledge base (``llmcourse.data.world``): determinism, answers unique to
their gold document, versions, splits, the invented words and the argument checks."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from collections import Counter, defaultdict

import pytest

from llmcourse.data import QA, World, changed_facts, split_qa, world
from llmcourse.data.world import ATTRIBUTES
from llmcourse.data.world.pools import pools
from llmcourse.data.world.render import QUESTIONS, SENTENCES, template_text

SMALL = dict(n_people=60, n_towns=8, n_shops=15)


@pytest.fixture(scope="module")
def versions():
    """The default world in versions 1–3."""
    return [world(seed=0, version=v) for v in (1, 2, 3)]


def _digest(w: World) -> str:
    parts = [w.corpus()] + [f"{q.id}|{q.question}|{q.answer}|{q.answer_start}" for q in w.qa]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


# -- determinism ---------------------------------------------------------------------------------
def test_the_same_arguments_give_the_same_world_byte_for_byte(versions):
    again = world(seed=0, version=2)
    assert again == versions[1] and _digest(again) == _digest(versions[1])
    assert _digest(world(seed=1, version=2)) != _digest(versions[1])
    assert world(seed=0, pronoun_rate=0.0).corpus() != versions[0].corpus()


def test_a_fresh_process_with_another_hash_seed_gives_the_same_world():
    code = ("from llmcourse.data import world; import hashlib; w = world(seed=5, version=2, n_people=40, "
            "n_towns=5, n_shops=9); print(hashlib.sha256(w.corpus().encode()).hexdigest())")
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    here = world(seed=5, version=2, n_people=40, n_towns=5, n_shops=9)
    assert out.stdout.strip() == hashlib.sha256(here.corpus().encode()).hexdigest()


# -- documents and questions ---------------------------------------------------------------------
def test_documents_are_one_per_entity_with_stable_ids_and_every_fact_in_its_sentence(versions):
    w = versions[0]
    assert Counter(d.kind for d in w.documents) == {"person": 350, "town": 50, "shop": 100}
    assert len({d.id for d in w.documents}) == len(w.documents) == len({d.title for d in w.documents})
    assert [d.id for d in w.documents] == [d.id for d in versions[2].documents]
    for doc in w.documents:
        assert doc.text == " ".join(doc.sentences) and doc.title in doc.sentences[0]
        assert {f.attribute for f in doc.facts} == {a for a, s in ATTRIBUTES.items() if s.kind == doc.kind}
        for fact in doc.facts:
            assert fact.value in doc.sentences[doc.sentence_of(fact.attribute)], (doc.text, fact)
    sentence_counts = Counter(len(d.sentences) for d in w.documents)
    assert set(sentence_counts) == {len(groups) for groups in SENTENCES.values()}


def _answers_are_unique(w: World) -> None:
    """The oracle: a plain substring count over the whole corpus (documents joined by a character
    that no answer holds) equals the count in the gold document."""
    joined = "\x00".join(d.text for d in w.documents)
    for q in w.qa:
        gold = w.document(q.doc_id).text
        assert gold[q.answer_start:q.answer_start + len(q.answer)] == q.answer, q
        assert q.answer in w.document(q.doc_id).sentences[q.sentence], q
        assert joined.count(q.answer) == gold.count(q.answer) >= 1, f"{q.answer!r} is in another document"
        assert q.answer not in q.question and q.fact.value == q.answer and q.fact.entity == q.doc_id


@pytest.mark.parametrize("version", [1, 2, 3])
def test_every_answer_is_in_its_gold_document_and_in_no_other(versions, version):
    w = versions[version - 1]
    _answers_are_unique(w)
    unique_facts = [f for f in w.facts if ATTRIBUTES[f.attribute].unique]
    assert len(w.qa) == len(unique_facts) == 1850, "at the default sizes no question is dropped"
    assert {q.fact.attribute for q in w.qa} == set(QUESTIONS)


def test_other_sizes_seeds_and_paraphrases_keep_answers_unique():
    w = world(seed=7, version=3, n_people=200, n_towns=30, n_shops=40, change=0.5, questions_per_fact=3,
              pronoun_rate=0.9)
    _answers_are_unique(w)
    by_fact = defaultdict(set)
    for q in w.qa:
        by_fact[q.fact.key].add(q.question)
    assert all(len(questions) == 3 for questions in by_fact.values()), "three different paraphrases per fact"
    assert len({q.id for q in w.qa}) == len(w.qa)


def test_a_spent_pool_repeats_values_and_their_questions_are_dropped():
    # 900 towns need more founding years than the 800 of 1100–1899: a repeated year gets no question.
    w = world(seed=0, n_people=0, n_towns=900, n_shops=0)
    years = Counter(w.fact(d.id, "founded").value for d in w.documents)
    asked = [q for q in w.qa if q.fact.attribute == "founded"]
    assert len(years) == 800 and {q.answer for q in asked} == {y for y, n in years.items() if n == 1}
    assert 0 < len(asked) < 800 and len(w.qa) == 900 * 4 + len(asked)
    joined = "\x00".join(d.text for d in w.documents)
    assert all(joined.count(q.answer) == 1 for q in asked)


def test_questions_name_their_entity_and_answers_are_short(versions):
    w = versions[0]
    for q in w.qa:
        assert w.document(q.doc_id).title in q.question and q.question.endswith("?")
        assert 1 <= len(q.answer.split()) <= 2 and len(q.answer) <= 30


def test_pronoun_rate_zero_names_the_subject_in_every_sentence():
    w = world(seed=2, pronoun_rate=0.0, **SMALL)
    pronouns = ("She ", "He ", "They ", "It ", "Her ", "His ", "Their ", "Its ")
    assert not any(s.startswith(pronouns) for d in w.documents for s in d.sentences)
    w1 = world(seed=2, pronoun_rate=1.0, **SMALL)
    assert sum(s.startswith(pronouns) for d in w1.documents for s in d.sentences) > len(w1.documents)


# -- versions ------------------------------------------------------------------------------------
@pytest.mark.parametrize("step", [(0, 1), (1, 2)])
def test_a_new_version_changes_the_chosen_fraction_and_nothing_else(versions, step):
    old, new = versions[step[0]], versions[step[1]]
    changes = changed_facts(old, new)
    changed = {c.key for c in changes}
    mutable = [f for f in old.facts if ATTRIBUTES[f.attribute].mutable]
    assert abs(len(changes) / len(mutable) - 0.3) < 0.005, len(changes) / len(mutable)
    for attribute, spec in ATTRIBUTES.items():  # exactly round(0.3 n) per mutable attribute
        n = sum(f.attribute == attribute for f in old.facts)
        k = sum(c.attribute == attribute for c in changes)
        assert k == (round(0.3 * n) if spec.mutable else 0), attribute
    for a, b in zip(old.facts, new.facts):
        assert (a.entity, a.attribute) == (b.entity, b.attribute)
        assert (a.value != b.value) == (a.key in changed)
    for d_old, d_new in zip(old.documents, new.documents):
        touched = {d_old.sentence_of(c.split("/")[1]) for c in changed if c.startswith(d_old.id + "/")}
        for i, (s_old, s_new) in enumerate(zip(d_old.sentences, d_new.sentences)):
            assert (s_old != s_new) == (i in touched), (d_old.id, i)
    q_old = {q.id: q for q in old.qa}
    for q in new.qa:
        p = q_old[q.id]
        assert p.question == q.question and (p.answer == q.answer) == (q.fact.key not in changed)
    corpus = old.corpus()
    fresh = [c.new for c in changes if ATTRIBUTES[c.attribute].unique]
    assert fresh and not any(value in corpus for value in fresh), "a new value is never an old one"


def test_change_zero_keeps_every_document_and_change_one_changes_every_mutable_fact():
    v1 = world(seed=3, **SMALL)
    assert [d.text for d in world(seed=3, version=2, change=0.0, **SMALL).documents] == [d.text for d in v1.documents]
    everything = changed_facts(world(seed=3, change=1.0, **SMALL), world(seed=3, version=2, change=1.0, **SMALL))
    assert len(everything) == sum(ATTRIBUTES[f.attribute].mutable for f in v1.facts)


# -- splits --------------------------------------------------------------------------------------
@pytest.mark.parametrize("by, key", [("entity", lambda q: q.fact.entity), ("attribute", lambda q: q.fact.attribute),
                                     ("fact", lambda q: q.fact.key)])
def test_splits_are_disjoint_cover_everything_and_keep_the_order(by, key):
    qa = world(seed=1, questions_per_fact=2, **SMALL).qa
    train, test = split_qa(qa, by=by, held_out=0.25, seed=4)
    assert not {key(q) for q in train} & {key(q) for q in test}
    assert sorted(q.id for q in train + test) == sorted(q.id for q in qa)
    assert train == [q for q in qa if q in set(train)] and test == [q for q in qa if q in set(test)]
    keys = {key(q) for q in qa}
    assert len({key(q) for q in test}) == round(0.25 * len(keys))
    assert split_qa(qa, by=by, held_out=0.25, seed=4) == (train, test) != split_qa(qa, by=by, held_out=0.25, seed=5)


def test_a_split_by_named_keys():
    qa = world(seed=1, **SMALL).qa
    train, test = split_qa(qa, by="entity", held_out=["town-0000", "person-0003"])
    assert {q.fact.entity for q in test} == {"town-0000", "person-0003"}
    assert len(train) + len(test) == len(qa)


# -- the invented words --------------------------------------------------------------------------
def test_the_name_universe_is_prefix_free_and_the_compounds_nest_in_nothing():
    p = pools()
    names = sorted(w for kind in ("given", "surname", "town", "river", "pet", "brand") for w in p[kind])
    assert len(names) == len(set(names)) and all(len(n) >= 4 and n[0].isupper() for n in names)
    assert not any(b.startswith(a) for a, b in zip(names, names[1:]))
    capitalised = {w.strip(".,'s") for w in template_text().split() if w[:1].isupper()}
    assert not any(t.startswith(n) for n in names for t in capitalised)
    compounds = sorted(w for kind in ("job", "species", "colour", "ware") for w in p[kind])
    assert len(compounds) == len(set(compounds)) >= 10_000
    joined = "\x00".join(compounds)
    assert all(joined.count(c) == 1 for c in compounds[::37]), "a compound lies inside another"


# -- argument checks -----------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, message", [
    ({"seed": -1}, "seed must be an integer ≥ 0"),
    ({"version": 0}, "version must be a positive integer"),
    ({"version": 1.0}, "version must be a positive integer"),
    ({"n_towns": 1}, "n_towns must be an integer ≥ 2"),
    ({"n_people": True}, "n_people must be an integer ≥ 0"),
    ({"n_shops": 2.5}, "n_shops must be an integer ≥ 0"),
    ({"n_towns": 1501}, "n_towns must be at most 1,500 (the invented names)"),
    ({"change": 1.5}, "change must be a fraction in [0, 1]"),
    ({"change": -0.1}, "change must be a number ≥ 0"),
    ({"pronoun_rate": "half"}, "pronoun_rate must be a number ≥ 0"),
    ({"questions_per_fact": 4}, "questions_per_fact must be at most 3"),
    ({"questions_per_fact": 0}, "questions_per_fact must be a positive integer"),
])
def test_bad_world_arguments_raise_clear_errors(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        world(**kwargs)


def test_bad_split_and_lookup_arguments_raise_clear_errors():
    w = world(seed=0, **SMALL)
    for kwargs, message in [({"by": "town"}, "by must be one of"), ({"held_out": 1.0}, "fraction in \\(0, 1\\)"),
                            ({"held_out": 0}, "fraction in \\(0, 1\\)"), ({"held_out": "town-0000"}, "the string"),
                            ({"held_out": ["person-9999"]}, "no question has")]:
        with pytest.raises(ValueError, match=message):
            split_qa(w.qa, **kwargs)
    with pytest.raises(ValueError, match="sequence of QA"):
        split_qa(["What?"])
    with pytest.raises(ValueError, match="same seed and config"):
        changed_facts(w, world(seed=1, **SMALL))
    with pytest.raises(ValueError, match="must be a World"):
        changed_facts(w, w.qa)
    with pytest.raises(ValueError, match="id must be one of"):
        w.document("person-9999")
    with pytest.raises(ValueError, match="no fact 'town-0000/job'"):
        w.fact("town-0000", "job")
    assert isinstance(w.qa[0], QA) and w.fact("town-0000", "river").value == w.qa[0].answer
