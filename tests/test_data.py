"""Tests of ``llmcourse.data``: the story corpus, its exact log-probabilities, Korean, load_text."""

from __future__ import annotations

import math
import re
import statistics

import pytest

from llmcourse.data import (ARCS, DEFAULT_CONFIG, MOODS, SEPARATOR, StoryConfig, attach_particle, corpus_text,
                            entropy_floor, generate_stories, has_final_consonant, korean_particle, load_text,
                            logprob, parse_story)
from llmcourse.data.grammar import Grammar, Walker
from llmcourse.data.lexicon import SENTENCES, WORDS

RECALL = StoryConfig(recall_gap=(0, 8))
CONFIGS = {  # name: (config, number of stories checked)
    "default": (DEFAULT_CONFIG, 1200),
    "recall": (RECALL, 800),
    "fixed-gap": (StoryConfig(recall_gap=2, middle_events=(0, 6), moods={"happy": 2, "sad": 1}), 600),
    "two-arcs": (StoryConfig(arcs=("storm", "race")), 400),
}


@pytest.fixture(scope="module")
def corpora():
    return {name: generate_stories(n, seed=11, config=cfg) for name, (cfg, n) in CONFIGS.items()}


@pytest.fixture(scope="module")
def stories(corpora):
    return corpora["default"]


# -- exact log-probabilities ---------------------------------------------------------------------
@pytest.mark.parametrize("name", CONFIGS)
def test_logprob_of_a_generated_text_is_its_generation_logprob(corpora, name):
    config = CONFIGS[name][0]
    for story in corpora[name]:
        assert -2000 < story.logprob < 0
        assert abs(logprob(story.text, config) - story.logprob) < 1e-9, story.text


def test_at_least_3000_stories_are_checked():
    assert sum(n for _, n in CONFIGS.values()) >= 3000


def _swap_last(text: str, word: str, other: str) -> str:
    matches = list(re.finditer(rf"\b{re.escape(word)}\b", text))
    start, end = matches[-1].span()
    return text[:start] + other + text[end:]


def test_logprob_is_minus_infinity_for_texts_the_generator_cannot_write(stories):
    for story in stories[:100]:
        text, hero = story.text, story.labels["hero"]
        other_name = "Mina" if hero != "Mina" else "Tom"
        edits = [
            text[:-1],                                         # cut in the middle of the last sentence
            text[: text.rindex(". ") + 1],                     # the last sentence missing
            text + SEPARATOR,                                  # the separator is not part of a story
            text + " " + text,                                 # two stories are not one
            text.replace(" the ", " the zebra ", 1),           # an unknown word
            _swap_last(text, hero, other_name),                # the hero renamed late in the story
            text.replace(".", "!", 1),                          # punctuation the template does not have
            text[0].lower() + text[1:],                        # a lowercase start
        ]
        for edited in edits:
            assert logprob(edited) == -math.inf, edited
    for junk in ("", " ", "hello", "\n\n", "Once upon a time"):
        assert logprob(junk) == -math.inf


def test_a_swapped_detail_at_a_recall_position_is_impossible(corpora):
    colors = [w[0] for w in WORDS["color"]]
    for story in corpora["recall"][:200]:
        (gap,) = [r for r in story.recalls if r.kind == "gap"]
        other = colors[(colors.index(gap.value) + 1) % len(colors)]
        start, end = gap.target_span
        assert logprob(story.text[:start] + other + story.text[end:], RECALL) == -math.inf


def test_logprob_rejects_non_strings_and_bad_configs():
    with pytest.raises(TypeError, match="str"):
        logprob(b"Once")
    with pytest.raises(TypeError, match="StoryConfig"):
        logprob("x", config={"recall_gap": 3})


# -- probabilities are normalised and the parser is unambiguous ---------------------------------
class _Branch(Exception):
    pass


