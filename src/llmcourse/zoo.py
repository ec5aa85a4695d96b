"""The model zoo: models the course trains itself, once, and caches on disk (Chapter 04 onwards).

Later chapters need a model trained in an earlier one. ``load_pretrained("gpt-stories")`` trains
it deterministically on first use (a progress bar shows it; a few minutes on a 2-core CPU) and
saves it under the cache folder — ``$LLMCOURSE_CACHE``, default ``~/.cache/llmcourse`` — so later
calls just load it. No weights are committed and none are downloaded.

A cache file carries a format number, the recipe (name, version, model configuration), the
vocabulary and a SHA-256 checksum of the weights. A file that cannot be read, fails the checksum
or was written by another recipe is reported (a :class:`UserWarning` saying why) and rebuilt,
never silently used.

>>> sorted(RECIPES)
['gpt-drills', 'gpt-stories', 'lstm-drills']
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch

from llmcourse.tokenization import CharTokenizer

FORMAT = 1
CACHE_ENV = "LLMCOURSE_CACHE"


def cache_dir() -> Path:
    """The zoo's folder: ``$LLMCOURSE_CACHE`` if set, else ``~/.cache/llmcourse``."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "llmcourse").expanduser()


@dataclass
class Pretrained:
    """A zoo model ready to use: ``model`` (in eval mode), its ``tokenizer`` and how it was made.

    ``info`` holds the training figures (steps, seconds, final train/validation loss in nats
    per token, the corpus it saw); ``history`` the loss curve as ``LossHistory`` fields.
    ``path`` is the cache file it was loaded from.
    """

    name: str
    model: torch.nn.Module
    tokenizer: CharTokenizer
    info: dict
    history: dict = field(repr=False)
    path: Path | None = None


@dataclass(frozen=True)
class Recipe:
    """How to build and train one zoo model. ``version`` changes whenever the result would.

    ``kind`` is ``"gpt"`` (:class:`llmcourse.gpt.GPT`, AdamW with decay groups, warmup + cosine)
    or ``"lstm"`` (:class:`llmcourse.rnn.CharRNN`, AdamW at a constant rate); ``corpus`` is
    ``"stories"`` (:func:`llmcourse.data.corpus_text`) or ``"drills"``
    (:func:`llmcourse.data.drills.drill_text`); ``training`` holds the loop's settings. A drills
    recipe may train in phases, ``curriculum=((drill_config_kwargs, steps), ...)``: each phase draws
    fresh drills with its own :class:`~llmcourse.data.drills.DrillConfig` and continues with the
    same optimizer (an LSTM left to learn 1–8-letter copies from scratch can stay at chance for
    thousands of steps; one that first learns to carry a single letter goes on to longer ones).
    """

    name: str
    version: int
    description: str
    kind: str
    corpus: str
    model_config: dict
    training: dict


# Measured in 3 minutes of one CPU thread (bench/stories.py): this 112k-parameter GPT reaches a lower
# loss (0.60-0.64 nats/char) than an 817k one with 4 layers and 128 dims (0.97-0.98), which manages
# only 1,000 steps in that time; the smaller model takes 5,000 at a higher learning rate.
_GPT_STORIES = dict(block_size=128, n_layers=2, n_heads=4, d_model=64, fast=True)
_DRILL_GPT = dict(block_size=128, n_layers=2, n_heads=4, d_model=64, fast=True)

RECIPES: dict[str, Recipe] = {r.name: r for r in [
    Recipe("gpt-stories", 2, "character-level GPT (2 layers, 4 heads, 64 dims, context 128) on 4,000 stories",
           "gpt", "stories", _GPT_STORIES,
           dict(n_texts=4000, seed=0, steps=5000, batch_size=16, block_size=128, max_lr=1e-2, min_lr=1e-3,
                warmup_steps=100, weight_decay=0.1, grad_clip=1.0)),
    Recipe("gpt-drills", 1, "character-level GPT (2 layers, 4 heads, 64 dims, context 128) on password drills",
           "gpt", "drills", _DRILL_GPT,
           dict(n_texts=40000, seed=0, steps=3000, batch_size=16, block_size=128, max_lr=2e-3, min_lr=2e-4,
                warmup_steps=100, weight_decay=0.1, grad_clip=1.0)),
    Recipe("lstm-drills", 2, "character-level LSTM (one layer, 144 units) on password drills, as many parameters "
           "as gpt-drills; forget gates start open, trained one name and 1-letter passwords first, then 1-3 and 1-8 letters",
           "lstm", "drills", dict(d_embed=32, d_hidden=144, forget_bias=2.0),
           dict(n_texts=40000, seed=0, curriculum=((dict(max_len=1, n_names=1), 2000), (dict(max_len=3), 2000),
                                                    (dict(max_len=8), 4000)),
                batch_size=16, block_size=128, lr=5e-3, grad_clip=1.0)),
]}


