"""Benchmark: GPT training throughput, ours against `transformers`' GPT-2, and against the machine's peak.

Builds our ``GPT(GPTConfig(..., fast=True))`` and ``transformers.GPT2LMHeadModel`` from a
``GPT2Config`` of the same shape (``n_layer``, ``n_head``, ``n_embd``, ``n_positions = block``,
vocabulary, every dropout 0, exact GELU, the library's default ``sdpa`` attention, no KV cache),
with nothing downloaded. Both are pre-LN with a tied LM head, so they have the same parameters:
the script checks that the counts are equal, copies our weights into GPT-2 (its ``Conv1D``
stores ``W`` transposed) and checks that both give the same logits and the same loss at init
before timing anything.

Then it times training steps — forward, cross-entropy over all ``B × T`` positions, backward,
``torch.optim.AdamW`` step (the same optimizer and hyper-parameters on both sides) — on the same
fixed batches, in interleaved rounds (ours, theirs, ours, theirs, …) after a warm-up, and prints
tokens/s (``steps · B · T / seconds``) for each round, their medians and the ratio ours/theirs
(> 1: ours is faster), measured side by side in one run, by the wall clock and by this
process's CPU time (steadier when other jobs share the machine). One CPU thread by default.

The same run measures this machine's fp32 matmul peak (the best GFLOP/s of a few large
``torch.mm`` products, one thread) and prints, for each model, the GFLOP/s its training reaches:
tokens/s × the matmul FLOPs of one token's training step (forward 2 per weight of every linear
layer and the LM head, plus attention's ``QKᵀ`` and ``PV`` over the causal half; backward twice
the forward), and that as a fraction of the peak. Elementwise work (GELU, LayerNorm, softmax,
AdamW) is not counted: it is the overhead that keeps a step below the peak.

    python bench/gpt_throughput.py                    # zoo shape: 2 layers, 4 heads, 64 dims, block 128, batch 16
    python bench/gpt_throughput.py --config wide      # 4 layers, 4 heads, 256 dims, block 128, batch 16
    python bench/gpt_throughput.py --compile          # also both models under torch.compile (needs a C++ compiler)
    python bench/gpt_throughput.py --rounds 11        # more rounds: steadier medians on a busy machine
    python bench/gpt_throughput.py --layers 8 --dim 256 --heads 8   # any shape (overrides --config)

``--activation gelu_new`` gives GPT-2 its original tanh-approximate GELU (a different function,
so the logits check is skipped; the library computes it with several elementwise operations).
The load average of the machine is printed before and after: on a shared machine, timings are
noisy — compare the per-round ratios, which are measured back to back.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time
import warnings

import torch
import torch.nn.functional as F

from llmcourse.gpt import GPT, GPTConfig

CONFIGS = {  # name: (layers, heads, d_model, block, batch, vocab, steps per round, warm-up steps)
    "zoo": (2, 4, 64, 128, 16, 59, 20, 10),      # the zoo's gpt-stories (vocab: the story corpus' 59 characters)
    "wide": (4, 4, 256, 128, 16, 59, 5, 3),      # the 4-layer, 256-dim shape
    "small": (4, 4, 128, 64, 12, 65, 20, 10),    # the first round's shape (vocab: tiny Shakespeare's 65)
    "large": (6, 6, 192, 128, 16, 65, 8, 3),
}
PEAK_SHAPES = [(2048, 2048, 2048), (4096, 1024, 1024), (1024, 4096, 1024), (2048, 512, 2048)]


def measure_peak(reps: int = 4) -> tuple[float, tuple[int, int, int]]:
    """This machine's fp32 matmul peak at the current thread count: best GFLOP/s over large ``torch.mm`` shapes."""
    best = (0.0, PEAK_SHAPES[0])
    gen = torch.Generator().manual_seed(0)
    for m, k, n in PEAK_SHAPES:
        a, b = torch.randn(m, k, generator=gen), torch.randn(k, n, generator=gen)
        torch.mm(a, b)                                             # warm-up
        times = []
        for _ in range(reps):
            t0 = time.perf_counter()
            torch.mm(a, b)
            times.append(time.perf_counter() - t0)
        best = max(best, (2 * m * k * n / min(times) / 1e9, (m, k, n)))
    return best


def train_flops_per_token(config: GPTConfig) -> float:
    """Matmul FLOPs of one token's training step: 3 × (2 per linear weight + causal attention's QKᵀ and PV)."""
    c = config
    d_ff = c.d_ff or 4 * c.d_model
    linear = c.n_layers * (c.d_model * 3 * c.d_model + c.d_model * c.d_model + 2 * c.d_model * d_ff)
    linear += c.vocab_size * c.d_model                                 # the LM head
    attention = c.n_layers * 2 * c.d_model * (c.block_size + 1) / 2   # QKᵀ and PV, each over (T + 1) / 2 keys
    return 3 * (2 * linear + 2 * attention)


