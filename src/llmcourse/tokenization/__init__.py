"""Tokenizers, from characters to byte-level BPE and WordPiece (Chapter 01 — tokenization).

A language model reads integers, not text. A *tokenizer (토크나이저)* turns text into a list
of ids and back. This package builds the tokenizers of Chapter 01, each one a small step on
the last, one module each (read them in this order):

1. :mod:`.base` — :func:`get_pair_counts` and :func:`merge`, the two pure helpers behind BPE,
   and :class:`Tokenizer`, what every tokenizer offers (``vocab_size``, ``encode``,
   ``decode``) with the pieces they share.
2. :mod:`.simple` — :class:`CharTokenizer`, one id per character (tiny vocabulary, long
   sequences), and :class:`WordTokenizer`, one id per word (huge vocabulary, ``[UNK]`` for
   the rest).
3. :mod:`.bpe_train` and :mod:`.bpe` — :class:`BPETokenizer`, byte-level *byte pair encoding
   (바이트 쌍 인코딩)*: start from the 256 bytes and learn merges of frequent neighbours; any
   text round-trips exactly. A regex pre-split (:data:`GPT2_SPLIT_PATTERN`,
   :data:`GPT4_SPLIT_PATTERN`) keeps merges inside words, and special tokens such as
   ``<|endoftext|>`` get ids of their own.
4. :mod:`.wordpiece` — :class:`WordPieceTokenizer`, BERT's tokenizer: normalise, split, then
   greedy longest-match-first with ``##`` continuation pieces; gives the same ids as the
   ``transformers`` BERT tokenizer on the all-MiniLM-L6-v2 vocabulary
   (:func:`minilm_vocab_path`).

Everything runs offline and is deterministic. Import from here
(``from llmcourse.tokenization import BPETokenizer``); the modules are how the code is read.
"""

from __future__ import annotations

import inspect as _inspect

# The private names are used by the book (``show_source(tokenization._bpe)``) and the tests.
from llmcourse.tokenization.base import Pair, T, Tokenizer, _check_ids, _lookup, get_pair_counts, merge
from llmcourse.tokenization.bpe import (
    _ALLOWED_SPECIAL,
    _FILE_FORMAT,
    _FILE_VERSION,
    _LONG_CHUNK,
    _NEVER,
    GPT2_SPLIT_PATTERN,
    GPT4_SPLIT_PATTERN,
    BPETokenizer,
    _bpe,
    _bpe_heap,
    _bytes_to_unicode,
)
from llmcourse.tokenization.bpe_train import _steps, _train_merges, _train_merges_simple
from llmcourse.tokenization.simple import _CLOSING, _OPENING, CharTokenizer, WordTokenizer
from llmcourse.tokenization.wordpiece import (
    _BERT_SPECIALS,
    WordPieceTokenizer,
    _is_cjk,
    _is_control,
    _is_punctuation,
    minilm_vocab_path,
)

__all__ = [
    "GPT2_SPLIT_PATTERN",
    "GPT4_SPLIT_PATTERN",
    "Tokenizer",
    "get_pair_counts",
    "merge",
    "CharTokenizer",
    "WordTokenizer",
    "BPETokenizer",
    "WordPieceTokenizer",
    "minilm_vocab_path",
]

# ``doctest.testmod(llmcourse.tokenization)`` only reads objects defined in this file; name the
# modules' functions and classes here so that it runs their examples too.
__test__ = {
    name: obj
    for name, obj in sorted(globals().items())
    if (_inspect.isfunction(obj) or _inspect.isclass(obj)) and obj.__module__.startswith(f"{__name__}.")
}
