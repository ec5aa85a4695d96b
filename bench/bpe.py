"""Benchmark: our byte-level BPE (llmcourse.tokenization) against the Rust `tokenizers` library.

Chapter 01 — tokenization. Trains a byte-level BPE of ``--vocab-size`` tokens on ``--mb`` MB
of text with both, using the same pre-split regex, then encodes the same text, and prints
times, throughput, compression (tokens per byte) and the ratios, measured side by side in
one run. Each measurement is the best of ``--repeat`` runs after one warm-up.

    python bench/bpe.py                       # ../shared/data/tinyshakespeare.txt if present
    python bench/bpe.py --path my_corpus.txt --vocab-size 1024 --mb 2
    python bench/bpe.py --readable            # also time the readable trainer (slow)

`tokenizers` uses all CPU cores (for training and for ``encode_batch``); ours uses one.
Timings on a shared machine are noisy: run it twice.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers

from llmcourse.tokenization import GPT2_SPLIT_PATTERN, GPT4_SPLIT_PATTERN, BPETokenizer

REPO = Path(__file__).resolve().parent.parent
DEFAULT_TEXT = REPO.parent / "shared" / "data" / "tinyshakespeare.txt"
PATTERNS = {"gpt4": GPT4_SPLIT_PATTERN, "gpt2": GPT2_SPLIT_PATTERN}


def best_of(fn: Callable[[], object], repeat: int) -> tuple[float, object]:
    """Run ``fn`` once to warm up, then ``repeat`` times; return (best seconds, last result)."""
    result = fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), result


def hf_bpe(pattern: str) -> Tokenizer:
    """An untrained `tokenizers` BPE with the same pre-split as ours: regex, then bytes."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(pattern), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    return tok


def hf_train(pieces: list[str], vocab_size: int, pattern: str) -> Tokenizer:
    tok = hf_bpe(pattern)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False
    )
    tok.train_from_iterator(pieces, trainer)
    return tok


