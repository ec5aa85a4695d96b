"""Benchmark: our byte-level BPE (llmcourse.tokenization) against the Rust `tokenizers` library.

Chapter 01 — tokenization. Trains a byte-level BPE of ``--vocab-size`` tokens (default 4,096) on
``--mb`` MB of text (default 10) with both, using the same GPT-4 pre-split regex, then encodes the
whole text with both using *our* merges (``BPETokenizer.to_huggingface``), so both sides do the
same work. One thread each: ``--threads`` sets ``RAYON_NUM_THREADS`` before `tokenizers` is
imported (default 1); ours is plain Python and always uses one.

**The text** (:func:`build_corpus`, deterministic): paragraphs of tiny Shakespeare
(``--path``; split at blank lines, cycling through the plays again when they run out) alternate
with generated stories (``generate_stories(1000, seed=0)``, then seed 1, 2, ...): the next piece
comes from whichever side has fewer bytes so far, and the text is cut at ``--mb`` MB. So every
prefix is half plays, half stories, and 1 MB and 10 MB are the same kind of text. Its SHA-256
is printed so runs can be compared. Note what this text is: 10 MB holds the 1.1 MB of plays
about 4.5 times over, and the stories use a small vocabulary, so the number of distinct
pre-split chunks stops growing (about 16,000): BPE's merge learning works on distinct chunks,
so beyond the first MB, corpus size mostly costs pre-splitting and counting.

**What is timed**, in interleaved rounds after one warm-up round (the order of the two sides
alternates from round to round), wall clock and this process's CPU time (which counts every
thread), medians kept:

* training — ours: ``BPETokenizer(pattern).train(text, vocab_size)`` on the whole text;
  `tokenizers`: ``BpeTrainer`` fed either the whole text as one string or the text in *pieces*
  (cut after each newline that is followed by a non-space character: such a cut never falls
  inside a chunk of the GPT-4 pattern, so both feeds give the same counts and merges — checked);
  the faster of the two in each round is "theirs".
* encoding with the same merges — ours: ``encode_ordinary(text)`` with its chunk cache warm
  (filled by the previous call) and cold (cleared first); `tokenizers`: ``encode_batch(pieces)``
  and ``encode_batch_fast(pieces)`` warm, and ``encode_batch_fast(pieces)`` on a freshly built
  object (cold). The goal ratio takes ours cold against the fastest of their three in each round.
  The library's ``encode(text)`` on the whole text is timed once (much slower: it builds one
  ``Encoding`` with offsets for all 10 MB).

**Checks in the run**: our ids on the whole text equal ``to_huggingface().encode(text)`` and the
concatenated ``encode_batch(pieces)``; the merges `tokenizers` learnt, read into a
``BPETokenizer``, give the same tokens as the library on the whole text; both decode back to the
text. The two trainers learn nearly the same merges, not quite in the same order: both take the most
frequent pair, but a tie can go either way (we take the smaller pair of byte values; `tokenizers`
numbers the bytes by their printable spelling, space being 'Ġ', U+0120). The script shows the
first merge where the two differ and checks that the two pairs there have the same count.

    python bench/bpe.py                     # vocab 4,096 on 10 MB, 5 rounds, one thread each
    python bench/bpe.py --scaling           # also: time against vocab (512 → 4,096) and size (1 → 10 MB)
    python bench/bpe.py --threads 2         # tokenizers on 2 threads (ours still one)
    python bench/bpe.py --mb 1 --vocab-size 512 --readable   # also the readable trainer (slow)

Timings on a shared machine are noisy: the 1-minute load average is printed with each figure;
compare the per-round ratios, which are measured back to back.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import regex

REPO = Path(__file__).resolve().parent.parent
DEFAULT_TEXT = REPO.parent / "shared" / "data" / "tinyshakespeare.txt"
STORIES_PER_SEED = 1000
# Cut after a newline followed by a non-space character: no chunk of the GPT-4 pattern crosses
# such a point, so the pieces give the chunks (and ids) of the whole text; the run checks it.
PIECE_CUTS = regex.compile(r"(?<=\n)(?=\S)")
SCALING_VOCABS = (512, 1024, 2048, 4096)
SCALING_MBS = (1, 2, 5, 10)


# --------------------------------------------------------------------------------------
# The text
# --------------------------------------------------------------------------------------
def build_corpus(plays: str, n_bytes: int) -> str:
    """``n_bytes`` of text, half tiny Shakespeare paragraphs, half generated stories (see above)."""
    from llmcourse.data import SEPARATOR, generate_stories

    paragraphs = [p.strip("\n") + "\n\n" for p in plays.split("\n\n") if p.strip()]

    def play_pieces() -> Iterator[str]:
        while True:
            yield from paragraphs

    def story_pieces() -> Iterator[str]:
        seed = 0
        while True:
            for story in generate_stories(STORIES_PER_SEED, seed=seed):
                yield story.text + SEPARATOR
            seed += 1

    sources, sizes, parts = (play_pieces(), story_pieces()), [0, 0], []
    while sum(sizes) < n_bytes:
        side = 0 if sizes[0] <= sizes[1] else 1
        piece = next(sources[side])
        parts.append(piece)
        sizes[side] += len(piece.encode("utf-8"))
    return "".join(parts).encode("utf-8")[:n_bytes].decode("utf-8", errors="ignore")  # a prefix of any longer one


# --------------------------------------------------------------------------------------
# The two sides
# --------------------------------------------------------------------------------------
def hf_train(pieces: list[str], vocab_size: int, pattern: str):
    """Train a `tokenizers` BPE with our pre-split: the regex, then GPT-2's byte spelling."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(pattern), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False
    )
    tok.train_from_iterator(pieces, trainer)
    return tok


