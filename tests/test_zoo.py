"""The model zoo: trained once, cached, verified; corrupt or stale caches are reported and rebuilt.

A tiny recipe (an 8-unit LSTM, three steps) stands in for the real ones so these tests take
seconds; the real ``gpt-stories`` is trained once per test run by ``tests/conftest.py`` and used
by the chapters.
"""

from __future__ import annotations

import dataclasses

import pytest
import torch

from llmcourse import zoo

CALLS: list[str] = []
TINY = zoo.Recipe("tiny", 1, "a tiny LSTM for tests", "lstm", "drills", dict(d_embed=4, d_hidden=8),
                  dict(n_texts=40, seed=0, steps=3, batch_size=2, block_size=16, lr=1e-2, grad_clip=1.0))


@pytest.fixture
def tiny(monkeypatch, tmp_path):
    real_fit = zoo._fit

    def counting_fit(recipe, progress):
        CALLS.append(recipe.name)
        return real_fit(recipe, progress)

    monkeypatch.setattr(zoo, "_fit", counting_fit)
    monkeypatch.setitem(zoo.RECIPES, "tiny", TINY)
    monkeypatch.setenv(zoo.CACHE_ENV, str(tmp_path / "cache"))
    CALLS.clear()
    return TINY


def test_trains_once_then_loads_the_same_weights(tiny, tmp_path):
    first = zoo.load_pretrained("tiny", progress=False)
    assert CALLS == ["tiny"] and first.path == tmp_path / "cache" / "tiny-v1.pt" and first.path.exists()
    second = zoo.load_pretrained("tiny", progress=False)
    assert CALLS == ["tiny"], "the second call must load the cache, not train again"
    assert torch.equal(first.model.head.weight, second.model.head.weight)
    assert second.tokenizer.itos == first.tokenizer.itos and second.info == first.info
    assert not second.model.training


def test_training_is_deterministic(tiny, tmp_path):
    a = zoo.load_pretrained("tiny", progress=False)
    b = zoo.load_pretrained("tiny", directory=tmp_path / "other", progress=False)
    assert CALLS == ["tiny", "tiny"] and torch.equal(a.model.head.weight, b.model.head.weight)


@pytest.mark.parametrize("damage, reason", [
    (lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2]), "cannot be read"),
    (lambda p: p.write_text("not a model"), "cannot be read"),
])
def test_unreadable_cache_is_reported_and_rebuilt(tiny, damage, reason):
    path = zoo.load_pretrained("tiny", progress=False).path
    damage(path)
    with pytest.warns(UserWarning, match=reason):
        again = zoo.load_pretrained("tiny", progress=False)
    assert CALLS == ["tiny", "tiny"]
    assert zoo.load_pretrained("tiny", progress=False).info == again.info   # the rebuilt file is good
    assert CALLS == ["tiny", "tiny"]


def test_tampered_weights_fail_the_checksum(tiny):
    path = zoo.load_pretrained("tiny", progress=False).path
    payload = torch.load(path, weights_only=True)
    payload["state_dict"]["head.weight"][0, 0] += 1.0
    torch.save(payload, path)
    with pytest.warns(UserWarning, match="checksum"):
        zoo.load_pretrained("tiny", progress=False)
    assert CALLS == ["tiny", "tiny"]


def test_cache_from_another_recipe_is_not_used(tiny, monkeypatch):
    path = zoo.load_pretrained("tiny", progress=False).path
    monkeypatch.setitem(zoo.RECIPES, "tiny", dataclasses.replace(tiny, model_config=dict(d_embed=4, d_hidden=9)))
    with pytest.warns(UserWarning, match="another recipe"):
        zoo.load_pretrained("tiny", progress=False)
    assert CALLS == ["tiny", "tiny"] and path.exists()


