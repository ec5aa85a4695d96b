"""Password drills: spans, exact log-probabilities, the floor, the config's checks."""

from __future__ import annotations

import math
from collections import Counter

import pytest

from llmcourse.data import SEPARATOR
from llmcourse.data.drills import FILLERS, LETTERS, NAMES, DrillConfig, drill_floor, drill_text, generate_drills


@pytest.mark.parametrize("config", [DrillConfig(), DrillConfig(min_len=3, max_len=5, max_gap=4, gap_decay=0.5)])
def test_every_letter_of_the_copy_points_back_to_its_source(config):
    for drill in generate_drills(300, seed=1, config=config):
        assert len(drill.recalls) == len(drill.password) and config.min_len <= len(drill.password) <= config.max_len
        for j, r in enumerate(drill.recalls):
            assert drill.text[slice(*r.source_span)] == drill.text[slice(*r.target_span)] == r.value == drill.password[j]
            assert r.distance_chars == r.target_span[0] - r.source_span[1] > 0 and r.kind == "copy"
        assert drill.text.count(drill.password) >= 2 and sum(drill.text.count(f) for f in FILLERS) >= drill.gap


def test_logprob_is_the_sum_of_the_choices():
    config = DrillConfig(min_len=2, max_len=4, max_gap=2, gap_decay=0.5)
    for drill in generate_drills(50, seed=2, config=config):
        expected = (-math.log(len(NAMES)) - math.log(3) - len(drill.password) * math.log(26)
                    - drill.gap * math.log(len(FILLERS)) + math.log(config.gap_probs[drill.gap]))
        assert drill.logprob == pytest.approx(expected, abs=1e-12)


def test_the_generator_matches_its_probabilities():
    drills = generate_drills(6000, seed=3, config=DrillConfig(min_len=1, max_len=3, max_gap=2, gap_decay=0.5))
    lengths, gaps = Counter(len(d.password) for d in drills), Counter(d.gap for d in drills)
    assert all(abs(lengths[n] / 6000 - 1 / 3) < 0.03 for n in (1, 2, 3))
    assert all(abs(gaps[g] / 6000 - p) < 0.03 for g, p in enumerate(DrillConfig(max_gap=2, gap_decay=0.5).gap_probs))
    assert set("".join(d.password for d in drills)) == set(LETTERS)


def test_floor_and_text_agree():
    floor = drill_floor(200, seed=4)
    text = drill_text(200, seed=4)
    assert floor.n_chars == len(text) and text.count(SEPARATOR) == 200
    assert floor.nats_per_char == pytest.approx(-sum(d.logprob for d in generate_drills(200, seed=4)) / len(text))
    assert generate_drills(20, seed=4) == generate_drills(20, seed=4) != generate_drills(20, seed=5)


@pytest.mark.parametrize("kwargs, message", [
    (dict(min_len=0), "min_len must be an int >= 1"),
    (dict(min_len=5, max_len=4), "min_len <= max_len"),
    (dict(max_gap=-1), "max_gap must be an int >= 0"),
    (dict(gap_decay=0.0), "gap_decay must be in"),
    (dict(max_len=2.5), "max_len must be an int"),
])
def test_bad_configs_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        DrillConfig(**kwargs)


def test_bad_counts_are_refused():
    with pytest.raises(ValueError, match="n must be an int >= 0"):
        generate_drills(-1)
    with pytest.raises(ValueError, match="n >= 1"):
        drill_floor(0)


def test_n_names_limits_the_names_and_their_entropy():
    one = generate_drills(50, seed=0, config=DrillConfig(max_len=1, n_names=1))
    assert {d.text.split("'")[0] for d in one} == {NAMES[0]}
    assert all(d.logprob == pytest.approx(-math.log(26)) for d in one)          # only the letter is uncertain
    few = generate_drills(300, seed=0, config=DrillConfig(n_names=3))
    assert {d.text.split("'")[0] for d in few} == set(NAMES[:3])
    assert drill_floor(config=DrillConfig(n_names=1)).nats_per_char < drill_floor().nats_per_char
    for bad in (0, len(NAMES) + 1, True, 2.0):
        with pytest.raises(ValueError, match="n_names"):
            DrillConfig(n_names=bad)
