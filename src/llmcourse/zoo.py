"""The model zoo: trained once, cached on disk (Chapters 04–12: lstm-drills in 04, gpt-drills and gpt-stories in 07, bert-stories in 09, gpt-reader and gpt-reader-scratch in 11, gpt-reader-lora in 12).

Later chapters need a model trained in an earlier one. ``load_pretrained("gpt-stories")`` trains
it deterministically on first use (a progress bar shows it; a few minutes on a 2-core CPU) and
saves it under the cache folder — ``$LLMCOURSE_CACHE``, default ``~/.cache/llmcourse`` — so later
calls just load it (Chapter 00 already borrows ``gpt-stories`` for its one-page tour). No weights
are committed and none are downloaded. A cached model is two files:

* ``<name>.safetensors`` — the weights (tensors only: loading them runs no code);
* ``<name>.json`` — its recipe card: the recipe (version, model class and configuration, training
  settings), the training figures, the tokenizer (its class and vocabulary), the loss curve, the
  ``llmcourse`` and torch versions that trained it, and the SHA-256 of the weights file.

A model is loaded only when its card matches the code — the same card format, recipe version,
recipe and ``llmcourse`` version — and its weights match the card's SHA-256 and fit the model.
Anything else (no card, a truncated or altered weights file, a recipe changed since) is reported
with a :class:`UserWarning` saying why, and the model is trained again, never silently used;
with ``allow_training=False`` it is a :class:`CacheError` instead. Files of the zoo's first
format (``<name>-v<version>.pt``) are never read. The torch version is recorded, not checked: a
torch update changes the last bits of training, not what the weights mean.

>>> sorted(RECIPES)
['bert-stories', 'gpt-drills', 'gpt-reader', 'gpt-reader-lora', 'gpt-reader-scratch', 'gpt-stories', 'lstm-drills']
>>> {name: recipe.chapter for name, recipe in sorted(RECIPES.items())}  # doctest: +NORMALIZE_WHITESPACE
{'bert-stories': 9, 'gpt-drills': 7, 'gpt-reader': 11, 'gpt-reader-lora': 12, 'gpt-reader-scratch': 11,
 'gpt-stories': 7, 'lstm-drills': 4}
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import json
import os
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from llmcourse import __version__
from llmcourse.tokenization import CharTokenizer, Tokenizer, WordPieceTokenizer

FORMAT = "llmcourse.zoo/2"  # the card's format; format 1 was one torch.save file, <name>-v<version>.pt
CACHE_ENV = "LLMCOURSE_CACHE"


def cache_dir() -> Path:
    """The zoo's folder: ``$LLMCOURSE_CACHE`` if set, else ``~/.cache/llmcourse``."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "llmcourse").expanduser()


class CacheError(ValueError):
    """A cached zoo model that cannot be used; the message says why (stale, corrupt, missing)."""


@dataclass
class Pretrained:
    """A zoo model ready to use: ``model`` (in eval mode), its ``tokenizer`` and how it was made.

    ``info`` holds the training figures (``steps``, ``seconds``, final ``train_loss`` and
    ``val_loss`` in nats per token, ``parameters``, the ``training`` settings, the ``corpus``);
    ``history`` the loss curve as ``LossHistory`` fields; ``card`` the whole recipe card.
    ``path`` is the weights file, ``<cache dir>/<name>.safetensors``.
    """

    name: str
    model: torch.nn.Module
    tokenizer: Tokenizer
    info: dict
    history: dict = field(repr=False)
    path: Path | None = None
    card: dict = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class Recipe:
    """How to build and train one zoo model. ``version`` changes whenever the result would.

    ``chapter`` is the chapter that introduces the model. ``kind`` is ``"gpt"``
    (:class:`llmcourse.gpt.GPT`, AdamW with decay groups, warmup + cosine), ``"lstm"``
    (:class:`llmcourse.rnn.CharRNN`, AdamW at a constant rate) — both character-level — or
    ``"bert"`` (:class:`llmcourse.bert.BertForMLM`, masked-token pretraining with a word-level
    :class:`~llmcourse.tokenization.WordPieceTokenizer`, :func:`llmcourse.bert.train_story_bert`);
    ``corpus`` is ``"stories"`` (:func:`llmcourse.data.corpus_text`) or ``"drills"``
    (:func:`llmcourse.data.drills.drill_text`); ``"reader"`` is a GPT fine-tuned on the World's
    reading comprehension (``corpus`` ``"world"``, :func:`llmcourse.finetune.train_reader`);
    ``training`` holds the loop's settings. A drills recipe may train in phases,
    ``curriculum=((drill_config_kwargs, steps), ...)``: each phase draws fresh drills with its own
    :class:`~llmcourse.data.drills.DrillConfig` and continues with the same optimizer (an LSTM left
    to learn 1–8-letter copies from scratch can stay at chance for thousands of steps; one that
    first learns to carry a single letter goes on to longer ones).
    """

    name: str
    version: int
    chapter: int
    description: str
    kind: str
    corpus: str
    model_config: dict
    training: dict