def verdict(ours: float, theirs: float) -> str:
    """Words for a time ratio, calling anything within 5% a draw."""
    if abs(ours / theirs - 1) < 0.05:
        return "about the same"
    return "ours slower" if ours > theirs else "ours faster"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--path", type=Path, default=None, help=f"UTF-8 text file (default: {DEFAULT_TEXT})")
    parser.add_argument("--vocab-size", type=int, default=512)
    parser.add_argument("--mb", type=float, default=1.0, help="megabytes of text to train on (default 1.0)")
    parser.add_argument("--pattern", choices=sorted(PATTERNS), default="gpt4")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs after the warm-up (best is kept)")
    parser.add_argument("--readable", action="store_true", help="also time the readable trainer (slow)")
    args = parser.parse_args(argv)

    path = args.path or DEFAULT_TEXT
    if not path.is_file():
        parser.error(f"no text file at {path}; pass one with --path FILE")
    data = path.read_bytes()
    n = int(args.mb * 1_000_000)
    text = data[:n].decode("utf-8", errors="ignore")  # drops a character cut in half
    held_out = data[n : n + 200_000].decode("utf-8", errors="ignore")
    n_bytes = len(text.encode("utf-8"))
    pattern = PATTERNS[args.pattern]
    lines = text.splitlines(keepends=True)

    print(f"text: {path} — {n_bytes / 1e6:.2f} MB used ({len(data) / 1e6:.2f} MB in the file)")
    print(f"vocab size {args.vocab_size}, pattern {args.pattern}, best of {args.repeat} after a warm-up, "
          f"{os.cpu_count()} CPU cores (tokenizers may use all of them)\n")

    # -- training -----------------------------------------------------------------------
    t_ours, ours = best_of(lambda: BPETokenizer(pattern).train(text, args.vocab_size), args.repeat)
    t_hf, hf = best_of(lambda: hf_train([text], args.vocab_size, pattern), args.repeat)
    t_hf_lines, _ = best_of(lambda: hf_train(lines, args.vocab_size, pattern), args.repeat)
    t_hf_best = min(t_hf, t_hf_lines)
    t_readable = None
    if args.readable:  # one run, no warm-up: it is the slow one
        start = time.perf_counter()
        readable = BPETokenizer(pattern).train(text, args.vocab_size, fast=False)
        t_readable = time.perf_counter() - start
        assert readable.merges == ours.merges, "the readable and fast trainers disagree"

    # -- encoding (caches warm on both sides after the warm-up run) ------------------------
    e_ours, ids_ours = best_of(lambda: ours.encode_ordinary(text), args.repeat)
    e_hf, enc = best_of(lambda: hf.encode(text), args.repeat)
    e_hf_batch, _ = best_of(lambda: hf.encode_batch(lines), args.repeat)
    e_hf_best = min(e_hf, e_hf_batch)
    ids_hf = enc.ids

    def cold() -> list[int]:
        ours._cache.clear()
        return ours.encode_ordinary(text)

    e_ours_cold, _ = best_of(cold, args.repeat)

    # -- checks and compression -----------------------------------------------------------
    assert ours.decode(ids_ours) == text, "our round trip failed"
    assert hf.decode(ids_hf) == text, "tokenizers round trip failed"
    same_ids = ours.to_huggingface().encode(text).ids == ids_ours

    mb = n_bytes / 1e6
    rows = [
        ("train: ours (1 core)", f"{t_ours:.2f} s", ""),
        ("train: tokenizers, whole text", f"{t_hf:.2f} s", ""),
        ("train: tokenizers, line by line", f"{t_hf_lines:.2f} s", ""),
        ("train time: ours / best tokenizers", f"{t_ours / t_hf_best:.2f}×", verdict(t_ours, t_hf_best)),
    ]
    if t_readable is not None:
        rows += [
            ("train: ours, readable trainer (fast=False)", f"{t_readable:.2f} s", "same merges"),
            ("train time: readable / best tokenizers", f"{t_readable / t_hf_best:.1f}×", ""),
        ]
    rows += [
        ("encode: ours (1 core, cache warm)", f"{mb / e_ours:.2f} MB/s", f"{e_ours:.2f} s"),
        ("encode: ours (1 core, cache cold)", f"{mb / e_ours_cold:.2f} MB/s", f"{e_ours_cold:.2f} s"),
        ("encode: tokenizers, encode(text)", f"{mb / e_hf:.2f} MB/s", f"{e_hf:.2f} s"),
        ("encode: tokenizers, encode_batch(lines)", f"{mb / e_hf_batch:.2f} MB/s", f"{e_hf_batch:.2f} s"),
        ("encode time: ours (warm) / best tokenizers", f"{e_ours / e_hf_best:.2f}×", verdict(e_ours, e_hf_best)),
        ("tokens per byte: ours (training text)", f"{len(ids_ours) / n_bytes:.4f}", f"{len(ids_ours):,}"),
        ("tokens per byte: tokenizers (training text)", f"{len(ids_hf) / n_bytes:.4f}", f"{len(ids_hf):,}"),
    ]
    if held_out:
        h_bytes = len(held_out.encode("utf-8"))
        h_ours, h_hf = len(ours.encode_ordinary(held_out)), len(hf.encode(held_out).ids)
        rows += [
            ("tokens per byte: ours (held-out)", f"{h_ours / h_bytes:.4f}", f"{h_bytes / 1e6:.2f} MB"),
            ("tokens per byte: tokenizers (held-out)", f"{h_hf / h_bytes:.4f}", f"ratio {h_ours / h_hf:.4f}"),
        ]
    rows.append(("ours.to_huggingface() gives our ids", "yes" if same_ids else "NO", ""))

    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  {'value':>12}  note")
    print("-" * (width + 30))
    for name, value, note in rows:
        print(f"{name:<{width}}  {value:>12}  {note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