def hf_merges_as_bytes(hf) -> tuple[list[tuple[bytes, bytes]], dict[int, bytes]]:
    """The merges a `tokenizers` BPE learnt, as byte pairs in order, and its id → bytes table."""
    from llmcourse.tokenization.bpe import _bytes_to_unicode

    unspell = {c: b for b, c in _bytes_to_unicode().items()}

    def raw(s: str) -> bytes:
        return bytes(unspell[c] for c in s)

    model = json.loads(hf.to_str())["model"]
    pairs = [m.split(" ") if isinstance(m, str) else m for m in model["merges"]]
    return [(raw(a), raw(b)) for a, b in pairs], {i: raw(s) for s, i in model["vocab"].items()}


def ours_from_merges(pairs: list[tuple[bytes, bytes]], pattern: str):
    """A ``BPETokenizer`` that applies the byte-pair merges ``pairs`` in order."""
    from llmcourse.tokenization import BPETokenizer

    tok = BPETokenizer(pattern)
    id_of = {bytes([b]): b for b in range(256)}
    for k, (a, b) in enumerate(pairs):
        tok.merges[id_of[a], id_of[b]] = 256 + k
        id_of.setdefault(a + b, 256 + k)
    tok._rebuild()
    return tok


def pair_counts(chunks: Counter[bytes], merges: dict[tuple[int, int], int]) -> Counter[tuple[int, int]]:
    """How often each pair of ids occurs once ``merges`` are applied to every chunk."""
    from llmcourse.tokenization import _bpe

    counts: Counter[tuple[int, int]] = Counter()
    for chunk, n in chunks.items():
        ids = _bpe(list(chunk), merges)
        for pair in zip(ids, ids[1:]):
            counts[pair] += n
    return counts


# --------------------------------------------------------------------------------------
# Timing
# --------------------------------------------------------------------------------------
def timed(fn: Callable[[], object]) -> tuple[float, float, object]:
    """(wall seconds, process CPU seconds, result) of one call."""
    wall0, cpu0 = time.perf_counter(), time.process_time()
    result = fn()
    return time.perf_counter() - wall0, time.process_time() - cpu0, result


def load() -> float:
    return os.getloadavg()[0]


