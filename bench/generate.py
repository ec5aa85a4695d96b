"""Benchmark: our KV-cached generation against ``transformers``' ``generate`` (Chapter 08 — decoding).

Builds our ``GPT(fast=True)`` and ``transformers.GPT2LMHeadModel`` of the same shape, copies our
weights into theirs (``bench/gpt_throughput.py``'s ``copy_weights``), and generates ``n`` new
tokens greedily from the same prompt with the cache on in both:

* ours: ``llmcourse.decoding.generate(model, prompt, n, temperature=0)``;
* theirs: ``model.generate(prompt, max_new_tokens=n, min_new_tokens=n, do_sample=False,
  use_cache=True)``.

Both must give the same tokens (checked in the run; the script stops if they differ). Each round
times ours then theirs (``--rounds`` rounds after one warm-up each, interleaved so that both see the
same machine load); it prints the median tokens/s of each, by wall clock and by CPU time, and the
ratio ours/theirs, for each ``n`` in ``--lengths``. One thread by default, batch 1.

    python bench/generate.py                          # 4 layers, 4 heads, 128 dims; n = 128 and 512
    python bench/generate.py --dim 256 --lengths 128 512 1024
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import warnings
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gpt_throughput import build_hf, copy_weights  # noqa: E402  (the same model in transformers)

from llmcourse.decoding import generate  # noqa: E402
from llmcourse.gpt import GPT, GPTConfig  # noqa: E402


def timed(fn):
    """(wall seconds, CPU seconds of this process, result) of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return time.perf_counter() - wall, time.process_time() - cpu, result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--vocab", type=int, default=65, help="vocabulary size (default 65, tiny Shakespeare)")
    parser.add_argument("--prompt", type=int, default=16, help="prompt length in tokens (default 16)")
    parser.add_argument("--lengths", type=int, nargs="+", default=[128, 512], help="new tokens (default 128 512)")
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds per length (default 5); median kept")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.dim % args.heads:
        parser.error(f"--dim {args.dim} must be divisible by --heads {args.heads}")
    if min(args.lengths) < 1 or args.prompt < 1 or args.rounds < 1:
        parser.error("--lengths, --prompt and --rounds must be ≥ 1")

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    block = args.prompt + max(args.lengths)  # no run leaves the context window
    config = GPTConfig(vocab_size=args.vocab, block_size=block, n_layers=args.layers, n_heads=args.heads,
                       d_model=args.dim, dropout=0.0, fast=True)
    ours = GPT(config).eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = build_hf(config, "gelu").eval()
    copy_weights(ours, theirs)
    theirs.generation_config.pad_token_id = 0  # no padding happens (batch 1); silences a warning
    prompt = torch.randint(0, args.vocab, (1, args.prompt), generator=torch.Generator().manual_seed(args.seed + 1))
    print(f"model: {args.layers} layers, {args.heads} heads, d_model {args.dim}, vocab {args.vocab}, context {block}; "
          f"{sum(p.numel() for p in ours.parameters()):,} parameters; prompt {args.prompt} tokens, batch 1, greedy, "
          f"{args.threads} thread(s); load average {os.getloadavg()[0]:.1f}")

    def run_ours(n):
        with torch.no_grad():
            return generate(ours, prompt, n, temperature=0)

    def run_theirs(n):
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return theirs.generate(prompt, max_new_tokens=n, min_new_tokens=n, do_sample=False, use_cache=True)

    print(f"{'new tokens':>10}  {'ours tok/s':>11}  {'theirs tok/s':>12}  {'ratio (wall)':>12}  {'ratio (CPU)':>11}")
    for n in args.lengths:
        a, b = run_ours(n), run_theirs(n)  # warm-up, and the same tokens
        if not torch.equal(a, b):
            first = int((a != b).nonzero()[0, 1]) if a.shape == b.shape else -1
            raise SystemExit(f"n = {n}: the two models generated different tokens (first difference at {first})")
        walls = {"ours": [], "theirs": []}
        cpus = {"ours": [], "theirs": []}
        for _ in range(args.rounds):
            for name, fn in (("ours", run_ours), ("theirs", run_theirs)):
                wall, cpu, _ = timed(lambda: fn(n))
                walls[name].append(wall)
                cpus[name].append(cpu)
        w = {k: statistics.median(v) for k, v in walls.items()}
        c = {k: statistics.median(v) for k, v in cpus.items()}
        print(f"{n:>10}  {n / w['ours']:>11.0f}  {n / w['theirs']:>12.0f}  {w['theirs'] / w['ours']:>11.2f}×  "
              f"{c['theirs'] / c['ours']:>10.2f}×")
    print(f"identical tokens for every length; medians of {args.rounds} interleaved rounds; "
          f"load average {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