# Measured in 3 minutes of one CPU thread (bench/stories.py): this 112k-parameter GPT reaches a lower
# loss (0.60-0.64 nats/char) than an 817k one with 4 layers and 128 dims (0.97-0.98), which manages
# only 1,000 steps in that time; the smaller model takes 5,000 at a higher learning rate.
_GPT_STORIES = dict(block_size=128, n_layers=2, n_heads=4, d_model=64, fast=True)
# Chapter 07's drill GPT is the story GPT's shape on purpose: one architecture through the chapter,
# and its 111k parameters are what lstm-drills (144 units) was sized to match.
_DRILL_GPT = _GPT_STORIES
# Chapter 09's BERT: gpt-stories' width and depth. It reads two sentences at a time (at most 64 tokens): measured
# while choosing this recipe, a minute of one thread gave 23-28 % masked-token accuracy on whole stories (and no
# gain from pretraining when fine-tuned) and 43 % on sentence pairs. The learning rate matters: 3e-3, 4e-3, 5e-3
# and 7e-3 gave 40, 43, 39 and 28 % in 1,000 steps.
_BERT_STORIES = dict(max_len=64, n_layers=2, n_heads=4, d_model=64, fast=True)

# Recipe(name, version, chapter that introduces it, description, kind, corpus, model_config, training)
RECIPES: dict[str, Recipe] = {r.name: r for r in [
    Recipe("gpt-stories", 2, 7, "character-level GPT (2 layers, 4 heads, 64 dims, context 128) on 4,000 stories",
           "gpt", "stories", _GPT_STORIES,
           dict(n_texts=4000, seed=0, steps=5000, batch_size=16, block_size=128, max_lr=1e-2, min_lr=1e-3,
                warmup_steps=100, weight_decay=0.1, grad_clip=1.0)),
    Recipe("gpt-drills", 1, 7, "character-level GPT (2 layers, 4 heads, 64 dims, context 128) on password drills",
           "gpt", "drills", _DRILL_GPT,
           dict(n_texts=40000, seed=0, steps=3000, batch_size=16, block_size=128, max_lr=2e-3, min_lr=2e-4,
                warmup_steps=100, weight_decay=0.1, grad_clip=1.0)),
    Recipe("lstm-drills", 2, 4, "character-level LSTM (one layer, 144 units) on password drills, as many "
           "parameters as gpt-drills; forget gates start open, trained one name and 1-letter passwords first, "
           "then 1-3 and 1-8 letters",
           "lstm", "drills", dict(d_embed=32, d_hidden=144, forget_bias=2.0),
           dict(n_texts=40000, seed=0, curriculum=((dict(max_len=1, n_names=1), 2000), (dict(max_len=3), 2000),
                                                    (dict(max_len=8), 4000)),
                batch_size=16, block_size=128, lr=5e-3, grad_clip=1.0)),
    Recipe("bert-stories", 1, 9, "word-level BERT (2 layers, 4 heads, 64 dims, post-LN) pretrained by masked "
           "tokens on every two consecutive sentences of 2,500 stories, read as [CLS] A [SEP] B [SEP]",
           "bert", "stories", _BERT_STORIES,
           dict(n_texts=2500, val_texts=100, seed=0, steps=1000, batch_size=64, lr=4e-3, warmup_steps=100,
                weight_decay=0.01, grad_clip=1.0)),
    *[Recipe(name, 2, 11, description, "reader", "world", _GPT_STORIES,
             dict(init=init, init_version=2, world=dict(seed=1, n_people=1800, n_towns=700, n_shops=1400),
                  distractors=1, max_chars=128, curriculum=((0, 3000),), steps=3600, batch_size=8, sort_window=64,
                  lr=6e-3, weight_decay=0.0, grad_clip=1.0, seed=0, eval_every=300, val_questions=128,
                  stories=dict(n=300, seed=2024), story_batches=4))
      for name, init, description in [
          ("gpt-reader", "gpt-stories", "gpt-stories fine-tuned to answer a question from a passage (13,340 "
           "questions about the entities of World seed 1), answer tokens only; 13 characters added; the gold "
           "sentence alone for 3,000 steps, then with a distractor for 600"),
          ("gpt-reader-scratch", "random", "the same model and training as gpt-reader from random weights "
           "(Chapter 11's control)")]],
    # Chapter 12: gpt-reader's data, learned through LoRA layers alone (llmcourse.lora.train_reader_adapter); a LoRA
    # step on every linear layer costs ~1.3 full steps here (28 against 22 ms), so 1,500 steps keep it under a minute
    Recipe("gpt-reader-lora", 1, 12, "gpt-stories taught to answer a question from a passage through LoRA adapters "
           "alone (rank 8 on every linear layer, 14.5 % of the weights); the pretrained weights untouched",
           "reader", "world", _GPT_STORIES,
           dict(init_version=2, world=dict(seed=1, n_people=1800, n_towns=700, n_shops=1400), distractors=1,
                max_chars=128, steps=1500, batch_size=8, lr=1e-2, weight_decay=0.0, grad_clip=1.0, seed=0,
                eval_every=500, val_questions=128, stories=dict(n=300, seed=2024), story_batches=4,
                adapter=dict(targets=["qkv", "proj", "fc"], r=8, alpha=16))),
]}