class _Enumerator(Walker):
    """Writes a sentence along a fixed prefix of choices and stops at the first open choice."""

    def __init__(self, grammar: Grammar, prefix: list[int], mem: dict) -> None:
        super().__init__(grammar, forced=iter(()))
        self.prefix, self.mem = prefix, dict(mem)
        self.options = 0

    def choose(self, view) -> int:
        if len(self.trace) == len(self.prefix):
            self.options = len(view.entries)
            raise _Branch
        i = self.prefix[len(self.trace)]
        self.trace.append(i)
        self.lp += view.logps[i]
        return i


def _every_sentence(grammar: Grammar, set_name: str, mem: dict) -> list[tuple[str, float]]:
    out, todo = [], [[]]
    while todo:
        prefix = todo.pop()
        w = _Enumerator(grammar, prefix, mem)
        try:
            w.sentence(set_name)
        except _Branch:
            todo += [prefix + [i] for i in range(w.options)]
            continue
        out.append(("".join(w.parts), w.lp))
    return out


@pytest.mark.parametrize("set_name", ["thing_np", "animal_np", "cobj", "os", "neighbor", "oref", "spot_np", "help_race", "m_storm"])
def test_every_string_of_a_set_has_one_derivation_and_probabilities_sum_to_one(set_name):
    grammar = Grammar({**WORDS, **SENTENCES})
    pick = {s: grammar.sets[s][0] for s in ("name", "place", "obj", "color", "spot", "trait", "role")}
    mem = {"H": pick["name"], "F": grammar.sets["name"][40], "P": pick["place"], "O": pick["obj"],
           "C": pick["color"], "G": pick["spot"], "T": pick["trait"], "R": pick["role"]}
    sentences = _every_sentence(grammar, set_name, mem)
    assert math.isclose(math.fsum(math.exp(lp) for _, lp in sentences), 1.0, abs_tol=1e-9)
    texts = [t for t, _ in sentences]
    assert len(set(texts)) == len(texts), "two derivations write the same text"
    for text, lp in sentences:
        parses = [m for m in grammar.match(set_name, text, 0, mem, 0.0, None) if m[0] == len(text)]
        assert len(parses) == 1 and abs(parses[0][1] - lp) < 1e-12, text


def test_empirical_frequencies_match_the_probabilities():
    config = StoryConfig(moods={"happy": 0.6, "bittersweet": 0.3, "sad": 0.1})
    stories = generate_stories(3000, seed=5, config=config)
    n = len(stories)
    expected = {**{("arc", a): 1 / len(ARCS) for a in ARCS}, **{("mood", m): w for m, w in config.moods}}
    for (key, value), p in expected.items():
        count = sum(s.labels[key] == value for s in stories)
        assert abs(count - n * p) < 5 * math.sqrt(n * p * (1 - p)), (key, value, count, n * p)


def test_entropy_floor_is_stable_across_seeds_and_counts_every_character():
    floors = [entropy_floor(1000, seed=seed) for seed in (0, 1, 2)]
    rates = [f.nats_per_char for f in floors]
    assert max(rates) / min(rates) < 1.03
    assert 0.1 < statistics.mean(rates) < 0.6
    f = floors[0]
    assert f.n_stories == 1000 and f.n_chars == len(corpus_text(1000, seed=0))
    assert math.isclose(f.bits_per_char, f.nats_per_char / math.log(2))
    assert math.isclose(f.total_nats, -math.fsum(s.logprob for s in generate_stories(1000, seed=0)))
    assert 0 < f.stderr < 0.01 * f.nats_per_char


# -- determinism, labels, recalls ----------------------------------------------------------------
def test_same_seed_same_stories_other_seed_other_stories():
    a, b = generate_stories(30, seed=3), generate_stories(30, seed=3)
    assert [s.text for s in a] == [s.text for s in b] and [s.logprob for s in a] == [s.logprob for s in b]
    assert [s.text for s in generate_stories(10, seed=3)] == [s.text for s in a[:10]]
    assert not {s.text for s in a} & {s.text for s in generate_stories(30, seed=4)}
    assert corpus_text(5, seed=3) == "".join(s.text + SEPARATOR for s in a[:5])
    assert generate_stories(0) == [] and corpus_text(0) == ""


