"""Prompts from retrieved passages, answers from a reader, and the passage each answer cites (Chapter 13 — Retrieval-augmented generation).

The last step of RAG: put the best passages into the reader's prompt — as many as its context
holds, best first — let it answer, and say which passage the answer came from. Read top to bottom:

1. :data:`READER` and :func:`load_reader` — the zoo's reading-comprehension model (Chapter 11);
2. :class:`Prompt` and :func:`build_prompt` — passages added in rank order while the prompt
   stays within a budget of characters (the reader is a character-level model: one character is
   one token), each passage remembered with its source and place in the prompt;
3. :func:`answer` — the reader's greedy answers (Chapter 11's
   :func:`~llmcourse.finetune.generate_answers`);
4. :func:`cite` — the passage of the prompt that holds the answer, word for word, or ``None``.

>>> p = build_prompt("Who owns the mill?", [("mill#2", "Ada Brun owns the mill."), ("mill#0", "It is old.")],
...                  budget=60)
>>> print(p.text + "Ada Brun")
Q: Who owns the mill?
Ada Brun owns the mill. It is old.
A: Ada Brun
>>> p.sources, cite("Ada Brun", p), cite("Tollo", p)
(('mill#2', 'mill#0'), 'mill#2', None)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from llmcourse._checks import int_at_least

__all__ = ["READER", "load_reader", "Prompt", "build_prompt", "answer", "cite"]

#: The zoo model that reads the passages (Chapter 11's reader; change this one line to use another).
READER = "gpt-reader"


def load_reader(name: str = READER, **kwargs):
    """The zoo's reader (:func:`llmcourse.zoo.load_pretrained`): ``.model``, ``.tokenizer``, ``.info``.

    Chapter 13 — Retrieval-augmented generation.
    """
    from llmcourse.zoo import load_pretrained

    return load_pretrained(name, **kwargs)


@dataclass(frozen=True)
class Prompt:
    """A reader's prompt: ``text``, the ``sources`` of the passages in it (chunk ids, in order) and
    each passage's ``spans`` ``(start, end)`` in ``text``.

    Chapter 13 — Retrieval-augmented generation.
    """

    text: str
    sources: tuple[str, ...]
    spans: tuple[tuple[int, int], ...]

    def passage(self, i: int) -> str:
        """The text of the ``i``-th passage in the prompt."""
        start, end = self.spans[i]
        return self.text[start:end]


def build_prompt(question: str, passages: Sequence[tuple[str, str]], budget: int) -> Prompt:
    """The reading-comprehension prompt ``Q: <question>\\n<passages>\\nA: `` within ``budget`` characters.

    ``passages`` are ``(source, text)`` pairs, best first. They are taken in that order, joined by
    spaces, as long as the whole prompt stays within ``budget`` characters; the first passage that
    would overflow it stops the filling (a later, shorter one is not tried: rank order is kept). If
    even the first does not fit, the prompt holds no passage. The format is Chapter 11's
    :func:`~llmcourse.finetune.reading_prompt`.

    Chapter 13 — Retrieval-augmented generation.
    """
    int_at_least("budget", budget, 0)
    head, tail = f"Q: {question}\n", "\nA: "
    body, spans, sources = "", [], []
    for source, text in passages:
        joined = body + (" " if body else "") + text
        if len(head) + len(joined) + len(tail) > budget:
            break
        start = len(head) + len(joined) - len(text)
        spans.append((start, start + len(text)))
        sources.append(source)
        body = joined
    return Prompt(head + body + tail, tuple(sources), tuple(spans))


def answer(reader, prompts: Sequence[Prompt | str], *, max_new_tokens: int = 24) -> list[str]:
    """The reader's greedy answer to every prompt (``reader``: a zoo model, from :func:`load_reader`).

    Chapter 13 — Retrieval-augmented generation.
    """
    from llmcourse.finetune import generate_answers

    texts = [p.text if isinstance(p, Prompt) else p for p in prompts]
    return generate_answers(reader.model, reader.tokenizer, texts, max_new_tokens=max_new_tokens)


def cite(answer_text: str, prompt: Prompt) -> str | None:
    """The source of the first passage of ``prompt`` that contains ``answer_text`` word for word, or
    ``None`` (an empty answer, or one found in no passage: the reader did not copy it from the prompt).

    Chapter 13 — Retrieval-augmented generation.
    """
    if not answer_text:
        return None
    return next((s for i, s in enumerate(prompt.sources) if answer_text in prompt.passage(i)), None)