def build_hf(config: GPTConfig, activation: str):
    """``GPT2LMHeadModel`` with our model's shape, every dropout 0, built from a config (offline)."""
    import logging

    from transformers import GPT2Config, GPT2LMHeadModel
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    logging.getLogger("transformers").setLevel(logging.ERROR)
    hf_config = GPT2Config(
        vocab_size=config.vocab_size, n_positions=config.block_size, n_embd=config.d_model,
        n_layer=config.n_layers, n_head=config.n_heads, n_inner=config.d_ff,
        resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, layer_norm_epsilon=1e-5,
        activation_function=activation, use_cache=False, bos_token_id=None, eos_token_id=None,
        pad_token_id=None, tie_word_embeddings=True,
    )
    return GPT2LMHeadModel(hf_config)


@torch.no_grad()
def copy_weights(ours: GPT, theirs) -> None:
    """Copy our parameters into GPT-2 (``Conv1D`` weights are stored ``(in, out)``: transpose)."""
    t = theirs.transformer
    t.wte.weight.copy_(ours.tok_emb.weight)
    t.wpe.weight.copy_(ours.pos_emb.weight)
    for block, h in zip(ours.blocks, t.h):
        pairs = [(block.ln1, h.ln_1), (block.ln2, h.ln_2)]
        for mine, theirs_ln in pairs:
            theirs_ln.weight.copy_(mine.weight)
            theirs_ln.bias.copy_(mine.bias)
        for mine, conv in [(block.attn.qkv, h.attn.c_attn), (block.attn.proj, h.attn.c_proj),
                           (block.mlp.fc, h.mlp.c_fc), (block.mlp.proj, h.mlp.c_proj)]:
            conv.weight.copy_(mine.weight.T)
            conv.bias.copy_(mine.bias)
    t.ln_f.weight.copy_(ours.ln_f.weight)
    t.ln_f.bias.copy_(ours.ln_f.bias)


def print_profile(top: int, runs: dict) -> None:
    """Profile one call of each ``runs[name]()``; print the ``top`` ops by self CPU time side by side (ms)."""
    from torch.profiler import ProfilerActivity, profile

    tables = {}
    for name, fn in runs.items():
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            fn()
        tables[name] = {e.key: (e.self_cpu_time_total / 1e3, e.count) for e in prof.key_averages()}
    names = list(tables)
    keys = sorted(set().union(*tables.values()), key=lambda k: -max(t.get(k, (0, 0))[0] for t in tables.values()))
    print("\nprofile of one round each (self CPU ms, calls):")
    print(f"{'op':<58}" + "".join(f" | {n[:12]:>12} {'calls':>6}" for n in names))
    for key in keys[:top]:
        cells = (tables[n].get(key, (0.0, 0)) for n in names)
        print(f"{key[:58]:<58}" + "".join(f" | {ms:>12.1f} {calls:>6}" for ms, calls in cells))
    print(f"{'total':<58}" + "".join(f" | {sum(v[0] for v in tables[n].values()):>12.1f} {'':>6}" for n in names))


