"""Fine-tuning a pretrained GPT on a new format (Chapter 11 — Fine-tuning and transfer learning).

Read in the order the chapter builds it:

1. :mod:`~llmcourse.finetune.task` — the task as text: :class:`Example` (a prompt, then the answer
   and :data:`END`), reading comprehension on the World (:func:`reading_prompt`,
   :func:`reading_examples`: the question, a passage holding the answer, the answer copied from
   it), closed-book questions (:func:`closed_book_examples`), and scoring (:func:`generate_answers`
   by greedy decoding, :func:`exact_match`);
2. :mod:`~llmcourse.finetune.training` — new characters for a character-level model
   (:func:`extend_vocabulary`), loss on the answer only (:func:`encode_examples` with labels of
   ``-100`` on the prompt and the padding, :func:`answer_loss`), :func:`freeze` by name,
   :func:`finetune_step` and :func:`finetune`, and what is left of the old skill (:func:`story_loss`);
3. :mod:`~llmcourse.finetune.reader` — :func:`reading_task` (the training and held-out examples
   Chapters 11–13 share) and :func:`train_reader`, the zoo's ``gpt-reader`` (and its
   from-scratch control ``gpt-reader-scratch``).

Chapter 12 (LoRA) trains on the same reading-comprehension examples; Chapter 13 (RAG) gives
``load_pretrained("gpt-reader")`` the passages it retrieves, through :func:`reading_prompt`.
"""

from llmcourse.finetune.reader import READER_WORLD, WORLD_CHARACTERS, reading_task, train_reader
from llmcourse.finetune.task import (END, Example, closed_book_examples, closed_book_prompt, exact_match,
                                     generate_answers, reading_examples, reading_prompt)
from llmcourse.finetune.training import (IGNORE, FinetuneHistory, answer_accuracy, answer_loss, encode_examples,
                                         extend_vocabulary, finetune, finetune_step, freeze, mean_answer_loss,
                                         story_loss, trainable_parameters)

__all__ = ["END", "IGNORE", "READER_WORLD", "WORLD_CHARACTERS", "Example", "FinetuneHistory", "answer_accuracy",
           "answer_loss", "closed_book_examples", "closed_book_prompt", "encode_examples", "exact_match",
           "extend_vocabulary", "finetune", "finetune_step", "freeze", "generate_answers", "mean_answer_loss",
           "reading_examples", "reading_prompt", "reading_task", "story_loss", "train_reader", "trainable_parameters"]