def rounds(
    tasks: dict[str, Callable[[], object]], n: int, quiet: bool
) -> tuple[dict[str, list[tuple[float, float]]], dict[str, object]]:
    """One untimed warm-up round, then ``n`` timed rounds, the task order reversed every round.

    Returns the (wall, CPU) seconds of each task per round, and each task's last result (kept
    outside the timed calls, so freeing the previous result is never timed).
    """
    names = list(tasks)
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in names}
    last: dict[str, object] = {}
    for r in range(n + 1):
        order = names if r % 2 == 0 else names[::-1]
        line = []
        for name in order:
            last.pop(name, None)
            wall, cpu, last[name] = timed(tasks[name])
            if r > 0:
                times[name].append((wall, cpu))
                line.append(f"{name} {wall:.2f}/{cpu:.2f}")
        if not quiet:
            label = "warm-up" if r == 0 else f"round {r}"
            line = line or ["(untimed)"]
            print(f"  {label:>8} (load {load():.2f}) " + ", ".join(line), flush=True)
    return times, last


def median_ratio(ours: list[tuple[float, float]], theirs: list[tuple[float, float]], k: int) -> float:
    """Median over rounds of ours/theirs (k = 0: wall clock, 1: CPU time)."""
    return statistics.median(a[k] / b[k] for a, b in zip(ours, theirs))