def test_weights_that_do_not_fit_are_reported(tiny, monkeypatch):
    zoo.load_pretrained("tiny", progress=False)
    real_build = zoo._build
    monkeypatch.setattr(zoo, "_build", lambda recipe, vocab_size: real_build(recipe, vocab_size + 1))
    with pytest.warns(UserWarning, match="do not fit"):
        zoo.load_pretrained("tiny", progress=False)


def test_retrain_ignores_the_cache(tiny):
    zoo.load_pretrained("tiny", progress=False)
    zoo.load_pretrained("tiny", progress=False, retrain=True)
    assert CALLS == ["tiny", "tiny"]


def test_unknown_name_lists_the_zoo():
    with pytest.raises(ValueError, match="unknown zoo model 'gpt-nope'.*gpt-stories"):
        zoo.load_pretrained("gpt-nope")


def test_cache_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv(zoo.CACHE_ENV, str(tmp_path))
    assert zoo.cache_dir() == tmp_path
    monkeypatch.delenv(zoo.CACHE_ENV)
    assert zoo.cache_dir().parts[-2:] == (".cache", "llmcourse")


def test_a_gpt_recipe_round_trips(monkeypatch, tmp_path):
    recipe = zoo.Recipe("tiny-gpt", 1, "a tiny GPT for tests", "gpt", "stories",
                        dict(block_size=16, n_layers=1, n_heads=2, d_model=16),
                        dict(n_texts=20, seed=0, steps=3, batch_size=2, block_size=16, max_lr=1e-2, min_lr=1e-3,
                             warmup_steps=1, weight_decay=0.1, grad_clip=1.0))
    monkeypatch.setitem(zoo.RECIPES, recipe.name, recipe)
    trained = zoo.load_pretrained(recipe.name, directory=tmp_path, progress=False)
    loaded = zoo.load_pretrained(recipe.name, directory=tmp_path, progress=False)
    ids = torch.tensor([trained.tokenizer.encode("Once upon")])
    assert torch.equal(trained.model(ids), loaded.model(ids))
    assert loaded.info["parameters"] == trained.model.num_parameters() and len(loaded.history["val"]) >= 2


def test_real_recipes_are_consistent():
    for name, recipe in zoo.RECIPES.items():
        assert recipe.name == name and recipe.kind in ("gpt", "lstm") and recipe.corpus in ("stories", "drills")
        assert recipe.training["block_size"] <= recipe.model_config.get("block_size", 10**9)


def test_a_curriculum_trains_in_phases_of_growing_passwords(monkeypatch, tmp_path):
    recipe = zoo.Recipe("tiny-curriculum", 1, "a tiny LSTM trained in two phases", "lstm", "drills",
                        dict(d_embed=4, d_hidden=8, forget_bias=1.0),
                        dict(n_texts=40, seed=0, curriculum=((dict(max_len=1, n_names=1), 2), (dict(max_len=3), 3)), batch_size=2, block_size=16,
                             lr=1e-2, grad_clip=1.0))
    phases = zoo._phases(recipe)
    assert [steps for _, steps in phases] == [2, 3]
    words = [[w for w in text.split() if w.endswith(".") and w.islower()] for text, _ in phases]
    assert max(len(w) - 1 for w in words[0]) == 1 and max(len(w) - 1 for w in words[1]) == 3
    monkeypatch.setitem(zoo.RECIPES, recipe.name, recipe)
    trained = zoo.load_pretrained(recipe.name, directory=tmp_path, progress=False)
    assert trained.history["steps"][-1] == 5                         # one history over both phases
    assert trained.history["steps"] == sorted(trained.history["steps"])
    assert len(trained.history["seconds"]) == len(trained.history["val"])


def test_trains_even_where_gradients_are_switched_off(tiny):
    with torch.no_grad():                     # as in Chapter 00, which only runs a model
        trained = zoo.load_pretrained("tiny", progress=False)
    assert CALLS == ["tiny"] and trained.path.exists() and len(trained.history["train"]) >= 2
