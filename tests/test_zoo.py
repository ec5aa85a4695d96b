"""The model zoo: trained once, cached as weights + recipe card, verified; stale or corrupt caches are rebuilt.

A tiny recipe (an 8-unit LSTM, three steps) stands in for the real ones so these tests take
seconds; the real ``gpt-stories`` is trained once per test run by ``conftest.py`` and used
by the chapters.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import warnings

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file

import llmcourse
from llmcourse import zoo

CALLS: list[str] = []
TINY = zoo.Recipe("tiny", 1, 4, "a tiny LSTM for tests", "lstm", "drills", dict(d_embed=4, d_hidden=8),
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


def card_of(trained: zoo.Pretrained) -> dict:
    return json.loads(trained.path.with_suffix(".json").read_text(encoding="utf-8"))


def rewrite_card(trained: zoo.Pretrained, change) -> None:
    card = card_of(trained)
    change(card)
    trained.path.with_suffix(".json").write_text(json.dumps(card), encoding="utf-8")


def test_trains_once_then_loads_the_same_weights(tiny, tmp_path):
    first = zoo.load_pretrained("tiny", progress=False)
    assert CALLS == ["tiny"] and first.path == tmp_path / "cache" / "tiny.safetensors" and first.path.exists()
    second = zoo.load_pretrained("tiny", progress=False)
    assert CALLS == ["tiny"], "the second call must load the cache, not train again"
    assert torch.equal(first.model.head.weight, second.model.head.weight)
    assert second.tokenizer.itos == first.tokenizer.itos and second.info == first.info
    assert second.history == first.history and second.card == first.card
    assert not second.model.training


def test_the_cache_is_a_safetensors_file_and_a_recipe_card(tiny, tmp_path):
    trained = zoo.load_pretrained("tiny", progress=False)
    assert sorted(p.name for p in (tmp_path / "cache").iterdir() if not p.name.startswith(".")) == [
        "tiny.json", "tiny.safetensors"]
    state = load_file(trained.path)                                # readable by safetensors itself
    with safe_open(trained.path, "pt") as weights:
        assert weights.metadata() == {zoo.FORMAT: "tiny, recipe version 1"}
    assert state.keys() == trained.model.state_dict().keys()
    assert all(torch.equal(state[k], v) for k, v in trained.model.state_dict().items())
    card = card_of(trained)
    assert card == trained.card
    card_mode = trained.path.with_suffix(".json").stat().st_mode
    assert trained.path.stat().st_mode == card_mode, "the weights are as readable as the card (not 0600)"
    assert card["format"] == zoo.FORMAT and card["name"] == "tiny" and card["chapter"] == 4
    assert card["recipe"] == dict(version=1, kind="lstm", corpus="drills", model_config=TINY.model_config,
                                  training=TINY.training)
    vocab_size = trained.tokenizer.vocab_size
    assert card["model"] == {"class": "llmcourse.rnn.CharRNN",
                             "config": dict(vocab_size=vocab_size, cell="lstm", d_embed=4, d_hidden=8)}
    assert card["tokenizer"]["vocab"] == "".join(trained.tokenizer.itos)
    assert card["versions"] == dict(llmcourse=llmcourse.__version__, torch=torch.__version__)
    sha256 = hashlib.sha256(trained.path.read_bytes()).hexdigest()             # the whole file's bytes
    assert card["weights"] == dict(file="tiny.safetensors", sha256=sha256, bytes=trained.path.stat().st_size)
    figures = card["figures"]
    assert figures == trained.info and figures["steps"] == 3 and figures["training"] == TINY.training
    assert figures["seconds"] >= 0 and figures["val_loss"] == trained.history["val"][-1]
    assert figures["parameters"] == sum(p.numel() for p in trained.model.parameters())


def test_training_is_deterministic(tiny, tmp_path):
    a = zoo.load_pretrained("tiny", progress=False)
    b = zoo.load_pretrained("tiny", directory=tmp_path / "other", progress=False)
    assert CALLS == ["tiny", "tiny"] and torch.equal(a.model.head.weight, b.model.head.weight)
    assert a.card["weights"]["sha256"] == b.card["weights"]["sha256"], "the same recipe writes the same bytes"


def assert_rebuilt(reason: str) -> zoo.Pretrained:
    """The next load warns with ``reason``, trains again, and the rebuilt cache then loads quietly."""
    with pytest.warns(UserWarning, match=reason):
        again = zoo.load_pretrained("tiny", progress=False)
    assert CALLS == ["tiny", "tiny"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert zoo.load_pretrained("tiny", progress=False).card == again.card   # the rebuilt files are good
    assert CALLS == ["tiny", "tiny"]
    return again


def truncate(path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def flip_a_byte(path):
    data = bytearray(path.read_bytes())
    data[-1] ^= 1                                       # the last byte of the last tensor
    path.write_bytes(bytes(data))


def alter_a_weight(path):
    from safetensors.torch import save_file
    state = load_file(path)
    state["head.weight"][0, 0] += 1.0
    save_file(state, path)                              # a valid safetensors file, other weights


@pytest.mark.parametrize("damage, reason", [
    (truncate, "SHA-256"), (flip_a_byte, "SHA-256"), (alter_a_weight, "SHA-256"),
    (lambda p: p.write_text("not a model"), "SHA-256"),
    (lambda p: p.unlink(), "weights file .* is missing"),
])
def test_corrupt_weights_are_reported_and_rebuilt(tiny, damage, reason):
    damage(zoo.load_pretrained("tiny", progress=False).path)
    assert_rebuilt(reason)


@pytest.mark.parametrize("damage, reason", [
    (lambda p: p.unlink(), "no recipe card"),
    (lambda p: p.write_text('{"format": "llmcourse.zoo/2", "name": "ti'), "card cannot be read"),
    (lambda p: p.write_bytes(b"\xff\xfe not text"), "card cannot be read"),
    (lambda p: p.write_text("[1, 2]"), "not a llmcourse.zoo/2 card"),
])
def test_a_missing_or_unreadable_card_is_reported_and_rebuilt(tiny, damage, reason):
    damage(zoo.load_pretrained("tiny", progress=False).path.with_suffix(".json"))
    assert_rebuilt(reason)


@pytest.mark.parametrize("change, reason", [
    (lambda card: card.update(format="llmcourse.zoo/1"), "not a llmcourse.zoo/2 card"),
    (lambda card: card.update(name="gpt-stories"), "another model"),
    (lambda card: card["recipe"].update(version=0), "stale: trained by recipe version 0, the code's is 1"),
    (lambda card: card["recipe"]["training"].update(steps=4), "stale: .* differs .* in training"),
    (lambda card: card["recipe"].update(corpus="stories"), "stale: .* differs .* in corpus"),
    (lambda card: card["versions"].update(llmcourse="0.0.1"), "stale: trained by llmcourse '0.0.1'"),
    (lambda card: card["weights"].update(sha256="0" * 64), "SHA-256"),
    (lambda card: card.update(weights="tiny.safetensors"), "SHA-256"),
    (lambda card: card.pop("tokenizer"), "cannot be read .*KeyError"),
])
def test_a_card_that_does_not_match_is_reported_and_rebuilt(tiny, change, reason):
    rewrite_card(zoo.load_pretrained("tiny", progress=False), change)
    assert_rebuilt(reason)


def test_a_recipe_changed_in_the_code_makes_the_cache_stale(tiny, monkeypatch):
    path = zoo.load_pretrained("tiny", progress=False).path
    monkeypatch.setitem(zoo.RECIPES, "tiny", dataclasses.replace(tiny, model_config=dict(d_embed=4, d_hidden=9)))
    with pytest.warns(UserWarning, match="stale: .* differs .* in model_config"):
        zoo.load_pretrained("tiny", progress=False)
    monkeypatch.setitem(zoo.RECIPES, "tiny", dataclasses.replace(tiny, version=2))
    with pytest.warns(UserWarning, match="stale: trained by recipe version 1, the code's is 2"):
        zoo.load_pretrained("tiny", progress=False)
    assert CALLS == ["tiny"] * 3 and path.exists()


def test_chapter_and_description_are_not_part_of_the_recipe(tiny, monkeypatch):
    zoo.load_pretrained("tiny", progress=False)
    monkeypatch.setitem(zoo.RECIPES, "tiny", dataclasses.replace(tiny, chapter=5, description="renamed"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        zoo.load_pretrained("tiny", progress=False)
    assert CALLS == ["tiny"]


def test_another_torch_version_is_recorded_not_checked(tiny):
    rewrite_card(zoo.load_pretrained("tiny", progress=False), lambda card: card["versions"].update(torch="2.0.0"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert zoo.load_pretrained("tiny", progress=False).card["versions"]["torch"] == "2.0.0"
    assert CALLS == ["tiny"]


def test_weights_that_do_not_fit_are_reported(tiny, monkeypatch):
    zoo.load_pretrained("tiny", progress=False)
    real_build = zoo._build
    monkeypatch.setattr(zoo, "_build", lambda recipe, vocab_size: real_build(recipe, vocab_size + 1))
    with pytest.warns(UserWarning, match="do not fit"):
        zoo.load_pretrained("tiny", progress=False)


def test_files_of_the_first_format_are_ignored_without_a_word(tiny, tmp_path):
    old = tmp_path / "cache" / "tiny-v1.pt"                        # format 1: one torch.save file
    old.parent.mkdir()
    torch.save(dict(format=1, name="tiny", version=1, state_dict={}, checksum="0"), old)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        trained = zoo.load_pretrained("tiny", progress=False)
    assert CALLS == ["tiny"] and trained.path.name == "tiny.safetensors" and old.exists()


def test_without_training_a_bad_or_missing_cache_is_an_error(tiny):
    with pytest.raises(zoo.CacheError, match=r"'tiny' is not in the cache .*load_pretrained\('tiny'\) trains it"):
        zoo.load_pretrained("tiny", allow_training=False)
    trained = zoo.load_pretrained("tiny", progress=False)
    assert zoo.load_pretrained("tiny", allow_training=False).card == trained.card
    truncate(trained.path)
    with pytest.raises(zoo.CacheError, match="cannot be used: its weights do not match the card's SHA-256"):
        zoo.load_pretrained("tiny", allow_training=False)
    assert CALLS == ["tiny"]
    with pytest.raises(ValueError, match="retrain=True .* allow_training=False"):
        zoo.load_pretrained("tiny", retrain=True, allow_training=False)


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
    assert zoo.cache_path("gpt-stories") == tmp_path / "gpt-stories.safetensors"
    monkeypatch.delenv(zoo.CACHE_ENV)
    assert zoo.cache_dir().parts[-2:] == (".cache", "llmcourse")


def test_a_gpt_recipe_round_trips(monkeypatch, tmp_path):
    recipe = zoo.Recipe("tiny-gpt", 1, 7, "a tiny GPT for tests", "gpt", "stories",
                        dict(block_size=16, n_layers=1, n_heads=2, d_model=16),
                        dict(n_texts=20, seed=0, steps=3, batch_size=2, block_size=16, max_lr=1e-2, min_lr=1e-3,
                             warmup_steps=1, weight_decay=0.1, grad_clip=1.0))
    monkeypatch.setitem(zoo.RECIPES, recipe.name, recipe)
    trained = zoo.load_pretrained(recipe.name, directory=tmp_path, progress=False)
    loaded = zoo.load_pretrained(recipe.name, directory=tmp_path, progress=False)
    ids = torch.tensor([trained.tokenizer.encode("Once upon")])
    assert torch.equal(trained.model(ids), loaded.model(ids))
    assert loaded.model.lm_head.weight is loaded.model.tok_emb.weight   # still tied after loading
    assert loaded.info["parameters"] == trained.model.num_parameters() and len(loaded.history["val"]) >= 2
    assert loaded.card["model"]["class"] == "llmcourse.gpt.GPT"
    assert loaded.card["model"]["config"] == dataclasses.asdict(loaded.model.config)


def test_real_recipes_are_consistent():
    for name, recipe in zoo.RECIPES.items():
        assert recipe.name == name and recipe.kind in ("gpt", "lstm", "bert", "reader")
        assert recipe.corpus in ("stories", "drills", "world")
        if recipe.kind == "reader":
            assert recipe.corpus == "world" and recipe.training["max_chars"] <= recipe.model_config["block_size"]
        elif recipe.kind == "bert":
            assert recipe.corpus == "stories" and recipe.model_config["max_len"] >= 64
        else:
            assert recipe.training["block_size"] <= recipe.model_config.get("block_size", 10**9)
        json.dumps(zoo._recipe_card(recipe))                            # a recipe fits in a card


TINY_BERT = zoo.Recipe("tiny-bert", 1, 9, "a tiny BERT for tests", "bert", "stories",
                       dict(max_len=64, n_layers=1, n_heads=2, d_model=16),
                       dict(n_texts=12, val_texts=3, seed=0, steps=4, batch_size=4, lr=1e-2, warmup_steps=1,
                            weight_decay=0.01, grad_clip=1.0))


def test_a_bert_recipe_round_trips_with_its_wordpiece_vocabulary(monkeypatch, tmp_path):
    from llmcourse.bert import BertForMLM, encode_texts
    from llmcourse.tokenization import WordPieceTokenizer

    monkeypatch.setitem(zoo.RECIPES, TINY_BERT.name, TINY_BERT)
    trained = zoo.load_pretrained(TINY_BERT.name, directory=tmp_path, progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")                   # its card reads back as fresh (tuples as lists)
        loaded = zoo.load_pretrained(TINY_BERT.name, directory=tmp_path, progress=False)
    assert isinstance(loaded.model, BertForMLM) and isinstance(loaded.tokenizer, WordPieceTokenizer)
    assert loaded.tokenizer.vocab == trained.tokenizer.vocab and not loaded.tokenizer.lowercase
    assert loaded.model.head.decoder.weight is loaded.model.bert.tok_emb.weight    # still tied after loading
    batch = encode_texts(loaded.tokenizer, [("Once upon a time.", "The end.")], max_len=64)
    assert torch.equal(trained.model(batch.ids, batch.segments, batch.lengths),
                       loaded.model(batch.ids, batch.segments, batch.lengths))
    card = loaded.card
    assert card["model"]["class"] == "llmcourse.bert.model.BertForMLM"
    assert card["model"]["config"] == dataclasses.asdict(loaded.model.config)
    assert card["tokenizer"] == {"class": "llmcourse.tokenization.WordPieceTokenizer",
                                 "vocab": [loaded.tokenizer.ids_to_tokens[i]
                                           for i in range(loaded.tokenizer.vocab_size)],
                                 "lowercase": False, "strip_accents": False}
    assert card["tokenizer"]["vocab"][:5] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    figures = loaded.info
    assert figures["steps"] == 4 and figures["val_loss"] == loaded.history["val"][-1]
    assert 0 <= figures["val_accuracy"] <= 1
    assert figures["parameters"] == sum(p.numel() for p in loaded.model.parameters())
    assert loaded.history["steps"] == [0, 1, 2, 3, 4] and len(loaded.history["val_accuracy"]) == 5


def test_a_card_with_an_unknown_tokenizer_is_rebuilt(monkeypatch, tmp_path):
    monkeypatch.setitem(zoo.RECIPES, TINY_BERT.name, TINY_BERT)
    path = zoo.load_pretrained(TINY_BERT.name, directory=tmp_path, progress=False).path
    card = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
    card["tokenizer"]["class"] = "somewhere.Else"
    path.with_suffix(".json").write_text(json.dumps(card), encoding="utf-8")
    with pytest.warns(UserWarning, match="cannot be read .*unknown tokenizer class 'somewhere.Else'"):
        zoo.load_pretrained(TINY_BERT.name, directory=tmp_path, progress=False)


def test_the_readers_differ_only_in_their_start_and_build_on_the_current_gpt_stories():
    reader, scratch = zoo.RECIPES["gpt-reader"], zoo.RECIPES["gpt-reader-scratch"]
    assert (reader.training["init"], scratch.training["init"]) == ("gpt-stories", "random")
    assert {**reader.training, "init": None} == {**scratch.training, "init": None}
    assert (reader.model_config, reader.version) == (scratch.model_config, scratch.version)
    assert reader.model_config == zoo.RECIPES["gpt-stories"].model_config
    assert reader.training["init_version"] == zoo.RECIPES["gpt-stories"].version   # bump both when it changes


def test_a_reader_recipe_round_trips(monkeypatch, tmp_path):
    """The zoo's side of a reader (Chapter 11): the trained GPT, its extended tokenizer and history are saved
    and loaded back; the training itself (llmcourse.finetune.train_reader) is tested in test_finetune."""
    import llmcourse.finetune as finetune
    from llmcourse.gpt import GPT, GPTConfig
    from llmcourse.tokenization import CharTokenizer

    recipe = zoo.Recipe("tiny-reader", 1, 11, "a tiny reader for tests", "reader", "world",
                        dict(block_size=16, n_layers=1, n_heads=2, d_model=8), dict(init="random", steps=2))

    def fake_train_reader(training, *, progress=True):
        tokenizer = CharTokenizer("Q: ab?\n0129")
        torch.manual_seed(0)
        model = GPT(GPTConfig(vocab_size=tokenizer.vocab_size, **recipe.model_config))
        history = dict(steps=[0, 2], train=[3.0, 2.0], val=[3.1, 2.5], story=[0.7, 2.0], seconds=[0.0, 0.1])
        return model, tokenizer, dict(steps=2, seconds=0.1, val_loss=2.5, story_loss=2.0), history

    monkeypatch.setattr(finetune, "train_reader", fake_train_reader)
    monkeypatch.setitem(zoo.RECIPES, recipe.name, recipe)
    trained = zoo.load_pretrained(recipe.name, directory=tmp_path, progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loaded = zoo.load_pretrained(recipe.name, directory=tmp_path, progress=False)
    assert loaded.tokenizer.itos == trained.tokenizer.itos and loaded.model.config == trained.model.config
    ids = torch.tensor([loaded.tokenizer.encode("Q: ab?\n0")])
    assert torch.equal(loaded.model(ids), trained.model(ids))
    assert loaded.history["story"] == [0.7, 2.0] and loaded.info["torch_threads"] == 1
    assert loaded.card["model"]["class"] == "llmcourse.gpt.GPT"


def test_a_reader_adapter_recipe_round_trips(monkeypatch, tmp_path):
    """Chapter 12's gpt-reader-lora: a reader recipe with an ``adapter`` is trained by
    llmcourse.lora.train_reader_adapter (tested in test_lora) and rebuilt with its LoRA layers."""
    import llmcourse.lora as lora
    from llmcourse.gpt import GPT, GPTConfig
    from llmcourse.tokenization import CharTokenizer

    adapter = dict(targets=["qkv", "fc"], r=2, alpha=4)
    recipe = zoo.Recipe("tiny-reader-lora", 1, 12, "a tiny reader adapter for tests", "reader", "world",
                        dict(block_size=16, n_layers=1, n_heads=2, d_model=8), dict(steps=2, adapter=adapter))

    def fake_train_reader_adapter(training, *, progress=True):
        tokenizer = CharTokenizer("Q: ab?\n0129")
        torch.manual_seed(0)
        model = GPT(GPTConfig(vocab_size=tokenizer.vocab_size, **recipe.model_config))
        lora.inject_lora(model, **training["adapter"])
        with torch.no_grad():
            for layer in lora.lora_layers(model).values():
                layer.lora_B.normal_()
        history = dict(steps=[0, 2], train=[3.0, 2.0], val=[3.1, 2.5], story=[0.7, 0.9], seconds=[0.0, 0.1])
        return model, tokenizer, dict(steps=2, seconds=0.1, val_loss=2.5, story_loss=0.9), history

    monkeypatch.setattr(lora, "train_reader_adapter", fake_train_reader_adapter)
    monkeypatch.setitem(zoo.RECIPES, recipe.name, recipe)
    trained = zoo.load_pretrained(recipe.name, directory=tmp_path, progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loaded = zoo.load_pretrained(recipe.name, directory=tmp_path, progress=False)
    assert list(lora.lora_layers(loaded.model)) == ["blocks.0.attn.qkv", "blocks.0.mlp.fc"]
    assert lora.lora_parameters(loaded.model)["trainable"] == 2 * (8 + 24) + 2 * (8 + 32)   # the base stays frozen
    ids = torch.tensor([loaded.tokenizer.encode("Q: ab?\n0")])
    assert torch.equal(loaded.model(ids), trained.model(ids))
    assert loaded.model.lm_head.weight is loaded.model.tok_emb.weight
    assert loaded.card["model"]["class"] == "llmcourse.gpt.GPT"


def test_the_module_docstring_names_each_recipes_chapter():
    first_line = zoo.__doc__.splitlines()[0]        # "... (Chapters 04–07: lstm-drills in 04, a and b in 07)."
    span = re.search(r"\(Chapters (\d\d)–(\d\d): (.*)\)\.$", first_line)
    assert span, first_line
    named = {name: int(chapter) for group in span[3].split(", ")
             for names, chapter in [group.rsplit(" in ", 1)] for name in names.split(" and ")}
    assert named == {name: recipe.chapter for name, recipe in zoo.RECIPES.items()}, first_line
    assert (int(span[1]), int(span[2])) == (min(named.values()), max(named.values())), first_line


def test_a_curriculum_trains_in_phases_of_growing_passwords(monkeypatch, tmp_path):
    recipe = zoo.Recipe("tiny-curriculum", 1, 4, "a tiny LSTM trained in two phases", "lstm", "drills",
                        dict(d_embed=4, d_hidden=8, forget_bias=1.0),
                        dict(n_texts=40, seed=0, curriculum=((dict(max_len=1, n_names=1), 2), (dict(max_len=3), 3)),
                             batch_size=2, block_size=16, lr=1e-2, grad_clip=1.0))
    phases = zoo._phases(recipe)
    assert [steps for _, steps in phases] == [2, 3]
    words = [[w for w in text.split() if w.endswith(".") and w.islower()] for text, _ in phases]
    assert max(len(w) - 1 for w in words[0]) == 1 and max(len(w) - 1 for w in words[1]) == 3
    monkeypatch.setitem(zoo.RECIPES, recipe.name, recipe)
    trained = zoo.load_pretrained(recipe.name, directory=tmp_path, progress=False)
    assert trained.history["steps"][-1] == 5                         # one history over both phases
    assert trained.history["steps"] == sorted(trained.history["steps"])
    assert len(trained.history["seconds"]) == len(trained.history["val"])
    with warnings.catch_warnings():                                  # its tuples read back as lists: still fresh
        warnings.simplefilter("error")
        assert zoo.load_pretrained(recipe.name, directory=tmp_path, progress=False).info == trained.info


def test_trains_even_where_gradients_are_switched_off(tiny):
    with torch.no_grad():                     # as in Chapter 00, which only runs a model
        trained = zoo.load_pretrained("tiny", progress=False)
    assert CALLS == ["tiny"] and trained.path.exists() and len(trained.history["train"]) >= 2


def test_every_reader_learns_from_the_readers_world():
    from llmcourse.finetune import READER_WORLD

    readers = [r for r in zoo.RECIPES.values() if r.kind == "reader"]
    assert len(readers) == 4 and all(r.training["world"] == READER_WORLD for r in readers)
