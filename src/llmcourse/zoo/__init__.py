"""The model zoo: trained once, cached on disk (Chapters 04–12: lstm-drills in 04, gpt-drills and gpt-stories in 07, bert-stories in 09, gpt-reader and gpt-reader-scratch in 11, gpt-reader-sentence and gpt-reader-lora in 12).

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

>>> sorted(RECIPES)  # doctest: +NORMALIZE_WHITESPACE
['bert-stories', 'gpt-drills', 'gpt-reader', 'gpt-reader-lora', 'gpt-reader-scratch', 'gpt-reader-sentence',
 'gpt-stories', 'lstm-drills']
>>> {name: recipe.chapter for name, recipe in sorted(RECIPES.items())}  # doctest: +NORMALIZE_WHITESPACE
{'bert-stories': 9, 'gpt-drills': 7, 'gpt-reader': 11, 'gpt-reader-lora': 12, 'gpt-reader-scratch': 11,
 'gpt-reader-sentence': 12, 'gpt-stories': 7, 'lstm-drills': 4}
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import json
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from llmcourse import __version__
from llmcourse.tokenization import CharTokenizer, Tokenizer, WordPieceTokenizer
from llmcourse.zoo.recipes import RECIPES, Recipe, _build, _fit, _phases  # noqa: F401 (tests use them from here)

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
