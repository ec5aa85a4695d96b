"""Documents cut into chunks, and which chunk holds a question's answer (Chapter 13 — Retrieval-augmented generation).

A retriever does not return documents but *chunks*: pieces short enough to put in a prompt.
Read top to bottom:

1. :func:`fixed_windows` — windows of ``size`` characters, each overlapping the last by ``overlap``;
2. :func:`sentence_spans` — where each sentence of a World document starts and ends;
3. :class:`Chunk` and :func:`chunk_documents` — every document cut one way (``"sentences"`` or
   ``"fixed"``), each chunk knowing its document, its offsets and the document's title;
4. :func:`gold_chunks` — for a question, the chunks that hold its whole answer (the *gold
   passages*: the World says exactly where every answer is).

>>> from llmcourse.data import world
>>> w = world(seed=0)
>>> chunks = chunk_documents(w.documents, "sentences")
>>> q = next(q for q in w.qa if q.id == "person-0003/pet_name/0")
>>> [gold] = gold_chunks([q], chunks)
>>> [chunks[i].text for i in gold]
['He has a dunetapir called Peickbo.']
>>> chunks[gold[0]].titled
'Skoantana Paeldiss: He has a dunetapir called Peickbo.'
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from llmcourse._checks import int_at_least, one_of, positive_int

__all__ = ["Chunk", "fixed_windows", "sentence_spans", "chunk_documents", "gold_chunks"]


def fixed_windows(length: int, size: int, overlap: int = 0) -> list[tuple[int, int]]:
    """``(start, end)`` of windows of ``size`` characters over a text of ``length`` characters.

    Each window starts ``size - overlap`` characters after the last one, so two neighbours share
    ``overlap`` characters; the last window ends at ``length`` (it may be shorter), and no window
    starts after the previous one already reached the end. A text of length 0 has no window.

    >>> fixed_windows(10, 4, overlap=1)
    [(0, 4), (3, 7), (6, 10)]
    >>> fixed_windows(10, 4)
    [(0, 4), (4, 8), (8, 10)]

    Chapter 13 — Retrieval-augmented generation.
    """
    int_at_least("length", length, 0)
    positive_int("size", size)
    int_at_least("overlap", overlap, 0)
    if overlap >= size:
        raise ValueError(f"overlap ({overlap}) must be smaller than size ({size}), or the windows never advance")
    step, out, start = size - overlap, [], 0
    while start < length:
        out.append((start, min(start + size, length)))
        if start + size >= length:
            break
        start += step
    return out


def sentence_spans(document) -> list[tuple[int, int]]:
    """``(start, end)`` of each sentence of a World document in its ``text`` (sentences joined by spaces).

    >>> from llmcourse.data import world
    >>> d = world(seed=0).document("person-0003")
    >>> start, end = sentence_spans(d)[1]
    >>> d.text[start:end]
    'By trade, Skoantana is a quillbinder.'

    Chapter 13 — Retrieval-augmented generation.
    """
    spans, start = [], 0
    for sentence in document.sentences:
        spans.append((start, start + len(sentence)))
        start += len(sentence) + 1
    return spans


@dataclass(frozen=True)
class Chunk:
    """A piece of one document: ``text`` is ``document.text[start:end]``.

    ``id`` is ``"<doc_id>#<n>"`` (its place in the document), ``title`` the document's (the
    entity's name), ``kind`` and ``version`` the document's. ``titled`` is the text with the title
    in front, ``"Title: text"``: what a retriever may index, so that a sentence that says *She*
    can still be found by the name.

    Chapter 13 — Retrieval-augmented generation.
    """

    id: str
    doc_id: str
    title: str
    text: str
    start: int
    end: int
    kind: str = ""
    version: int = 1

    @property
    def titled(self) -> str:
        return f"{self.title}: {self.text}"


def chunk_documents(documents: Sequence, how: str = "sentences", *, size: int = 100,
                    overlap: int = 20) -> list[Chunk]:
    """Every document of ``documents`` (World documents) cut into chunks, in order.

    ``how="sentences"``: one chunk per sentence; ``how="fixed"``: :func:`fixed_windows` of
    ``size`` characters overlapping by ``overlap``, wherever they fall (a window may cut a word).

    Chapter 13 — Retrieval-augmented generation.
    """
    one_of("how", how, ("sentences", "fixed"))
    out = []
    for d in documents:
        spans = sentence_spans(d) if how == "sentences" else fixed_windows(len(d.text), size, overlap)
        out += [Chunk(f"{d.id}#{n}", d.id, d.title, d.text[a:b], a, b, d.kind, d.version)
                for n, (a, b) in enumerate(spans)]
    return out


def gold_chunks(questions: Sequence, chunks: Sequence[Chunk]) -> list[list[int]]:
    """For each question (World ``QA``), the indices in ``chunks`` of the chunks holding its whole answer.

    The answer is at ``qa.answer_start`` in its gold document ``qa.doc_id``; a chunk holds it if
    it is a chunk of that document that starts at or before the answer and ends at or after its
    end. An answer cut by every chunk boundary has no gold chunk (its list is empty).

    Chapter 13 — Retrieval-augmented generation.
    """
    where = defaultdict(list)
    for i, c in enumerate(chunks):
        where[c.doc_id].append(i)
    out = []
    for q in questions:
        start, end = q.answer_start, q.answer_start + len(q.answer)
        out.append([i for i in where.get(q.doc_id, ()) if chunks[i].start <= start and chunks[i].end >= end])
    return out
