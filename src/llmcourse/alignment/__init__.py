"""Learning from preferences: reward models, RLHF and DPO, measured exactly (Chapter 14 — Learning from preferences).

* :mod:`~llmcourse.alignment.task` — the enumerable task: a story's last line, one of 32 endings
  written through a trie (:data:`ENDINGS`, :class:`EndingTask`, :func:`story_prompts`), the
  generator's exact distribution over them, every ending's exact log-probability under a model
  (:func:`ending_logprobs`) and constrained sampling (:func:`sample_endings`);
* :mod:`~llmcourse.alignment.objectives` — :func:`sequence_logprob`, :func:`bradley_terry_loss`,
  :func:`dpo_loss`, and the exact quantities over the endings: :func:`kl_divergence`,
  :func:`optimal_policy` (``π* ∝ π_ref · exp(r / β)``), :func:`best_of_n`, :func:`win_rate`;
* :mod:`~llmcourse.alignment.training` — the loops: :func:`supervised_finetune`, :func:`annotate`,
  :class:`RewardModel` and :func:`train_reward_model`, :func:`train_reinforce`, :func:`pair_logprobs`
  and :func:`train_dpo`.

>>> from llmcourse.alignment import ENDINGS
>>> len(ENDINGS), ENDINGS[0]
(32, Ending(text='went to sleep with a big smile.', mood='happy'))
"""

from llmcourse.alignment.objectives import (best_of_n, bradley_terry_loss, dpo_loss, expectation, kl_divergence,
                                            optimal_policy, sequence_logprob, win_rate)
from llmcourse.alignment.task import (ENDINGS, MOOD_REWARD, TAILS, Ending, EndingTask, Prompt, ending_logprobs,
                                      generator_ending_logprobs, sample_endings, story_prompts)
from llmcourse.alignment.training import (Pairs, RewardModel, annotate, pair_logprobs, policy_logprob,
                                          supervised_finetune, train_dpo, train_reinforce, train_reward_model)

__all__ = ["ENDINGS", "MOOD_REWARD", "TAILS", "Ending", "EndingTask", "Prompt", "ending_logprobs",
           "generator_ending_logprobs", "sample_endings", "story_prompts",
           "sequence_logprob", "bradley_terry_loss", "dpo_loss", "expectation", "kl_divergence", "optimal_policy",
           "best_of_n", "win_rate",
           "Pairs", "RewardModel", "annotate", "pair_logprobs", "policy_logprob", "supervised_finetune", "train_dpo",
           "train_reinforce", "train_reward_model"]