def _build(recipe: Recipe, vocab_size: int) -> torch.nn.Module:
    if recipe.kind in ("gpt", "reader"):
        from llmcourse.gpt import GPT, GPTConfig
        model = GPT(GPTConfig(vocab_size=vocab_size, **recipe.model_config))
        if "adapter" in recipe.training:            # gpt-reader-lora: the GPT with its LoRA layers (Chapter 12)
            from llmcourse.lora import inject_lora
            inject_lora(model, **recipe.training["adapter"])
        return model
    if recipe.kind == "bert":
        from llmcourse.bert import BertConfig, BertForMLM
        return BertForMLM(BertConfig(vocab_size=vocab_size, **recipe.model_config))
    from llmcourse.rnn import CharRNN
    return CharRNN(vocab_size, cell="lstm", **recipe.model_config)


def _phases(recipe: Recipe) -> list[tuple[str, int]]:
    """The recipe's training texts, one per phase, with the steps to train on each."""
    cfg = recipe.training
    if recipe.corpus == "stories":
        from llmcourse.data import corpus_text
        return [(corpus_text(cfg["n_texts"], seed=cfg["seed"]), cfg["steps"])]
    from llmcourse.data.drills import DrillConfig, drill_text
    if "curriculum" not in cfg:
        return [(drill_text(cfg["n_texts"], seed=cfg["seed"]), cfg["steps"])]
    return [(drill_text(cfg["n_texts"], seed=cfg["seed"] + i, config=DrillConfig(**dict(drills))), steps)
            for i, (drills, steps) in enumerate(cfg["curriculum"])]


