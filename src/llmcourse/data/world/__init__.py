"""The World: a seeded knowledge base of invented people, towns and shops, as documents with questions, in versions.

Every name and many values are invented (``Brandel Kessomere``, a pet ``mossnewt`` called
``Tollo``, the River ``Ombrel``) and every fact is drawn at random, so no model can know or guess
one before reading it. Each entity has one short document; each question's answer (a name, a
number or a word) occurs in its gold document and in no other. ``world(version=2)`` is the same
world with a fraction of its facts changed, every other sentence identical.

>>> from llmcourse.data import changed_facts, world
>>> w = world(seed=0)
>>> len(w.documents), len(w.qa)
(500, 1850)
>>> for sentence in w.document("person-0003").sentences:
...     print(sentence)
Skoantana Paeldiss is a resident of Sneintby.
By trade, Skoantana is a quillbinder.
Of all colours, he likes hollyjade best.
Skoantana's birth year is 1965.
He has a dunetapir called Peickbo.
>>> q = next(q for q in w.qa if q.id == "person-0003/pet_name/0")
>>> q.question, q.answer, q.doc_id, q.sentence
("What is Skoantana Paeldiss's pet called?", 'Peickbo', 'person-0003', 4)
>>> v2 = world(seed=0, version=2)
>>> v2.document("person-0003").sentences[4]
'He has a dunetapir called Sairvy.'
>>> [(c.attribute, c.old, c.new) for c in changed_facts(w, v2) if c.entity == "person-0003"]
[('pet_name', 'Peickbo', 'Sairvy')]

* :mod:`~llmcourse.data.world.build` — :func:`world`, :class:`World`, :class:`Document`,
  :class:`QA`, :class:`Fact`, :func:`changed_facts`, :func:`split_qa`
* :mod:`~llmcourse.data.world.facts` — :data:`ATTRIBUTES`; how facts are drawn and versions change them
* :mod:`~llmcourse.data.world.render` — the sentence and question templates
* :mod:`~llmcourse.data.world.pools` — the invented words

Chapter 11 — finetuning fine-tunes on it (reading comprehension and closed-book recall);
Chapter 13 — rag retrieves from it, and shows what happens when the facts change.
"""

from llmcourse.data.world.build import QA, Change, Document, Fact, World, WorldConfig, changed_facts, split_qa, world
from llmcourse.data.world.facts import ATTRIBUTES, Attribute

__all__ = ["ATTRIBUTES", "QA", "Attribute", "Change", "Document", "Fact", "World", "WorldConfig", "changed_facts",
           "split_qa", "world"]