def n_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())  # a tied matrix once


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", choices=list(CONFIGS), default="zoo",
                        help="zoo: 2 layers, 4 heads, 64 dims, block 128, batch 16, vocab 59 (default); "
                             "wide: 4 layers, 4 heads, 256 dims, block 128, batch 16; small: 4 × 128, block 64, "
                             "batch 12, vocab 65 (the first round's); large: 6 × 192, block 128, batch 16")
    parser.add_argument("--layers", type=int, help="override the config's number of layers")
    parser.add_argument("--heads", type=int, help="override the config's number of heads")
    parser.add_argument("--dim", type=int, help="override the config's d_model")
    parser.add_argument("--block", type=int, help="override the config's context length")
    parser.add_argument("--batch", type=int, help="override the config's batch size")
    parser.add_argument("--vocab", type=int, help="override the config's vocabulary size")
    parser.add_argument("--rounds", type=int, default=7, help="timed rounds per model (default 7); median kept")
    parser.add_argument("--steps", type=int, help="training steps per round (default: the config's)")
    parser.add_argument("--warmup", type=int, help="untimed steps per model first (default: the config's)")
    parser.add_argument("--lr", type=float, default=1e-3, help="AdamW learning rate, both models (default 1e-3)")
    parser.add_argument("--activation", choices=["gelu", "gelu_new"], default="gelu",
                        help="GPT-2's activation: exact GELU like ours (default) or GPT-2's tanh approximation")
    parser.add_argument("--compile", action="store_true",
                        help="also time both models with torch.compile on forward + loss (inductor: needs a "
                             "C++ compiler; compiling takes tens of seconds, not timed)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="after timing, profile one round per model and print the N ops with the most "
                             "self CPU time side by side (torch.profiler)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    layers, heads, dim, block, batch, vocab, steps, warmup = CONFIGS[args.config]
    args.steps = steps if args.steps is None else args.steps
    args.warmup = warmup if args.warmup is None else args.warmup
    layers, heads, dim = args.layers or layers, args.heads or heads, args.dim or dim
    block, batch, vocab = args.block or block, args.batch or batch, args.vocab or vocab
    for name, value in [("rounds", args.rounds), ("steps", args.steps), ("threads", args.threads)]:
        if value < 1:
            parser.error(f"--{name} must be ≥ 1, got {value}")
    if dim % heads:
        parser.error(f"--dim {dim} must be divisible by --heads {heads}")

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    config = GPTConfig(vocab_size=vocab, block_size=block, n_layers=layers, n_heads=heads, d_model=dim,
                       dropout=0.0, fast=True)
    ours = GPT(config)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = build_hf(config, args.activation)
    impl = getattr(theirs.config, "_attn_implementation", "?")

    # -- sanity: same parameter count, same function at init --------------------------------
    p_ours, p_theirs = n_params(ours), n_params(theirs)
    print(f"config: {layers} layers, {heads} heads, d_model {dim}, block {block}, batch {batch}, vocab {vocab}; "
          f"{args.threads} thread(s)")
    print(f"parameters: ours {p_ours:,} | transformers GPT2LMHeadModel {p_theirs:,} (attention: {impl}, "
          f"activation: {args.activation})")
    if p_ours != p_theirs:
        raise SystemExit(f"parameter counts differ ({p_ours:,} vs {p_theirs:,}): the models are not the same shape")
    gen = torch.Generator().manual_seed(args.seed + 1)
    n_batches = 8
    batches = [(torch.randint(0, vocab, (batch, block), generator=gen),
                torch.randint(0, vocab, (batch, block), generator=gen)) for _ in range(n_batches)]

    def loss_fn(model: torch.nn.Module, hf: bool):
        def loss_of(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            logits = model(x).logits if hf else model(x)                       # (B, T, V)
            return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
        return loss_of

    with torch.no_grad():
        x, y = batches[0]
        loss_fresh = float(loss_fn(theirs, True)(x, y))
        copy_weights(ours, theirs)
        logits_ours, logits_theirs = ours(x), theirs(x).logits
        loss_ours, loss_theirs = float(loss_fn(ours, False)(x, y)), float(loss_fn(theirs, True)(x, y))
    diff = float((logits_ours - logits_theirs).abs().max())
    print(f"loss at init (ln V = {math.log(vocab):.4f}): ours {loss_ours:.5f} | theirs with our weights "
          f"{loss_theirs:.5f} | theirs with its own init {loss_fresh:.5f}; max |logit difference| {diff:.1e}")
    if args.activation == "gelu" and (diff > 1e-4 or abs(loss_ours - loss_theirs) > 1e-5):
        raise SystemExit("the two models compute different functions with the same weights: not comparable")
    if max(abs(loss_fresh - math.log(vocab)), abs(loss_ours - math.log(vocab))) > 0.1:
        raise SystemExit("a loss at init is more than 0.1 nats away from ln V: check the initialisations")

    # -- the machine's peak, and the work in one token's step --------------------------------
    peak, peak_shape = measure_peak()
    flops = train_flops_per_token(config)
    print(f"fp32 matmul peak, {args.threads} thread(s): {peak:.1f} GFLOP/s (best of {len(PEAK_SHAPES)} large "
          f"torch.mm shapes, at {'×'.join(map(str, peak_shape))}); one token's training step: "
          f"{flops / 1e6:.2f} MFLOP of matmuls")

    # -- timing: interleaved rounds --------------------------------------------------------
    models = {"ours": (ours, loss_fn(ours, False)), "transformers": (theirs, loss_fn(theirs, True))}
    if args.compile:
        # separate copies, so that the compiled and eager models start each round from their own state
        import copy
        ours_c, theirs_c = copy.deepcopy(ours), copy.deepcopy(theirs)
        models["ours, compiled"] = (ours_c, torch.compile(loss_fn(ours_c, False)))
        models["transformers, compiled"] = (theirs_c, torch.compile(loss_fn(theirs_c, True)))
    optimizers = {name: torch.optim.AdamW(model.parameters(), lr=args.lr) for name, (model, _) in models.items()}
    for model, _ in models.values():
        model.train()
    counters = {name: 0 for name in models}

    def run(name: str, steps: int) -> tuple[float, float]:
        """Time ``steps`` training steps of one model: (wall seconds, CPU seconds)."""
        loss_of, opt = models[name][1], optimizers[name]
        wall0, cpu0 = time.perf_counter(), time.process_time()
        for _ in range(steps):
            x, y = batches[counters[name] % n_batches]
            counters[name] += 1
            loss = loss_of(x, y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        return time.perf_counter() - wall0, time.process_time() - cpu0

    load_before = os.getloadavg()
    for name in models:
        t0 = time.perf_counter()
        run(name, args.warmup)
        if "compiled" in name:
            print(f"{name}: compiled and warmed up in {time.perf_counter() - t0:.1f} s (not timed)")
    cpu_start, wall_start = time.process_time(), time.perf_counter()
    tokens = args.steps * batch * block
    wall_rates: dict[str, list[float]] = {name: [] for name in models}
    cpu_rates: dict[str, list[float]] = {name: [] for name in models}
    rounds = range(args.rounds)
    if sys.stderr.isatty():
        from tqdm.auto import tqdm
        rounds = tqdm(rounds, desc="rounds", leave=False)
    for _ in rounds:
        for name in models:
            w, c = run(name, args.steps)
            wall_rates[name].append(tokens / w)
            cpu_rates[name].append(tokens / c)
    wall, cpu = time.perf_counter() - wall_start, time.process_time() - cpu_start
    load_after = os.getloadavg()

    med = statistics.median

    def ratios(a: str, b: str) -> tuple[list[float], list[float]]:
        return ([x / y for x, y in zip(wall_rates[a], wall_rates[b])],
                [x / y for x, y in zip(cpu_rates[a], cpu_rates[b])])

    a_w, b_w, a_c, b_c = wall_rates["ours"], wall_rates["transformers"], cpu_rates["ours"], cpu_rates["transformers"]
    r_w, r_c = ratios("ours", "transformers")
    head = (f"{'round':>6} | {'ours tok/s':>10} | {'theirs tok/s':>12} | {'ratio':>6} || "
            f"{'ours tok/CPU-s':>14} | {'theirs tok/CPU-s':>16} | {'ratio':>6}")
    rule = "-" * len(head)
    print(f"\n{'':>6}   {'by the wall clock':^36} || {'by process CPU time':^42}")
    print(head)
    print(rule)
    for i in range(args.rounds):
        print(f"{i + 1:>6} | {a_w[i]:>10.0f} | {b_w[i]:>12.0f} | {r_w[i]:>5.3f}× || "
              f"{a_c[i]:>14.0f} | {b_c[i]:>16.0f} | {r_c[i]:>5.3f}×")
    print(rule)
    print(f"{'median':>6} | {med(a_w):>10.0f} | {med(b_w):>12.0f} | {med(r_w):>5.3f}× || "
          f"{med(a_c):>14.0f} | {med(b_c):>16.0f} | {med(r_c):>5.3f}×")

    print(f"\n{'model':<24} | {'tok/s (median)':>14} | {'tok/CPU-s':>10} | {'GFLOP/s':>8} | {'of peak':>7}")
    for name in models:
        rate = med(wall_rates[name])
        print(f"{name:<24} | {rate:>14.0f} | {med(cpu_rates[name]):>10.0f} | {rate * flops / 1e9:>8.1f} | "
              f"{rate * flops / 1e9 / peak:>6.1%}")
    pairs = [("ours", "transformers")]
    if args.compile:
        pairs += [("ours, compiled", "transformers, compiled"), ("ours, compiled", "transformers")]
    for a, b in pairs:
        rw, rc = ratios(a, b)
        print(f"ratio {a} / {b} (median of the per-round ratios): {med(rw):.3f}× by the wall clock "
              f"(range {min(rw):.3f}–{max(rw):.3f}), {med(rc):.3f}× by CPU time (range {min(rc):.3f}–{max(rc):.3f})")
    print(f"{args.rounds} rounds × {args.steps} steps × {batch}×{block} tokens per model; timing took {wall:.1f} s "
          f"wall, {cpu:.1f} s process CPU; load average {load_before[0]:.2f} before, {load_after[0]:.2f} after "
          f"({os.cpu_count()} cores)")
    if args.profile > 0:
        print_profile(args.profile, {name: (lambda name=name: run(name, args.steps)) for name in models})
    return 0


if __name__ == "__main__":
    sys.exit(main())
