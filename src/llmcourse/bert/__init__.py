"""BERT (Chapter 09 — BERT, the encoder)."""
from llmcourse.bert.model import BERT, BertClassifier, BertConfig, BertForMLM, MLMHead, cls_pool, mean_pool
from llmcourse.bert.pretraining import (IGNORE, SPECIALS, Batch, PretrainHistory, accuracy, encode_texts, finetune,
                                        mask_tokens, mlm_evaluate, pretrain, split_in_two, story_config, story_tokenizer,
                                        train_story_bert)