def _build(recipe: Recipe, vocab_size: int) -> torch.nn.Module:
    if recipe.kind == "gpt":
        from llmcourse.gpt import GPT, GPTConfig
        return GPT(GPTConfig(vocab_size=vocab_size, **recipe.model_config))
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


def _fit(recipe: Recipe, progress: bool) -> tuple[torch.nn.Module, CharTokenizer, dict, dict]:
    """Build the recipe's model for its corpus's characters and train it (seeded)."""
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
# The cache file
# --------------------------------------------------------------------------------------
def _fingerprint(recipe: Recipe) -> str:
    return json.dumps(dict(kind=recipe.kind, corpus=recipe.corpus, model=recipe.model_config,
                           training=recipe.training), sort_keys=True)


def _checksum(state: dict[str, torch.Tensor]) -> str:
    digest = hashlib.sha256()
    for key in sorted(state):
        tensor = state[key].detach().cpu().contiguous()
        digest.update(f"{key}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
        digest.update(tensor.view(torch.uint8).numpy().tobytes() if tensor.numel() else b"")
    return digest.hexdigest()


def cache_path(name: str, directory: str | Path | None = None) -> Path:
    """Where ``name`` is cached: ``<cache dir>/<name>-v<recipe version>.pt``."""
    folder = Path(directory).expanduser() if directory is not None else cache_dir()
    return folder / f"{name}-v{_recipe(name).version}.pt"


def _recipe(name: str) -> Recipe:
    if name not in RECIPES:
        raise ValueError(f"unknown zoo model {name!r}; available: {', '.join(sorted(RECIPES))}")
    return RECIPES[name]


def _save(path: Path, recipe: Recipe, model: torch.nn.Module, tokenizer: CharTokenizer, info: dict,
          history: dict) -> None:
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    payload = dict(format=FORMAT, name=recipe.name, version=recipe.version,
                   model_config=_fingerprint(recipe), vocab="".join(tokenizer.itos),
                   info=json.dumps(info), history=json.dumps(history), state_dict=state,
                   checksum=_checksum(state))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)               # atomic: a reader never sees half a file


def _load(path: Path, recipe: Recipe) -> Pretrained:
    """Read and verify a cache file; raise ``ValueError`` saying what is wrong with it."""
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # truncated, not a torch file, unpickling refused, ...
        raise ValueError(f"it cannot be read ({type(error).__name__}: {str(error)[:200]})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ValueError(f"it is not a format-{FORMAT} zoo file")
    expected = dict(name=recipe.name, version=recipe.version,
                    model_config=_fingerprint(recipe))
    for key, want in expected.items():
        if payload.get(key) != want:
            raise ValueError(f"it was written by another recipe ({key} = {payload.get(key)!r}, expected {want!r})")
    state = payload.get("state_dict")
    if not isinstance(state, dict) or _checksum(state) != payload.get("checksum"):
        raise ValueError("its weights do not match their checksum (the file is corrupt)")
    tokenizer = CharTokenizer(payload["vocab"])
    model = _build(recipe, tokenizer.vocab_size)
    try:
        model.load_state_dict(state)
    except RuntimeError as error:
        raise ValueError(f"its weights do not fit the model ({str(error)[:200]})") from None
    model.eval()
    return Pretrained(recipe.name, model, tokenizer, json.loads(payload["info"]), json.loads(payload["history"]),
                      path)


@contextlib.contextmanager
def _lock(path: Path):
    """Hold ``<path>.lock`` exclusively: one process trains a model, the others wait and load it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(f".{path.name}.lock"), "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def load_pretrained(name: str, *, directory: str | Path | None = None, progress: bool = True,
                    retrain: bool = False) -> Pretrained:
    """A zoo model by name (see :data:`RECIPES`), trained on first use and cached.

    ``directory`` overrides the cache folder (:func:`cache_dir`). ``retrain=True`` ignores the
    cache. A cache file that is unreadable, corrupt or from another recipe version is reported
    with a warning and rebuilt. Training is seeded: the same code gives the same weights. Processes
    sharing a cache folder (parallel test workers, two notebooks) train each model once: the others
    wait for it under a file lock and load it.

    Chapter 07 — GPT (used again from Chapter 08 on).
    """
    recipe = _recipe(name)
    path = cache_path(name, directory)
    with _lock(path):
        if path.exists() and not retrain:
            try:
                return _load(path, recipe)
            except ValueError as problem:
                warnings.warn(f"the cached zoo model {path} was not used: {problem}. Training it again.",
                              stacklevel=3)
        with torch.enable_grad():     # a caller may have switched gradients off (Chapter 00 does)
            model, tokenizer, info, history = _fit(recipe, progress)
        _save(path, recipe, model, tokenizer, info, history)
    model.eval()
    return Pretrained(recipe.name, model, tokenizer, info, history, path)
