"""Benchmark: generation with and without the KV cache (Chapter 08 — decoding).

Generates ``n`` new tokens greedily from the same prompt with ``llmcourse.decoding.generate``,
once with the KV cache (the prompt is read once, then one token per step) and once without
(every step re-runs the model on the whole context), and prints tokens/s for both and their
ratio, measured side by side in one run for each ``n``. The two outputs are checked to be
token-for-token identical. Each figure is the best of ``--repeat`` runs.

Default model: the issue's small GPT — 4 layers, 4 heads, 128 dimensions (~0.8 M parameters),
character vocabulary of 64, context ``block_size = prompt + max(lengths)`` = 528 so that no
run leaves the context window (past it, the cache cannot be reused). Weights are random: speed
does not depend on them. One CPU thread by default (``--threads``), batch 1 (``--batch``).

    python bench/kv_cache.py                          # 64 128 256 512 new tokens
    python bench/kv_cache.py --lengths 128 512 1024 --repeat 1
    python bench/kv_cache.py --fast                   # the fused attention kernel
    python bench/kv_cache.py --clock cpu              # CPU time: steadier when other jobs share the machine

Without the cache, step ``t`` costs a forward pass over ``t`` tokens, so generating ``n`` tokens
costs ~``n²/2`` token-passes; with it, each step costs one token's pass plus attention over the
cached keys: the ratio grows about linearly with ``n``. Timings on a shared machine are noisy.
"""

from __future__ import annotations

import argparse
import sys
import time

import torch

from llmcourse.decoding import generate
from llmcourse.gpt import GPT, GPTConfig


CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def best_time(fn, repeat: int, clock=time.perf_counter) -> tuple[float, torch.Tensor]:
    """Best time of ``repeat`` calls of ``fn``, measured with ``clock``; returns it and the last output."""
    times, out = [], None
    for _ in range(repeat):
        start = clock()
        out = fn()
        times.append(clock() - start)
    return min(times), out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", type=int, nargs="+", default=[64, 128, 256, 512],
                        help="numbers of new tokens to generate (default 64 128 256 512)")
    parser.add_argument("--prompt", type=int, default=16, help="prompt length in tokens (default 16)")
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--dim", type=int, default=128, help="d_model (default 128)")
    parser.add_argument("--vocab", type=int, default=64)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--fast", action="store_true", help="use the fused attention path (GPTConfig.fast)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per setting; the best is kept")
    parser.add_argument("--clock", choices=sorted(CLOCKS), default="wall",
                        help="wall-clock time (default) or this process's CPU time (steadier on a busy machine)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    block_size = args.prompt + max(args.lengths)
    config = GPTConfig(vocab_size=args.vocab, block_size=block_size, n_layers=args.layers, n_heads=args.heads,
                       d_model=args.dim, fast=args.fast)
    model = GPT(config).eval()
    n_params = sum(p.numel() for p in model.parameters())
    prompt = torch.randint(0, args.vocab, (args.batch, args.prompt), generator=torch.Generator().manual_seed(args.seed))
    print(f"GPT: {args.layers} layers, {args.heads} heads, d_model {args.dim}, {n_params / 1e6:.2f} M parameters, "
          f"block_size {block_size}, {'fused' if args.fast else 'readable'} attention; batch {args.batch}, "
          f"prompt {args.prompt} tokens, {args.threads} thread(s), {args.clock} time, best of {args.repeat}")
    generate(model, prompt, 8, temperature=0)                                 # warm-up

    bar = None
    if sys.stderr.isatty():                                    # a bar on a terminal, nothing in a log file
        from tqdm.auto import tqdm
        bar = tqdm(total=len(args.lengths) * 2, desc="timing", leave=False)
    rows = []
    for n in args.lengths:
        t_cached, with_cache = best_time(lambda: generate(model, prompt, n, temperature=0, use_cache=True),
                                         args.repeat, CLOCKS[args.clock])
        if bar is not None:
            bar.update(1)
        t_plain, without = best_time(lambda: generate(model, prompt, n, temperature=0, use_cache=False),
                                     args.repeat, CLOCKS[args.clock])
        if bar is not None:
            bar.update(1)
        if not torch.equal(with_cache, without):
            raise SystemExit(f"n={n}: cached and uncached generation differ — the cache is wrong")
        tokens = n * args.batch
        rows.append((n, tokens / t_cached, tokens / t_plain, t_plain / t_cached))
    if bar is not None:
        bar.close()

    print(f"{'new tokens':>10} | {'with cache (tok/s)':>18} | {'without (tok/s)':>15} | {'speed-up':>8}")
    print(f"{'-' * 10}-+-{'-' * 18}-+-{'-' * 15}-+-{'-' * 8}")
    for n, fast, slow, ratio in rows:
        print(f"{n:>10} | {fast:>18.0f} | {slow:>15.0f} | {ratio:>7.1f}×")
    print("outputs identical with and without the cache: yes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