def _fit(recipe: Recipe, progress: bool) -> tuple[torch.nn.Module, Tokenizer, dict, dict]:
    """Build the recipe's model for its corpus's vocabulary and train it (seeded, on one thread:
    the same weights wherever it runs — two threads sum in another order and end elsewhere)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        if recipe.kind == "reader":
            if "adapter" in recipe.training:
                from llmcourse.lora import train_reader_adapter as train_reader
            else:
                from llmcourse.finetune import train_reader
            model, tokenizer, info, history = train_reader(recipe.training, progress=progress)
            return model, tokenizer, dict(info, torch_threads=torch.get_num_threads()), history
        if recipe.kind == "bert":
            from llmcourse.bert import train_story_bert
            model, tokenizer, info, history = train_story_bert(
                lambda vocab_size: _build(recipe, vocab_size), recipe.training, progress=progress)
            return model, tokenizer, dict(info, corpus=recipe.corpus, torch_threads=torch.get_num_threads()), history
        return _fit_one_thread(recipe, progress)
    finally:
        torch.set_num_threads(threads)


def _fit_one_thread(recipe: Recipe, progress: bool) -> tuple[torch.nn.Module, CharTokenizer, dict, dict]:
    from llmcourse.gpt import configure_optimizer, lr_schedule
    from llmcourse.training import train, train_val_split

    cfg = recipe.training
    phases = _phases(recipe)
    tokenizer = CharTokenizer("".join(text for text, _ in phases))
    torch.manual_seed(cfg["seed"])
    model = _build(recipe, tokenizer.vocab_size)
    schedule = None
    if recipe.kind == "gpt":
        optimizer = configure_optimizer(model, lr=cfg["max_lr"], weight_decay=cfg["weight_decay"])
        schedule = lambda step: lr_schedule(step, max_lr=cfg["max_lr"], min_lr=cfg["min_lr"],  # noqa: E731
                                            warmup_steps=cfg["warmup_steps"], total_steps=cfg["steps"])
    else:
        optimizer = torch.optim.AdamW(model.parameters(), lr=cfg["lr"])
    start = time.perf_counter()
    history = None
    for phase, (text, steps) in enumerate(phases):
        train_ids, val_ids = train_val_split(torch.tensor(tokenizer.encode(text)), val_fraction=0.1)
        part = train(model, train_ids, val_ids, steps=steps, batch_size=cfg["batch_size"],
                     block_size=cfg["block_size"], optimizer=optimizer, grad_clip=cfg["grad_clip"],
                     eval_every=max(steps // 10, 1), seed=cfg["seed"] + phase, progress=progress,
                     lr_schedule=schedule)
        if history is None:
            history = part
        else:                                            # one history, steps counted from the start
            offset = history.steps[-1]
            history.steps.extend(offset + s for s in part.steps[1:])
            history.train.extend(part.train[1:])
            history.val.extend(part.val[1:])
            history.seconds.extend(history.seconds[-1] + t for t in part.seconds[1:])
    info = dict(training=dict(cfg), steps=history.steps[-1], seconds=round(time.perf_counter() - start, 1),
                train_loss=history.train[-1], val_loss=history.val[-1], corpus=recipe.corpus,
                parameters=sum(p.numel() for p in model.parameters()), torch_threads=torch.get_num_threads())
    return model, tokenizer, info, dataclasses.asdict(history)


# --------------------------------------------------------------------------------------
# The cached files: <name>.safetensors and its recipe card, <name>.json
# --------------------------------------------------------------------------------------
def _recipe(name: str) -> Recipe:
    if name not in RECIPES:
        raise ValueError(f"unknown zoo model {name!r}; available: {', '.join(sorted(RECIPES))}")
    return RECIPES[name]


def cache_path(name: str, directory: str | Path | None = None) -> Path:
    """Where ``name``'s weights are cached: ``<cache dir>/<name>.safetensors`` (its card: ``.json``)."""
    folder = Path(directory).expanduser() if directory is not None else cache_dir()
    return folder / f"{_recipe(name).name}.safetensors"


def _card_path(weights: Path) -> Path:
    return weights.with_name(weights.name.removesuffix(".safetensors") + ".json")


def _as_json(value: object) -> object:
    """``value`` as it reads back from a JSON file (tuples become lists), to compare like with like."""
    return json.loads(json.dumps(value))


def _recipe_card(recipe: Recipe) -> dict:
    """The part of a card that must equal the code's recipe for the weights to be used."""
    return _as_json(dict(version=recipe.version, kind=recipe.kind, corpus=recipe.corpus,
                         model_config=recipe.model_config, training=recipe.training))