def test_stories_look_like_the_brief(stories):
    lengths = [len(s.text) for s in stories]
    assert 300 <= min(lengths) and max(lengths) <= 900 and 450 < statistics.mean(lengths) < 700
    for s in stories:
        assert s.text.isascii() and "\n" not in s.text and s.text[-1] in '.!"'
    assert {s.labels["arc"] for s in stories} == set(ARCS)
    assert {s.labels["mood"] for s in stories} == set(MOODS)
    assert {s.labels["pronoun"] for s in stories} == {"she", "he", "they"}


def test_labels_agree_with_the_text(stories):
    for s in stories[:300]:
        assert set(s.labels) == {"hero", "pronoun", "role", "trait", "place", "object", "color", "helper",
                                 "helper_pronoun", "arc", "mood"}
        for key in ("hero", "helper", "object", "place", "role"):
            assert re.search(rf"\b{s.labels[key]}\b", s.text), (key, s.labels[key])
        assert s.labels["hero"] != s.labels["helper"]
    # Arc and mood are read off the text itself: the text is impossible under any other one.
    for s in stories[:60]:
        for arc in ARCS:
            assert (logprob(s.text, StoryConfig(arcs=(arc,))) > -math.inf) == (arc == s.labels["arc"])
        for mood in MOODS:
            assert (logprob(s.text, StoryConfig(moods={mood: 1})) > -math.inf) == (mood == s.labels["mood"])


PRONOUN_WORDS = {"she": {"she", "her"}, "he": {"he", "him", "his"}, "they": {"they", "them", "their"}}


def test_pronouns_agree(stories):
    for s in stories:
        words = set(re.findall(r"[a-z]+", s.text.lower()))
        used = {s.labels["pronoun"], s.labels["helper_pronoun"]}
        for pronoun, forms in PRONOUN_WORDS.items():
            if pronoun not in used:
                assert not words & forms, (pronoun, s.text)
        assert not re.search(r"\b(they|They) was\b|\b(she|She|he|He) were\b", s.text)


def test_parse_story_recovers_everything(stories):
    for s in stories[:50]:
        p = parse_story(s.text)
        assert (p.text, p.labels, p.recalls, p.korean) == (s.text, s.labels, s.recalls, s.korean)
        assert abs(p.logprob - s.logprob) < 1e-9
    with pytest.raises(ValueError, match="cannot write"):
        parse_story("Once upon a time.")


def test_recall_spans_point_to_the_same_detail(corpora):
    for s in corpora["recall"]:
        gaps = [r for r in s.recalls if r.kind == "gap"]
        assert len(gaps) == 1
        for r in s.recalls:
            source, target = s.text[slice(*r.source_span)], s.text[slice(*r.target_span)]
            assert source == target == r.value == s.labels["color"]
            assert r.distance_chars == r.target_span[0] - r.source_span[1] > 0
            assert not s.text[r.target_span[1]].isalpha() and s.text[r.target_span[0] - 1] == " "
    assert not [r for s in corpora["default"] for r in s.recalls if r.kind == "gap"]


def test_recall_distance_grows_with_the_gap():
    means = {}
    for gap in (0, 2, 4, 8):
        stories = generate_stories(200, seed=9, config=StoryConfig(recall_gap=gap))
        means[gap] = statistics.mean(r.distance_chars for s in stories for r in s.recalls if r.kind == "gap")
    assert means[0] < means[2] < means[4] < means[8]
    assert 15 < means[0] < 80 and means[8] > 300


