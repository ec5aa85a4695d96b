"""The zoo's recipes: what each model is and how it is trained (loaded and cached by ``llmcourse.zoo``).

:data:`RECIPES` maps a name to its :class:`Recipe`; :func:`_fit` builds the recipe's model and trains
it, seeded, on one thread. ``llmcourse.zoo`` caches what it returns.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

import torch

from llmcourse.tokenization import CharTokenizer, Tokenizer


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
# The World every reader learns from (llmcourse.finetune.READER_WORLD: other entities than the chapters' seed 0).
_READER_WORLD = dict(seed=1, n_people=1800, n_towns=700, n_shops=1400)

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
    *[Recipe(name, 3, 11, description, "reader", "world", _GPT_STORIES,
             dict(init=init, init_version=2, world=_READER_WORLD,
                  distractors=1, max_chars=128, curriculum=((0, 4500),), steps=6000, batch_size=8, sort_window=64,
                  lr=6e-3, weight_decay=0.0, grad_clip=1.0, seed=0, eval_every=500, val_questions=128,
                  stories=dict(n=300, seed=2024), story_batches=4))
      for name, init, description in [
          ("gpt-reader", "gpt-stories", "gpt-stories fine-tuned to answer a question from a passage (13,340 "
           "questions about the entities of World seed 1), answer tokens only; 13 characters added; the gold "
           "sentence alone for 4,500 steps, then with a distractor for 1,500"),
          ("gpt-reader-scratch", "random", "the same model and training as gpt-reader from random weights "
           "(Chapter 11's control)")]],
    # Chapter 12: the adapter's base — gpt-stories fine-tuned (every weight) on the gold sentence alone, the first
    # phase of gpt-reader's curriculum as a run of its own; then gpt-reader's data with one distractor, learned through
    # LoRA layers alone on that base (llmcourse.lora.train_reader_adapter). Taught from gpt-stories itself, a rank-8
    # adapter on every linear layer stayed below 6 % exact match after 3,600 steps: a low-rank update did not build
    # the copying that reading needs, so the base brings it.
    Recipe("gpt-reader-sentence", 1, 12, "gpt-stories fine-tuned to answer a question from its gold sentence alone "
           "(gpt-reader's first phase, as a run of its own); gpt-reader-lora's base",
           "reader", "world", _GPT_STORIES,
           dict(init="gpt-stories", init_version=2, world=_READER_WORLD,
                distractors=0, max_chars=128, steps=3000, batch_size=8, sort_window=64, lr=6e-3, weight_decay=0.0,
                grad_clip=1.0, seed=0, eval_every=500, val_questions=128, stories=dict(n=300, seed=2024),
                story_batches=4)),
    Recipe("gpt-reader-lora", 2, 12, "gpt-reader-sentence taught to read past a distractor through LoRA adapters "
           "alone (rank 8 on every linear layer, 14.5 % of the weights); the base's weights untouched",
           "reader", "world", _GPT_STORIES,
           dict(base="gpt-reader-sentence", init_version=1,
                world=_READER_WORLD, distractors=1, max_chars=128,
                steps=1000, batch_size=8, sort_window=64, lr=1e-2, weight_decay=0.0, grad_clip=1.0, seed=0,
                eval_every=250, val_questions=128, stories=dict(n=300, seed=2024), story_batches=4,
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
