"""Tests of the English → Korean sentence pairs (llmcourse.data.translation, Chapter 10)."""

from __future__ import annotations

from collections import Counter

import pytest
import torch

from llmcourse.data import translation as tr
from llmcourse.data.korean import korean_particle
from llmcourse.data.lexicon import WORDS

DATA = tr.make_translation_data(3000, 400, seed=0, words_per_set=8)
PAIRS = DATA.train + DATA.test

# Korean nouns and names that take a particle in these sentences (the last word of each form).
_NOUN_SETS = ("name", "obj", "thing", "things", "animal", "food", "spot", "flower", "material", "climb", "bake",
              "sky_count", "game", "water", "sound", "book_topic", "furniture", "shop", "song")
NOUNS = {ko.split()[-1] for s in _NOUN_SETS for _, ko, *_ in WORDS[s] if "{" not in ko}
KOREAN_NAME = {en: ko for en, ko, *_ in WORDS["name"]}


def test_generation_is_seeded_and_exact():
    assert tr.generate_pairs(50, seed=4) == tr.generate_pairs(50, seed=4)
    assert tr.generate_pairs(50, seed=4) != tr.generate_pairs(50, seed=5)
    assert tr.make_translation_data(100, 20, seed=1) == tr.make_translation_data(100, 20, seed=1)


def test_every_english_sentence_has_exactly_one_derivation():
    """A pair is exact: the grammar writes each English sentence one way, so its Korean is determined."""
    grammar = tr._grammar(8)
    for p in PAIRS[:300]:
        ends = [end for end, *_ in grammar.match("sentence", p.english, 0, {}, 0.0, None) if end == len(p.english)]
        assert len(ends) == 1, (p.english, len(ends))
    seen: dict[str, str] = {}
    for p in tr.generate_pairs(5000, seed=9, words_per_set=8):      # repeats translate the same way
        assert seen.setdefault(p.english, p.korean) == p.korean


def test_subject_particle_follows_the_final_consonant():
    forms = Counter()
    for p in PAIRS:
        name = KOREAN_NAME[p.name]
        particle = korean_particle(name, "은/는")
        assert name + particle in tr.tokenize_ko(p.korean), (p.english, p.korean)
        forms[particle] += 1
    assert forms["은"] > 100 and forms["는"] > 100          # names ending in a consonant (소연) and a vowel (미나)


def test_object_and_topic_particles_follow_the_final_consonant():
    checked = Counter()
    for p in PAIRS:
        for word in tr.tokenize_ko(p.korean):
            stem, last = word[:-1], word[-1]
            if stem in NOUNS and last in "은는을를":
                pair = "은/는" if last in "은는" else "을/를"
                assert korean_particle(stem, pair) == last, (word, p.korean)
                checked[last] += 1
    assert checked["을"] > 300 and checked["를"] > 300, checked


def test_sentences_move_the_verb_to_the_end():
    """SVO → SOV: the English verb follows the subject; the Korean sentence ends with the verb."""
    verbs = {"picked up {thing_np}": "주웠어요.", "ate {food} {meal}": "먹었어요.", "fed {food} to {animal_np}": "먹였어요."}
    found = Counter()
    for p in tr.generate_pairs(2000, seed=2, words_per_set=8):
        if p.action in verbs:
            english = tr.tokenize_en(p.english)
            assert english[english.index(p.name) + 1] == p.action.split()[0]
            assert p.korean.endswith(verbs[p.action]), p.korean
            found[p.action] += 1
    assert len(found) == 3


def test_split_holds_out_combinations_not_words():
    data = DATA
    assert len(data.train) == 3000 and len(data.test) == 400
    assert len(data.held_out) == round(0.2 * len(data.names) * len(tr.ACTIONS))
    train_combos = {(p.name, p.action) for p in data.train}
    assert all((p.name, p.action) in data.held_out for p in data.test)
    assert not train_combos & data.held_out
    assert len({p.english for p in PAIRS}) == len(PAIRS)                       # no sentence twice
    assert {p.name for p in data.train} == set(data.names) == {p.name for p in data.test}
    assert {p.action for p in data.train} == set(tr.ACTIONS)
    ko = tr.Vocab([p.korean for p in data.train], tr.tokenize_ko)
    unknown = sum(any(t not in ko.stoi for t in tr.tokenize_ko(p.korean)) for p in data.test)
    assert unknown <= 0.02 * len(data.test)                                   # the words are known, the combination is new


def test_words_per_set_cuts_the_lexicon():
    names = {p.name for p in tr.generate_pairs(500, seed=0, words_per_set=4)}
    assert len(names) == 4
    assert len({p.name for p in tr.generate_pairs(2000, seed=0)}) > 40          # the full list: 65 names
    assert set(tr.ACTIONS) <= {en for en, *_ in WORDS["act"]} and len(tr.ACTIONS) == len(WORDS["act"]) - 2


def test_tokenizers_round_trip():
    for p in PAIRS[:200]:
        assert tr.detokenize_ko(tr.tokenize_ko(p.korean)) == p.korean
        assert "".join(tr.tokenize_en(p.english)) == p.english.replace(" ", "")


def test_vocab_encode_decode_and_batch():
    en = tr.Vocab([p.english for p in DATA.train], tr.tokenize_en)
    assert en.itos[:4] == ["<pad>", "<bos>", "<eos>", "<unk>"] and len(en) == len(en.stoi)
    ids = en.batch([p.english for p in DATA.test[:5]])
    assert ids.dtype == torch.long and (ids[:, 0] != en.PAD).all()
    for row, p in zip(ids, DATA.test[:5]):
        assert " ".join(en.decode(row)) == " ".join(tr.tokenize_en(p.english))
        assert int((row == en.EOS).sum()) == 1
    assert en.encode("Mina xyzzy") == [en.stoi["Mina"], en.UNK]
    assert en.decode(torch.tensor([en.BOS, en.stoi["Mina"], en.PAD, en.EOS, en.stoi["Mina"]])) == ["Mina"]


@pytest.mark.parametrize(("kwargs", "message"), [
    (dict(n_train=-1, n_test=1), "n_train"),
    (dict(n_train=1, n_test=1, held_out_fraction=1.0), "held_out_fraction"),
    (dict(n_train=1, n_test=1, words_per_set=0), "words_per_set"),
])
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        tr.make_translation_data(**kwargs)