def test_story_config_is_validated():
    assert StoryConfig(recall_gap=[1, 3]).recall_gap == (1, 3)
    assert StoryConfig(moods={"sad": 1}).moods == (("sad", 1.0),)
    assert hash(StoryConfig(recall_gap=2)) == hash(StoryConfig(recall_gap=(2, 2)))
    bad = [
        ({"recall_gap": -1}, ValueError, "recall_gap"),
        ({"recall_gap": (5, 2)}, ValueError, "min <= max"),
        ({"recall_gap": 2.5}, TypeError, "recall_gap"),
        ({"recall_gap": True}, TypeError, "recall_gap"),
        ({"middle_events": (0, 99)}, ValueError, "middle_events"),
        ({"arcs": ("storm", "picnic")}, ValueError, "picnic"),
        ({"arcs": ()}, ValueError, "at least one"),
        ({"arcs": "storm"}, TypeError, "sequence of arc names"),
        ({"moods": {"angry": 1}}, ValueError, "angry"),
        ({"moods": {"happy": -1}}, ValueError, ">= 0"),
        ({"moods": {"happy": 0}}, ValueError, "positive"),
        ({"moods": 3}, TypeError, "moods"),
    ]
    for kwargs, error, message in bad:
        with pytest.raises(error, match=re.escape(message)):
            StoryConfig(**kwargs)
    for n in (-1, 1.5, True):
        with pytest.raises(ValueError, match="number of stories"):
            generate_stories(n)
    with pytest.raises(ValueError, match="n_stories"):
        entropy_floor(0)


# -- Korean ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("word, particle, expected", [
    ("미나", "은/는", "는"), ("미나", "이/가", "가"), ("미나", "을/를", "를"), ("미나", "과/와", "와"),
    ("준", "은/는", "은"), ("준", "이/가", "이"), ("준", "을/를", "을"), ("준", "와/과", "과"),
    ("서울", "으로/로", "로"), ("집", "으로/로", "으로"), ("바다", "으로/로", "로"), ("연필", "으로/로", "로"),
    ("오마르", "이라는/라는", "라는"), ("곰", "이었어요/였어요", "이었어요"), ("소녀", "이었어요/였어요", "였어요"),
    ("책", "는/은", "은"),
])
def test_korean_particles_follow_the_final_consonant(word, particle, expected):
    assert korean_particle(word, particle) == expected
    assert attach_particle(word, particle) == word + expected


def test_korean_particle_errors():
    assert has_final_consonant("집") and not has_final_consonant("나")
    with pytest.raises(ValueError, match="Hangul"):
        korean_particle("Tom", "은/는")
    with pytest.raises(ValueError, match="empty"):
        korean_particle("", "은/는")
    with pytest.raises(ValueError, match="unknown particle"):
        korean_particle("미나", "도/또")


def test_korean_rendering_is_parallel_and_well_formed(stories):
    names = {en: ko for en, ko, _ in WORDS["name"]}
    for s in stories[:200]:
        pairs = s.sentences
        assert " ".join(en for en, _ in pairs) == s.text
        assert s.korean == " ".join(ko for _, ko in pairs) and len(pairs) >= 8
        for en, ko in pairs:
            assert ko[-1] in ".!" and ko == ko.strip() and "  " not in ko and "{" not in ko
            assert re.search("[가-힣]", ko) and not re.search("[A-Za-z]", ko), ko
        assert names[s.labels["hero"]] in s.korean and names[s.labels["helper"]] in s.korean


# -- load_text ------------------------------------------------------------------------------------------
def test_load_text_reads_utf8(tmp_path):
    path = tmp_path / "text.txt"
    path.write_bytes("한국어와 English\nline two\n".encode("utf-8"))
    assert load_text(path) == "한국어와 English\nline two\n"
    assert load_text(str(path)) == load_text(path)
    path.write_bytes(b"\xef\xbb\xbfhello")
    assert load_text(path) == "hello"


def test_load_text_errors_say_what_and_where(tmp_path):
    missing = tmp_path / "nope.txt"
    with pytest.raises(FileNotFoundError, match="nope.txt"):
        load_text(missing)
    with pytest.raises(IsADirectoryError, match=re.escape(str(tmp_path))):
        load_text(tmp_path)
    bad = tmp_path / "latin1.txt"
    bad.write_bytes("abc".encode() + "é".encode("latin-1") + b"xyz")
    with pytest.raises(ValueError, match=r"latin1\.txt.*byte offset 3"):
        load_text(bad)
    with pytest.raises(TypeError, match="path"):
        load_text(42)