def _sha256(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _tokenizer_card(tokenizer: Tokenizer) -> dict:
    """The tokenizer as the card keeps it: its class and everything needed to rebuild it."""
    if isinstance(tokenizer, CharTokenizer):
        return {"class": "llmcourse.tokenization.CharTokenizer", "vocab": "".join(tokenizer.itos)}
    if isinstance(tokenizer, WordPieceTokenizer):
        return {"class": "llmcourse.tokenization.WordPieceTokenizer",
                "vocab": [tokenizer.ids_to_tokens[i] for i in range(tokenizer.vocab_size)],
                "lowercase": tokenizer.lowercase, "strip_accents": tokenizer.strip_accents}
    raise TypeError(f"the zoo cannot save a {type(tokenizer).__name__}")


def _tokenizer_from_card(card: dict) -> Tokenizer:
    if card["class"] == "llmcourse.tokenization.CharTokenizer":
        return CharTokenizer(card["vocab"])
    if card["class"] == "llmcourse.tokenization.WordPieceTokenizer":
        return WordPieceTokenizer(card["vocab"], lowercase=card["lowercase"], strip_accents=card["strip_accents"])
    raise ValueError(f"unknown tokenizer class {card['class']!r}")


def _save(weights: Path, recipe: Recipe, model: torch.nn.Module, tokenizer: Tokenizer, info: dict,
          history: dict) -> dict:
    """Write the weights, then the card that vouches for them; return the card."""
    weights.parent.mkdir(parents=True, exist_ok=True)
    # One copy per name: safetensors refuses tensors that share memory (the GPT's tied head).
    state = {k: v.detach().cpu().contiguous().clone() for k, v in model.state_dict().items()}
    tmp = weights.with_name(f".{weights.name}.{os.getpid()}.tmp")
    # One metadata key: safetensors writes several in no fixed order, and the same weights must give the same bytes.
    save_file(state, tmp, metadata={FORMAT: f"{recipe.name}, recipe version {recipe.version}"})
    config = model.config if recipe.kind in ("gpt", "bert", "reader") else None
    card = dict(format=FORMAT, name=recipe.name, chapter=recipe.chapter, description=recipe.description,
                recipe=_recipe_card(recipe),
                model={"class": f"{type(model).__module__}.{type(model).__qualname__}",
                       "config": dataclasses.asdict(config) if config is not None
                       else dict(vocab_size=tokenizer.vocab_size, cell="lstm", **recipe.model_config)},
                tokenizer=_tokenizer_card(tokenizer),
                figures=info, versions=dict(llmcourse=__version__, torch=torch.__version__),
                weights=dict(file=weights.name, sha256=_sha256(tmp), bytes=tmp.stat().st_size),
                history=history)
    card = _as_json(card)
    card_tmp = weights.with_name(f".{weights.name}.{os.getpid()}.json.tmp")
    card_tmp.write_text(json.dumps(card, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    os.chmod(tmp, card_tmp.stat().st_mode)   # safetensors writes 0600; share the cache as the umask says
    os.replace(tmp, weights)                 # atomic: a reader never sees half a file; weights first, so
    os.replace(card_tmp, _card_path(weights))  # a crash in between leaves an old card that fails the SHA-256
    return card


def _check(card: object, recipe: Recipe) -> None:
    """Raise :class:`CacheError` unless ``card`` is a card for the code's ``recipe``."""
    if not isinstance(card, dict) or card.get("format") != FORMAT:
        found = card.get("format") if isinstance(card, dict) else type(card).__name__
        raise CacheError(f"its card is not a {FORMAT} card (format {found!r})")
    if card.get("name") != recipe.name:
        raise CacheError(f"its card is for another model ({card.get('name')!r})")
    made = card.get("recipe")
    made = made if isinstance(made, dict) else {}
    if made.get("version") != recipe.version:
        raise CacheError(f"it is stale: trained by recipe version {made.get('version')!r}, "
                         f"the code's is {recipe.version}")
    want = _recipe_card(recipe)
    changed = sorted(key for key in want if made.get(key) != want[key])
    if changed:
        raise CacheError(f"it is stale: its recipe differs from the code's in {', '.join(changed)} "
                         f"(recipe version {recipe.version} in both: was it changed without a new version?)")
    versions = card.get("versions")
    made_by = versions.get("llmcourse") if isinstance(versions, dict) else None
    if made_by != __version__:
        raise CacheError(f"it is stale: trained by llmcourse {made_by!r}, this is {__version__} "
                         "(the data and training code behind a recipe may have changed)")


def _load(weights: Path, recipe: Recipe) -> Pretrained:
    """Read and verify a cached model; raise :class:`CacheError` saying what is wrong with it."""
    card_path = _card_path(weights)
    if not card_path.exists():
        raise CacheError(f"it has no recipe card ({card_path.name})")
    try:
        card = json.loads(card_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise CacheError(f"its card cannot be read ({type(error).__name__}: {str(error)[:200]})") from None
    _check(card, recipe)
    if not weights.exists():
        raise CacheError(f"its weights file ({weights.name}) is missing")
    vouched = card.get("weights")
    if not isinstance(vouched, dict) or _sha256(weights) != vouched.get("sha256"):
        raise CacheError("its weights do not match the card's SHA-256 (the file is truncated or altered)")
    try:
        state = load_file(weights)
        tokenizer = _tokenizer_from_card(card["tokenizer"])
        info, history = card["figures"], card["history"]
    except Exception as error:  # a card written by hand, a file safetensors rejects, ...
        raise CacheError(f"it cannot be read ({type(error).__name__}: {str(error)[:200]})") from None
    model = _build(recipe, tokenizer.vocab_size)
    try:
        model.load_state_dict(state)
    except RuntimeError as error:
        raise CacheError(f"its weights do not fit the model ({str(error)[:200]})") from None
    model.eval()
    return Pretrained(recipe.name, model, tokenizer, info, history, weights, card)


@contextlib.contextmanager
def _lock(path: Path) -> Iterator[None]:
    """Hold ``.<file name>.lock`` exclusively: one process trains a model, the others wait and load it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(f".{path.name}.lock"), "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def load_pretrained(name: str, *, directory: str | Path | None = None, progress: bool = True,
                    retrain: bool = False, allow_training: bool = True) -> Pretrained:
    """A zoo model by name (see :data:`RECIPES`), trained on first use and cached.

    ``directory`` overrides the cache folder (:func:`cache_dir`); ``progress`` shows a progress bar
    while training. ``retrain=True`` ignores the cache. A cached model that is stale (another
    recipe or ``llmcourse`` version) or corrupt (its weights fail the card's SHA-256) is reported
    with a warning and trained again; ``allow_training=False`` raises :class:`CacheError` instead,
    for code that must not spend minutes training. Training is seeded: the same code gives the same
    weights. Processes sharing a cache folder (parallel test workers, two notebooks) train each
    model once: the others wait for it under a file lock and load it.

    Chapter 04 — the RNN baseline (``lstm-drills``); Chapter 07 — GPT (``gpt-drills``, ``gpt-stories``);
    Chapter 09 — BERT, the encoder (``bert-stories``); Chapter 11 — Fine-tuning and transfer learning
    (``gpt-reader``, ``gpt-reader-scratch``); Chapter 12 — LoRA (``gpt-reader-lora``).
    """
    recipe = _recipe(name)
    if retrain and not allow_training:
        raise ValueError("retrain=True trains the model again; it cannot be combined with allow_training=False")
    path = cache_path(name, directory)
    with _lock(path):
        if not retrain and (path.exists() or _card_path(path).exists()):
            try:
                return _load(path, recipe)
            except CacheError as problem:
                if not allow_training:
                    raise CacheError(f"the cached zoo model {path} cannot be used: {problem}") from None
                warnings.warn(f"the cached zoo model {path} was not used: {problem}. Training it again.",
                              stacklevel=2)
        elif not retrain and not allow_training:
            raise CacheError(f"zoo model {name!r} is not in the cache ({path.parent}); "
                             f"load_pretrained({name!r}) trains it (Chapter {recipe.chapter:02d})")
        with torch.enable_grad():     # a caller may have switched gradients off (Chapter 00 does)
            model, tokenizer, info, history = _fit(recipe, progress)
        card = _save(path, recipe, model, tokenizer, info, history)
    model.eval()
    return Pretrained(recipe.name, model, tokenizer, card["figures"], card["history"], path, card)
