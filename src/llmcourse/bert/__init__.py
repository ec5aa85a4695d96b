"""BERT: an encoder that reads both sides of every token (Chapter 09 — BERT, the encoder).

The package holds what Chapter 09 builds, one module per idea (read them in this order):

1. :mod:`.model` — :class:`BertConfig` and :class:`BERT` (token + segment + position embeddings,
   Chapter 06's post-LN blocks without the causal mask, a padding mask), :func:`cls_pool` and
   :func:`mean_pool`, the masked-language-model head :class:`MLMHead` (tied to the token
   embeddings) with :class:`BertForMLM`, and :class:`BertClassifier` for fine-tuning;
2. :mod:`.pretraining` — :func:`mask_tokens` (15 % chosen; 80 % ``[MASK]``, 10 % random, 10 %
   unchanged; labels ``-100`` elsewhere), the stories as BERT reads them
   (:func:`story_tokenizer`, :func:`sentence_pairs`, :func:`encode_texts`), :func:`pretrain`,
   :func:`finetune` and :func:`accuracy`; the zoo's ``bert-stories`` is :func:`train_story_bert`;
3. :mod:`.truth` — the story generator's exact distribution of a masked word, and the model's;
4. :mod:`.minilm` — all-MiniLM-L6-v2 from its PyPI package, checked, loaded into :class:`BERT`
   and tokenized by Chapter 01's WordPiece: the same sentence embeddings as sentence-transformers.

Import from here (``from llmcourse.bert import BERT, mask_tokens``).

>>> import torch
>>> bert = BERT(BertConfig(vocab_size=20, max_len=8, n_layers=1, n_heads=2, d_model=8))
>>> mean_pool(bert(torch.zeros(2, 5, dtype=torch.long), lengths=torch.tensor([5, 3])), torch.tensor([5, 3])).shape
torch.Size([2, 8])
"""

from llmcourse.bert.model import BERT, BertClassifier, BertConfig, BertForMLM, MLMHead, cls_pool, mean_pool
from llmcourse.bert.pretraining import (IGNORE, SPECIALS, Batch, PretrainHistory, accuracy, encode_texts, finetune,
                                        mask_tokens, mlm_evaluate, pretrain, sentence_pairs, story_tokenizer,
                                        train_story_bert)

__all__ = ["BERT", "BertClassifier", "BertConfig", "BertForMLM", "MLMHead", "cls_pool", "mean_pool", "IGNORE",
           "SPECIALS", "Batch", "PretrainHistory", "accuracy", "encode_texts", "finetune", "mask_tokens",
           "mlm_evaluate", "pretrain", "sentence_pairs", "story_tokenizer", "train_story_bert"]
