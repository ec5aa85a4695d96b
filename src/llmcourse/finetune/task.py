"""The downstream task as text: prompts, answers, and how they are scored (Chapter 11).

* :class:`Example` — a prompt and the answer the model must write after it, then :data:`END`;
* :func:`reading_prompt`, :func:`reading_examples` — reading comprehension on the World: a
  question, a passage (the gold sentence and maybe another sentence of the same document), the
  answer copied from it; :func:`closed_book_prompt`, :func:`closed_book_examples` — the question
  alone, the answer to be remembered;
* :func:`generate_answers` (greedy, up to :data:`END`) and :func:`exact_match`.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from llmcourse import decoding
from llmcourse._checks import eval_mode, int_at_least, positive_int

END = "\n"           # an answer ends with a new line: generation stops there


@dataclass(frozen=True)
class Example:
    """One fine-tuning example: the model reads ``prompt`` and must write ``answer`` then :data:`END`.

    ``id`` names its question (``QA.id`` of the World). ``text`` is what the model is trained on.

    >>> Example("q", "Q: Who?\\nA: ", "Tollo").text
    'Q: Who?\\nA: Tollo\\n'

    Chapter 11 — Fine-tuning and transfer learning.
    """

    id: str
    prompt: str
    answer: str

    @property
    def text(self) -> str:
        return self.prompt + self.answer + END


def reading_prompt(passage: str, question: str) -> str:
    """The reading-comprehension prompt: the question, the passage, then ``"A: "``.

    The question comes first: a causal model reads left to right, so it meets the passage already
    knowing what it looks for.

    >>> print(reading_prompt("Tollo is his pet newt.", "What is his pet called?") + "Tollo")
    Q: What is his pet called?
    Tollo is his pet newt.
    A: Tollo

    Chapter 11 — Fine-tuning and transfer learning.
    """
    return f"Q: {question}\n{passage}\nA: "


def closed_book_prompt(question: str) -> str:
    """The closed-book prompt: the question alone (``"Q: …\\nA: "``): the answer must be remembered.

    Chapter 11 — Fine-tuning and transfer learning.
    """
    return f"Q: {question}\nA: "


def reading_examples(world, qa: Sequence | None = None, *, max_chars: int = 128, distractors: int = 1,
                     seed: int = 0) -> list[Example]:
    """Reading-comprehension examples for questions ``qa`` of ``world`` (default: all of them).

    The passage is the question's gold sentence plus up to ``distractors`` other sentences of the
    same document (chosen at random with ``seed`` among those that fit), in document order, so the
    model must find the sentence the question is about and copy the answer from it. The whole
    example (``Example.text``) holds at most ``max_chars`` characters — the context of the zoo's
    ``gpt-stories`` is 128 — and a question whose gold sentence alone does not fit is left out.

    >>> from llmcourse.data import world
    >>> w = world(seed=0)
    >>> print(reading_examples(w, w.qa[:1])[0].text, end="")
    Q: On which river does Sholvthorpe lie?
    Sholvthorpe lies on the River Snoanul. It was founded by Prennia Quaildock.
    A: Snoanul

    Chapter 11 — Fine-tuning and transfer learning.
    """
    positive_int("max_chars", max_chars)
    int_at_least("distractors", distractors, 0)
    out = []
    for q in world.qa if qa is None else qa:
        sentences = world.document(q.doc_id).sentences
        room = max_chars - len(Example(q.id, reading_prompt(sentences[q.sentence], q.question), q.answer).text)
        if room < 0:
            continue
        others = [i for i in range(len(sentences)) if i != q.sentence]
        random.Random(f"{seed}/{q.id}").shuffle(others)
        chosen = [q.sentence]
        for i in others:
            if len(chosen) > distractors:
                break
            if len(sentences[i]) + 1 <= room:
                chosen.append(i)
                room -= len(sentences[i]) + 1
        passage = " ".join(sentences[i] for i in sorted(chosen))
        out.append(Example(q.id, reading_prompt(passage, q.question), q.answer))
    return out


def closed_book_examples(qa: Sequence) -> list[Example]:
    """Closed-book examples: each question of ``qa`` alone, its answer to be remembered.

    Chapter 11 — Fine-tuning and transfer learning.
    """
    return [Example(q.id, closed_book_prompt(q.question), q.answer) for q in qa]


@torch.no_grad()
def generate_answers(model: torch.nn.Module, tokenizer, prompts: Sequence[str], *, max_new_tokens: int = 24,
                     batch_size: int = 64) -> list[str]:
    """The model's greedy answer to every prompt: the text it writes up to :data:`END`.

    :func:`llmcourse.decoding.generate` at temperature 0 with ``stop_token`` = :data:`END`; prompts
    of the same length run as one batch (a GPT has no padding mask, so rows of a batch must have
    equal length). An answer that does not end within ``max_new_tokens`` is returned as written.

    Chapter 11 — Fine-tuning and transfer learning.
    """
    positive_int("max_new_tokens", max_new_tokens)
    positive_int("batch_size", batch_size)
    stop = tokenizer.encode(END)[0]
    by_length: dict[int, list[int]] = defaultdict(list)
    encoded = [tokenizer.encode(p) for p in prompts]
    for i, ids in enumerate(encoded):
        by_length[len(ids)].append(i)
    answers = [""] * len(prompts)
    with eval_mode(model):
        for length, rows in by_length.items():
            for first in range(0, len(rows), batch_size):
                chunk = rows[first:first + batch_size]
                out = decoding.generate(model, torch.tensor([encoded[i] for i in chunk]), max_new_tokens,
                                        temperature=0, stop_token=stop)
                for i, new in zip(chunk, out[:, length:].tolist()):
                    text = tokenizer.decode(new)
                    answers[i] = text.split(END)[0]
    return answers


def exact_match(model: torch.nn.Module, tokenizer, examples: Sequence[Example], *,
                max_new_tokens: int = 24) -> float:
    """The fraction of ``examples`` whose greedy answer (:func:`generate_answers`) is exactly the answer.

    Chapter 11 — Fine-tuning and transfer learning.
    """
    if not examples:
        raise ValueError("exact_match needs at least one example")
    got = generate_answers(model, tokenizer, [e.prompt for e in examples], max_new_tokens=max_new_tokens)
    return sum(g == e.answer for g, e in zip(got, examples)) / len(examples)
