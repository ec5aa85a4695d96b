"""The zoo's ``gpt-reader-lora``: a base model with a LoRA adapter trained to read (Chapter 12).

:func:`train_reader_adapter` is what ``llmcourse.zoo.load_pretrained("gpt-reader-lora")`` runs once
and caches: Chapter 11's reading-comprehension examples of the World with seed 1
(:data:`llmcourse.finetune.READER_WORLD`), learned through LoRA layers alone by a base from the zoo —
``gpt-reader-sentence``, which reads a passage of one sentence, learning to read past a distractor —
whose weights stay as they were. The zoo keeps the whole model (base and adapter, in its LoRA
layers); :func:`~llmcourse.lora.save_adapter` takes the adapter out of it.
"""

from __future__ import annotations

import time

from torch import nn

from llmcourse.lora.layer import inject_lora, lora_parameters


def train_reader_adapter(training: dict, *, progress: bool = True) -> tuple[nn.Module, object, dict, dict]:
    """Train a LoRA reader as the zoo recipe ``training`` says; returns ``(model, tokenizer, info, history)``.

    ``training["adapter"]`` holds :func:`~llmcourse.lora.inject_lora`'s arguments (``targets``,
    ``r``, ``alpha``, ``rslora``, ``dropout``, ``seed``); ``training["base"]`` names the zoo model
    it is injected into (default ``"gpt-stories"``; its vocabulary is extended by
    :data:`~llmcourse.finetune.WORLD_CHARACTERS` where it lacks them), and ``init_version`` is the
    base's recipe version the recipe was written for. The rest are the keys of Chapter 11's reader
    recipes: ``world``, ``distractors``, ``max_chars``, ``steps``, ``batch_size``, ``sort_window``
    (default 0), ``lr``, ``weight_decay``, ``grad_clip``, ``seed``, and for the history,
    every ``eval_every`` steps, the answer loss on ``val_questions`` questions of ``world(seed=0)``
    (``val``) and the loss on held-out stories with the adapter on (``story``).

    Chapter 12 — LoRA.
    """
    from llmcourse import finetune as ft
    from llmcourse.data import corpus_text, world
    from llmcourse.zoo import RECIPES, load_pretrained

    cfg = training
    base_name = cfg.get("base", "gpt-stories")
    if cfg["init_version"] != RECIPES[base_name].version:
        raise ValueError(f"the gpt-reader-lora recipe was written for {base_name} version {cfg['init_version']}, "
                         f"the zoo's is {RECIPES[base_name].version}: update the recipe and its version")
    base = load_pretrained(base_name, progress=progress)
    model, tokenizer = ft.extend_vocabulary(base.model, base.tokenizer, ft.WORLD_CHARACTERS)
    inject_lora(model, **cfg["adapter"])
    examples = ft.reading_examples(world(**cfg["world"]), distractors=cfg["distractors"], max_chars=cfg["max_chars"])
    held_out = ft.reading_examples(world(seed=0), distractors=cfg["distractors"],
                                   max_chars=cfg["max_chars"])[:cfg["val_questions"]]
    stories = corpus_text(**cfg["stories"])

    def measure(train_loss: float, seconds: float, step: int) -> None:
        history["steps"].append(step)
        history["train"].append(train_loss)
        history["val"].append(ft.mean_answer_loss(model, tokenizer, held_out))
        history["story"].append(ft.story_loss(model, tokenizer, stories, n_batches=cfg["story_batches"]))
        history["seconds"].append(seconds)

    history: dict[str, list] = dict(steps=[], train=[], val=[], story=[], seconds=[])
    measure(ft.mean_answer_loss(model, tokenizer, examples[:cfg["val_questions"]]), 0.0, 0)
    start, recent = time.perf_counter(), []

    def record(step: int, loss: float) -> None:
        recent.append(loss)
        if (step + 1) % cfg["eval_every"] == 0 or step + 1 == cfg["steps"]:
            measure(sum(recent) / len(recent), time.perf_counter() - start, step + 1)
            recent.clear()
            model.train()

    run = ft.finetune(model, tokenizer, examples, steps=cfg["steps"], batch_size=cfg["batch_size"], lr=cfg["lr"],
                      weight_decay=cfg["weight_decay"], grad_clip=cfg["grad_clip"], seed=cfg["seed"],
                      progress=progress, on_step=record, sort_window=cfg.get("sort_window", 0))
    counts = lora_parameters(model)
    info = dict(training=dict(cfg), steps=cfg["steps"], seconds=round(run.seconds, 1),
                cpu_seconds=round(run.cpu_seconds, 1), train_loss=history["train"][-1], val_loss=history["val"][-1],
                story_loss=history["story"][-1], corpus="world", examples=len(examples),
                parameters=counts["total"], trainable=counts["trainable"])
    return model, tokenizer, info, history
