"""The course's data: the story corpus with its exact entropy floor, the World knowledge base, your own text files.

* :mod:`~llmcourse.data.stories` — :func:`generate_stories`, :func:`corpus_text`,
  :class:`StoryConfig` (the recall knob), :class:`Story`; :mod:`~llmcourse.data.probability` —
  :func:`logprob`, :func:`parse_story`, :func:`entropy_floor`
* :mod:`~llmcourse.data.korean` — Korean particles chosen by the final consonant
* :mod:`~llmcourse.data.world` — :func:`world` (invented people, towns and shops as documents with
  questions whose answer is in one document only, in versions where facts change), :func:`changed_facts`,
  :func:`split_qa` (for fine-tuning and retrieval)
* :mod:`~llmcourse.data.files` — :func:`load_text` for any UTF-8 file
* :mod:`~llmcourse.data.grammar` and :mod:`~llmcourse.data.lexicon` — how stories are written

>>> from llmcourse.data import generate_stories, logprob
>>> story = generate_stories(1, seed=0)[0]
>>> logprob(story.text) == story.logprob
True

Used from Chapter 00 — intro onwards; the entropy floor is introduced in Chapter 02 —
language_models.
"""

from llmcourse.data.files import load_text
from llmcourse.data.korean import attach_particle, has_final_consonant, korean_particle
from llmcourse.data.probability import EntropyFloor, entropy_floor, logprob, parse_story
from llmcourse.data.stories import (ARCS, DEFAULT_CONFIG, MOODS, SEPARATOR, Recall, Story, StoryConfig, corpus_text,
                                    generate_stories)
from llmcourse.data.world import (QA, Change, Document, Fact, World, WorldConfig, changed_facts, split_qa,
                                  world)

__all__ = ["ARCS", "DEFAULT_CONFIG", "MOODS", "SEPARATOR", "EntropyFloor", "Recall", "Story", "StoryConfig",
           "attach_particle", "corpus_text", "entropy_floor", "generate_stories", "has_final_consonant",
           "korean_particle", "load_text", "logprob", "parse_story",
           "QA", "Change", "Document", "Fact", "World", "WorldConfig", "changed_facts", "split_qa", "world"]
