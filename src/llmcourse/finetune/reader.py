"""The zoo's readers: ``gpt-stories`` fine-tuned on reading comprehension, and its control (Chapter 11).

:func:`train_reader` is what ``llmcourse.zoo.load_pretrained("gpt-reader")`` runs once and caches:
the questions of a World with other entities than the one the chapters test on (:data:`READER_WORLD`:
seed 1, 3,900 entities, 13,340 questions), as reading-comprehension examples, learned by
``gpt-stories`` with its vocabulary extended by :data:`WORLD_CHARACTERS`; ``"gpt-reader-scratch"``
trains the same model from random weights on the same batches, as the control. The held-out
figures recorded while training (``val``) are on the questions of ``world(seed=0)``, whose
entities the readers never saw.
"""

from __future__ import annotations

import string
import time

import torch

from llmcourse.finetune.task import Example, reading_examples
from llmcourse.finetune.training import extend_vocabulary, finetune, mean_answer_loss, story_loss
from llmcourse.gpt import GPT

#: The World the readers learn from: other entities (seed 1) than the chapters' ``world(seed=0)``.
READER_WORLD = dict(seed=1, n_people=1800, n_towns=700, n_shops=1400)
#: Every character a World may write: a reader knows them all, whatever the seed.
WORLD_CHARACTERS = string.ascii_letters + string.digits + " ,.'?:-\n"


def reading_task(*, distractors: int = 1, max_chars: int = 128) -> tuple[list[Example], list[Example]]:
    """The reading-comprehension task of Chapters 11–13: ``(train, held_out)`` examples.

    ``train``: :func:`~llmcourse.finetune.task.reading_examples` of ``world(**READER_WORLD)``;
    ``held_out``: those of ``world(seed=0)``, the World the chapters test on, leaving out the few
    entities whose name also names an entity of the training world (the two worlds draw names from
    the same pools of syllables), so that every held-out question is about an entity never trained on.

    Chapter 11 — Fine-tuning and transfer learning.
    """
    from llmcourse.data import world

    train_world, test_world = world(**READER_WORLD), world(seed=0)
    seen = {d.title for d in train_world.documents}
    doc_of = {q.id: q.doc_id for q in test_world.qa}
    held_out = [e for e in reading_examples(test_world, distractors=distractors, max_chars=max_chars)
                if test_world.document(doc_of[e.id]).title not in seen]
    return reading_examples(train_world, distractors=distractors, max_chars=max_chars), held_out


def train_reader(training: dict, *, progress: bool = True) -> tuple[GPT, object, dict, dict]:
    """Train a reader as the zoo recipe ``training`` says; returns ``(model, tokenizer, info, history)``.

    ``training["init"]`` is ``"gpt-stories"`` (at recipe version ``training["init_version"]``) or
    ``"random"`` (the same architecture and vocabulary, weights drawn with ``training["seed"]``).
    The examples are :func:`~llmcourse.finetune.task.reading_examples` of
    ``world(**training["world"])`` with ``training["distractors"]`` and ``training["max_chars"]``;
    ``training["curriculum"]``, ``((distractors, steps), ...)``, puts phases of the same questions
    with other passages first (``((0, 2500),)``: 2,500 steps on the gold sentence alone).
    :func:`~llmcourse.finetune.training.finetune` trains on them with the recipe's ``steps`` (every
    phase's included), ``batch_size``, ``sort_window``, ``lr``, ``weight_decay``, ``grad_clip`` and
    ``seed``. Every
    ``training["eval_every"]`` steps the history records the training loss (the mean of the steps
    since the last record), the answer loss on ``training["val_questions"]`` questions of
    ``world(seed=0)`` (held-out entities, ``val``) and the loss on held-out stories (``story``:
    :func:`~llmcourse.finetune.training.story_loss` on ``corpus_text(**training["stories"])`` over
    ``training["story_batches"]`` batches), to watch the old skill fade as the new one grows.

    Chapter 11 — Fine-tuning and transfer learning.
    """
    from llmcourse.data import corpus_text, world
    from llmcourse.zoo import RECIPES, load_pretrained

    cfg = training
    base_recipe = RECIPES["gpt-stories"]
    if cfg["init_version"] != base_recipe.version:
        raise ValueError(f"the reader recipe was written for gpt-stories version {cfg['init_version']}, the zoo's is "
                         f"{base_recipe.version}: give the reader recipes init_version={base_recipe.version} and a "
                         "new version")
    base = load_pretrained("gpt-stories", progress=progress)
    model, tokenizer = extend_vocabulary(base.model, base.tokenizer, WORLD_CHARACTERS)
    if cfg["init"] == "random":
        torch.manual_seed(cfg["seed"])
        model = GPT(model.config)
    elif cfg["init"] != "gpt-stories":
        raise ValueError(f"init must be 'gpt-stories' or 'random', got {cfg['init']!r}")
    train_world = world(**cfg["world"])
    examples = reading_examples(train_world, distractors=cfg["distractors"], max_chars=cfg["max_chars"])
    curriculum = [(reading_examples(train_world, distractors=d, max_chars=cfg["max_chars"]), n)
                  for d, n in cfg.get("curriculum", ())]
    held_out = reading_examples(world(seed=0), distractors=cfg["distractors"],
                                max_chars=cfg["max_chars"])[:cfg["val_questions"]]
    stories = corpus_text(**cfg["stories"])

    def old_skill() -> float:
        return story_loss(model, tokenizer, stories, n_batches=cfg["story_batches"])

    history = dict(steps=[0], train=[mean_answer_loss(model, tokenizer, examples[:cfg["val_questions"]])],
                   val=[mean_answer_loss(model, tokenizer, held_out)], story=[old_skill()], seconds=[0.0])
    start, recent = time.perf_counter(), []

    def record(step: int, loss: float) -> None:
        recent.append(loss)
        if (step + 1) % cfg["eval_every"] == 0 or step + 1 == cfg["steps"]:
            history["steps"].append(step + 1)
            history["train"].append(sum(recent) / len(recent))
            history["val"].append(mean_answer_loss(model, tokenizer, held_out))
            history["story"].append(old_skill())
            history["seconds"].append(time.perf_counter() - start)
            recent.clear()
            model.train()

    run = finetune(model, tokenizer, examples, steps=cfg["steps"], batch_size=cfg["batch_size"], lr=cfg["lr"],
                   weight_decay=cfg["weight_decay"], grad_clip=cfg["grad_clip"], seed=cfg["seed"],
                   progress=progress, on_step=record, curriculum=curriculum, sort_window=cfg.get("sort_window", 0))
    info = dict(training=dict(cfg), steps=cfg["steps"], seconds=round(run.seconds, 1),
                cpu_seconds=round(run.cpu_seconds, 1), train_loss=history["train"][-1],
                val_loss=history["val"][-1], story_loss=history["story"][-1], corpus="world", examples=len(examples),
                parameters=sum(p.numel() for p in model.parameters()))
    return model, tokenizer, info, history
