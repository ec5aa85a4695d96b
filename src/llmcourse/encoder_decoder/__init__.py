"""The encoder–decoder transformer, and an RNN without attention beside it (Chapter 10 — The encoder–decoder).

A GPT continues one text; an *encoder–decoder (인코더–디코더)* reads one sequence and writes
another — a translation, a summary, an answer. This package builds the original transformer's
shape, read in this order:

1. :mod:`.model` — :func:`shift_right` (teacher forcing: the decoder reads ``<bos>`` and the target
   without its last token), :class:`CrossAttention` (queries from the decoder, keys and values from
   the encoder's output, the *memory*, with the source's padding hidden), :class:`DecoderBlock`
   (causal self-attention, cross-attention, feed-forward; equal to
   ``torch.nn.TransformerDecoderLayer(norm_first=True)`` after :meth:`DecoderBlock.load_torch`),
   :class:`Seq2SeqConfig` and :class:`EncoderDecoder` (Chapter 06's blocks as the encoder);
2. :mod:`.baseline` — :class:`RNNSeq2Seq`, a GRU encoder–decoder *without* attention: the
   encoder's final state is all the decoder learns of the source;
3. :mod:`.learn` — :func:`sequence_loss` and :func:`train_seq2seq`, teacher-forced training;
4. :mod:`.inference` — :class:`Conditioned` (a model with its source fixed, in Chapter 08's decoding
   protocol), :func:`translate` (greedy with :func:`~llmcourse.decoding.generate`, or
   :func:`~llmcourse.decoding.beam_search`) and :func:`score_translations` (exact match, BLEU, chrF).

Both models share one protocol: ``model(src (B, S), tgt_in (B, T))`` → logits ``(B, T, V)``,
``model.encode(src)`` → ``(memory, memory_mask)``, ``model.decode(tgt_in, memory, memory_mask,
caches=None)`` → logits, and ``new_caches()`` for incremental decoding. The data are
:mod:`llmcourse.data.translation`'s English → Korean sentence pairs.

>>> import torch
>>> model = EncoderDecoder(Seq2SeqConfig(src_vocab=10, tgt_vocab=12, d_model=16, n_heads=2))
>>> len(translate(model, torch.tensor([[4, 5, 6, 2]]), max_len=5)[0]) <= 5
True
"""

from __future__ import annotations

from llmcourse.encoder_decoder.baseline import RNNSeq2Seq
from llmcourse.encoder_decoder.inference import Conditioned, Scores, score_translations, translate
from llmcourse.encoder_decoder.learn import sequence_loss, train_seq2seq
from llmcourse.encoder_decoder.model import CrossAttention, DecoderBlock, EncoderDecoder, Seq2SeqConfig, shift_right

__all__ = ["Conditioned", "CrossAttention", "DecoderBlock", "EncoderDecoder", "RNNSeq2Seq", "Scores", "Seq2SeqConfig",
           "score_translations", "sequence_loss", "shift_right", "train_seq2seq", "translate"]