def best_per_round(*series: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Per round, the faster (by wall clock) of several ways of doing the same job."""
    return [min(group, key=lambda t: t[0]) for group in zip(*series)]


def med(series: list[tuple[float, float]], k: int) -> float:
    return statistics.median(t[k] for t in series)


# --------------------------------------------------------------------------------------
# The runs
# --------------------------------------------------------------------------------------
def scaling(plays: str, pattern: str, n_rounds: int, vocab_size: int, mb: float) -> None:
    """Print CPU seconds against vocabulary size (at ``mb``) and text size (at ``vocab_size``)."""
    from llmcourse.tokenization import BPETokenizer
    from llmcourse.tokenization.bpe_train import _train_merges

    whole = build_corpus(plays, int(max(*SCALING_MBS, mb) * 1e6)).encode("utf-8")
    texts = {m: whole[: int(m * 1e6)].decode("utf-8", errors="ignore") for m in {*SCALING_MBS, mb}}
    configs = [(v, mb) for v in SCALING_VOCABS] + [(vocab_size, m) for m in SCALING_MBS if m != mb]
    print(f"\nScaling: process CPU seconds, median of {n_rounds} interleaved rounds; encoding is one cold "
          "pass\n(our cache cleared, a fresh tokenizers object), with the same merges on both sides; "
          "tokenizers trains from the pieces.")
    head = (f"{'vocab':>6} {'MB':>4} {'chunks':>7} | {'ours train':>10} {'(merges)':>9} {'tokenizers':>10} "
            f"{'ratio':>6} | {'ours enc':>8} {'tokenizers':>10} {'ratio':>6} | load")
    print(head)
    print("-" * len(head))
    results: dict[tuple[int, float], dict[str, float]] = {}
    for v, m in configs:
        text = texts[m]
        pieces = PIECE_CUTS.split(text)
        chunks = Counter(BPETokenizer(pattern)._chunks(text))
        byte_chunks = {c.encode("utf-8"): n for c, n in chunks.items()}
        ours = BPETokenizer(pattern).train(text, v)

        def ours_encode() -> list[int]:
            ours._cache.clear()
            return ours.encode_ordinary(text)

        def hf_encode():
            hf = ours.to_huggingface()
            wall, cpu, out = timed(lambda: hf.encode_batch_fast(pieces))
            return wall, cpu

        rows: dict[str, list[float]] = {k: [] for k in ("train", "merges", "hf_train", "enc", "hf_enc")}
        for r in range(n_rounds):
            if r % 2:
                rows["hf_train"].append(timed(lambda: hf_train(pieces, v, pattern))[1])
                rows["hf_enc"].append(hf_encode()[1])
            rows["train"].append(timed(lambda: BPETokenizer(pattern).train(text, v))[1])
            rows["merges"].append(timed(lambda: _train_merges(byte_chunks, v - 256))[1])
            rows["enc"].append(timed(ours_encode)[1])
            if not r % 2:
                rows["hf_train"].append(timed(lambda: hf_train(pieces, v, pattern))[1])
                rows["hf_enc"].append(hf_encode()[1])
        t = results[v, m] = {k: statistics.median(x) for k, x in rows.items()}
        print(f"{v:>6,} {m:>4g} {len(chunks):>7,} | {t['train']:>10.2f} {t['merges']:>9.2f} "
              f"{t['hf_train']:>10.2f} {t['train'] / t['hf_train']:>5.2f}× | {t['enc']:>8.2f} "
              f"{t['hf_enc']:>10.2f} {t['enc'] / t['hf_enc']:>5.2f}× | {load():.2f}", flush=True)
    print("(merges) = our merge learning alone (`_train_merges` on the counted chunks), part of 'ours train'.")
    v0, v1, m0, m1 = SCALING_VOCABS[0], SCALING_VOCABS[-1], SCALING_MBS[0], SCALING_MBS[-1]
    for what, a, b in [(f"vocab {v0:,} → {v1:,} at {mb:g} MB", (v0, mb), (v1, mb)),
                       (f"text {m0:g} → {m1:g} MB at vocab {vocab_size:,}", (vocab_size, m0), (vocab_size, m1))]:
        if a in results and b in results:
            g = {k: results[b][k] / results[a][k] for k in results[a]}
            print(f"{what}: training ours ×{g['train']:.1f}, tokenizers ×{g['hf_train']:.1f}; "
                  f"encoding ours ×{g['enc']:.1f}, tokenizers ×{g['hf_enc']:.1f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--path", type=Path, default=None, help=f"tiny Shakespeare (default: {DEFAULT_TEXT})")
    parser.add_argument("--vocab-size", type=int, default=4096)
    parser.add_argument("--mb", type=float, default=10.0, help="megabytes of text (default 10)")
    parser.add_argument("--pattern", choices=["gpt4", "gpt2"], default="gpt4")
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds after the warm-up (default 5)")
    parser.add_argument("--threads", type=int, default=1, help="RAYON_NUM_THREADS for tokenizers (default 1)")
    parser.add_argument("--scaling", action="store_true", help="also time against vocab size and text size")
    parser.add_argument("--scaling-rounds", type=int, default=3, help="rounds per --scaling row (default 3)")
    parser.add_argument("--readable", action="store_true", help="also time the readable trainer (slow)")
    parser.add_argument("--quiet", action="store_true", help="no per-round lines")
    args = parser.parse_args(argv)

    os.environ["RAYON_NUM_THREADS"] = str(args.threads)  # read when tokenizers starts its pool
    import tokenizers

    from llmcourse.tokenization import GPT2_SPLIT_PATTERN, GPT4_SPLIT_PATTERN, BPETokenizer

    pattern = {"gpt4": GPT4_SPLIT_PATTERN, "gpt2": GPT2_SPLIT_PATTERN}[args.pattern]
    path = args.path or DEFAULT_TEXT
    if not path.is_file():
        parser.error(f"no text file at {path}; pass tiny Shakespeare (or any text) with --path FILE")
    plays = path.read_text(encoding="utf-8")
    text = build_corpus(plays, int(args.mb * 1e6))
    raw = text.encode("utf-8")
    pieces = PIECE_CUTS.split(text)
    assert "".join(pieces) == text
    mb = len(raw) / 1e6
    print(f"text: {mb:.2f} MB, half {path.name} paragraphs (cycled), half generated stories; "
          f"sha256 {hashlib.sha256(raw).hexdigest()[:16]}; {len(pieces):,} pieces")
    print(f"vocab {args.vocab_size:,}, pattern {args.pattern}; tokenizers {tokenizers.__version__} with "
          f"RAYON_NUM_THREADS={args.threads}, ours one thread; {os.cpu_count()} CPU cores; load {load():.2f}")
    print(f"{args.rounds} timed rounds after a warm-up; each entry wall/CPU seconds\n", flush=True)

    # -- training -----------------------------------------------------------------------
    train, trained = rounds(
        {
            "ours": lambda: BPETokenizer(pattern).train(text, args.vocab_size),
            "tokenizers(text)": lambda: hf_train([text], args.vocab_size, pattern),
            "tokenizers(pieces)": lambda: hf_train(pieces, args.vocab_size, pattern),
        },
        args.rounds,
        args.quiet,
    )
    ours, hf = trained["ours"], trained["tokenizers(pieces)"]
    hf_pairs, hf_bytes = hf_merges_as_bytes(hf)
    same_feed = hf_merges_as_bytes(trained["tokenizers(text)"])[0] == hf_pairs
    assert same_feed, "tokenizers: the whole text and the pieces gave different merges"
    theirs_train = best_per_round(train["tokenizers(text)"], train["tokenizers(pieces)"])
    load_train = load()

    # -- encoding with the same merges --------------------------------------------------------
    hf_same = ours.to_huggingface()
    fresh = iter([ours.to_huggingface() for _ in range(args.rounds + 1)])  # for the cold runs

    def ours_cold() -> list[int]:
        ours._cache.clear()
        return ours.encode_ordinary(text)

    enc, encoded = rounds(
        {
            "ours(warm)": lambda: ours.encode_ordinary(text),
            "ours(cold)": ours_cold,
            "tokenizers(batch)": lambda: hf_same.encode_batch(pieces),
            "tokenizers(batch_fast)": lambda: hf_same.encode_batch_fast(pieces),
            "tokenizers(cold)": lambda: next(fresh).encode_batch_fast(pieces),
        },
        args.rounds,
        args.quiet,
    )
    theirs_warm = best_per_round(enc["tokenizers(batch)"], enc["tokenizers(batch_fast)"])
    theirs_any = best_per_round(theirs_warm, enc["tokenizers(cold)"])
    ids = encoded["ours(warm)"]
    assert encoded["ours(cold)"] == ids
    whole_wall, whole_cpu, whole = timed(lambda: hf_same.encode(text))
    load_enc = load()

    # -- checks -----------------------------------------------------------------------------
    batch_ids = [i for e in encoded["tokenizers(batch)"] for i in e.ids]
    same_ids = whole.ids == ids and batch_ids == ids
    assert same_ids, "tokenizers with our merges gives other ids than ours"
    assert ours.decode(ids) == text, "our round trip failed"
    hf_own = hf.encode(text).ids
    assert hf.decode(hf_own) == text, "tokenizers round trip failed"
    ours_hf = ours_from_merges(hf_pairs, pattern)
    same_tokens = [ours_hf.vocab[i] for i in ours_hf.encode_ordinary(text)] == [hf_bytes[i] for i in hf_own]
    assert same_tokens, "our encoder with tokenizers' merges gives other tokens than tokenizers"
    our_pairs = [(ours.vocab[a], ours.vocab[b]) for a, b in ours.merges]
    same_place = sum(a == b for a, b in zip(our_pairs, hf_pairs))
    common = len(set(our_pairs) & set(hf_pairs))
    first = next((k for k, (a, b) in enumerate(zip(our_pairs, hf_pairs)) if a != b), None)

    # -- report -----------------------------------------------------------------------------
    def row(name: str, series: list[tuple[float, float]], note: str = "") -> None:
        print(f"{name:<44} {med(series, 0):>7.2f} {med(series, 1):>7.2f}  {note}")

    print(f"\n{'median of ' + str(args.rounds) + ' rounds':<44} {'wall s':>7} {'CPU s':>7}")
    print("-" * 80)
    row("train: ours", train["ours"])
    row("train: tokenizers, whole text", train["tokenizers(text)"])
    row("train: tokenizers, pieces", train["tokenizers(pieces)"])
    row("train: tokenizers, faster of the two", theirs_train)
    row(f"encode {mb:.1f} MB, warm: ours", enc["ours(warm)"], f"{mb / med(enc['ours(warm)'], 0):.2f} MB/s")
    row("encode, cold: ours", enc["ours(cold)"], f"{mb / med(enc['ours(cold)'], 0):.2f} MB/s")
    row("encode, warm: tokenizers encode_batch", enc["tokenizers(batch)"])
    row("encode, warm: tokenizers encode_batch_fast", enc["tokenizers(batch_fast)"])
    row("encode, cold: tokenizers encode_batch_fast", enc["tokenizers(cold)"])
    row("encode: tokenizers, fastest of the three", theirs_any, f"{mb / med(theirs_any, 0):.2f} MB/s")
    print(f"{'encode: tokenizers encode(text), one run':<44} {whole_wall:>7.2f} {whole_cpu:>7.2f}")
    print(f"\nratios ours/theirs, median of the per-round ratios (< 1: ours faster); load {load_train:.2f} "
          f"after training, {load_enc:.2f} after encoding")
    for name, a, b, goal in [
        ("training time", train["ours"], theirs_train, "goal ≤ 1.5"),
        ("encoding time, warm/warm", enc["ours(warm)"], theirs_warm, ""),
        ("encoding time, cold/cold", enc["ours(cold)"], enc["tokenizers(cold)"], ""),
        ("encoding time, cold/fastest", enc["ours(cold)"], theirs_any, "goal ≤ 1.0"),
    ]:
        w, c = median_ratio(a, b, 0), median_ratio(a, b, 1)
        print(f"  {name:<28} {w:.2f}× wall, {c:.2f}× CPU   {goal}")
    print(f"  encoding throughput ours (cold) / theirs (fastest): "
          f"{1 / median_ratio(enc['ours(cold)'], theirs_any, 0):.2f}× by the wall clock (goal ≥ 1.0)")

    n_merges = len(our_pairs)
    print(f"\nchecks on the whole {mb:.1f} MB text (load {load_enc:.2f}):")
    print(f"  our ids = tokenizers' ids with our merges (encode(text) and encode_batch(pieces)): "
          f"{'yes' if same_ids else 'NO'}, {len(ids):,} ids, {len(ids) / len(raw):.4f} per byte")
    print(f"  our encoder with tokenizers' merges = tokenizers' own tokens: {'yes' if same_tokens else 'NO'}, "
          f"{len(hf_own):,} tokens")
    print("  tokenizers learns the same merges from the whole text and from the pieces: yes")
    print(f"  learnt merges: {same_place:,} of {n_merges:,} in the same place, {common:,} the same set")
    if first is not None:
        chunks = Counter(raw_chunk.encode("utf-8") for raw_chunk in BPETokenizer(pattern)._chunks(text))
        before = dict(list(ours.merges.items())[:first])
        counts = pair_counts(chunks, before)
        id_of = {ours.vocab[i]: i for i in range(256 + first)}
        a, b = our_pairs[first], hf_pairs[first]
        ca, cb = counts[id_of[a[0]], id_of[a[1]]], counts[id_of[b[0]], id_of[b[1]]]
        tie = "a tie, broken differently" if ca == cb else "NOT a tie"
        print(f"  first difference at merge #{first}: ours {a} ({ca:,} times), tokenizers {b} ({cb:,}): {tie}")

    if args.readable:  # one run, no warm-up: it is the slow one
        wall, cpu, readable = timed(lambda: BPETokenizer(pattern).train(text, args.vocab_size, fast=False))
        assert readable.merges == ours.merges, "the readable and fast trainers disagree"
        print(f"\nreadable trainer (fast=False): {wall:.1f} s wall, {cpu:.1f} s CPU, same merges; "
              f"{wall / med(theirs_train, 0):.1f}× tokenizers' time (load {load():.2f})")

    if args.scaling:
        scaling(plays, pattern, args.scaling_rounds, args.vocab_size, args.mb)
    return 0


if __name__ == "__main__":
    sys.exit(main())
