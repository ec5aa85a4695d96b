"""The story corpus against its entropy floor: validation loss against CPU minutes, GPT and LSTM.

    python bench/stories.py                              # 30 CPU-minutes each, both models at once
    python bench/stories.py --minutes 3 --jobs 1         # the issue-4 budget, one model after the other
    python bench/stories.py --plot stories.png --json stories.json

Both models read the same character-level text (``corpus_text(--stories, seed=0)``, 90 % train /
10 % validation). The GPT is the zoo's ``gpt-stories`` shape (2 layers, 4 heads, 64 dims, context
128); the LSTM is one layer whose width puts its parameter count within 3 % of the GPT's. Each is
trained with AdamW (the GPT through ``configure_optimizer``: no decay on biases and norms), gradient
clipping at 1.0, batch 16 × 128, a 100-step warm-up and then a cosine from ``--lr`` to ``--lr / 10``
over the *CPU-time* budget, on one thread each.

The clock is this process's CPU time spent training (``time.process_time``): evaluation is not
counted, and the curve does not move when another job shares the machine. Every ``--every`` CPU
seconds the loss on 40 fixed validation batches (nats per character) is recorded. Printed at the
end: the loss and its ratio to the entropy floor H of the validation text's generator
(``entropy_floor``) at 1, 3, 10 and 30 minutes and the end, the best ratio reached, and the trend:
how much the loss fell over the last doubling of CPU time. With ``--jobs 2`` (default) the two
models train at the same time in two processes, so 30 minutes each take about 31 minutes of wall
time on two cores.

Progress: a bar on a terminal; one line per checkpoint otherwise (``--quiet``: none).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

import torch
import torch.nn.functional as F

from llmcourse.data import corpus_text, entropy_floor
from llmcourse.gpt import GPT, GPTConfig, configure_optimizer, lr_schedule
from llmcourse.rnn import CharRNN
from llmcourse.tokenization import CharTokenizer
from llmcourse.training import evaluate, get_batch, set_lr, train_val_split

MARKS = (1, 3, 10, 30)   # minutes reported in the table


def lstm_width(target: int, vocab_size: int, d_embed: int) -> int:
    """The hidden width whose one-layer CharRNN has the parameter count closest to ``target``."""
    def count(h: int) -> int:
        return sum(p.numel() for p in CharRNN(vocab_size, d_embed, h).parameters())
    return min(range(16, 1025), key=lambda h: abs(count(h) - target))


def build(kind: str, args: argparse.Namespace, vocab_size: int) -> torch.nn.Module:
    """The GPT (zoo shape by default) or the LSTM sized to its parameter count, seeded."""
    config = GPTConfig(vocab_size, args.block, n_layers=args.layers, n_heads=4, d_model=args.d_model, fast=True)
    torch.manual_seed(args.seed)
    gpt = GPT(config)
    if kind == "gpt":
        return gpt
    hidden = lstm_width(gpt.num_parameters(), vocab_size, 64)
    torch.manual_seed(args.seed)
    return CharRNN(vocab_size, 64, hidden)


def run(kind: str, args: argparse.Namespace) -> dict:
    """Train one model for ``args.minutes`` CPU minutes; its curve as a dict (JSON-ready)."""
    torch.set_num_threads(1)
    text = corpus_text(args.stories, seed=0)
    tok = CharTokenizer(text)
    train_ids, val_ids = train_val_split(torch.tensor(tok.encode(text)), val_fraction=0.1)
    model = build(kind, args, tok.vocab_size)
    params = sum(p.numel() for p in model.parameters())
    if kind == "gpt":
        optimizer = configure_optimizer(model, lr=args.lr)
        name = f"GPT ({args.layers} layers × {args.d_model})"
    else:
        optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr)
        name = f"LSTM ({model.rnn.hidden_size} units)"
    budget, every = args.minutes * 60.0, args.every
    generator = torch.Generator().manual_seed(args.seed)
    show_bar = not args.quiet and sys.stderr.isatty()
    bar = None
    if show_bar:
        from tqdm.auto import tqdm
        bar = tqdm(total=round(budget), desc=name, unit="CPU s", leave=False, position=0 if kind == "gpt" else 1)

    def score() -> float:
        return evaluate(model, val_ids, batch_size=args.batch, block_size=args.block, n_batches=40, seed=123)

    cpu_s, step, curve = 0.0, 0, [(0.0, 0, score())]
    wall0 = time.perf_counter()
    next_mark = every
    model.train()
    while cpu_s < budget:
        # warm-up over 100 steps, then a cosine over the CPU budget (steps per second differ by model)
        progress = min(cpu_s / budget, 1.0)
        set_lr(optimizer, lr_schedule(min(step, 100) + int(progress * 10_000), max_lr=args.lr, warmup_steps=100,
                                      total_steps=10_100, min_lr=args.lr / 10))
        t0 = time.process_time()
        x, y = get_batch(train_ids, args.batch, args.block, generator)
        logits = model(x)                                                     # (B, T, V)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        cpu_s += time.process_time() - t0
        step += 1
        if bar is not None:
            bar.update(min(round(cpu_s), round(budget)) - bar.n)
        if cpu_s >= next_mark or cpu_s >= budget:
            val = score()
            curve.append((cpu_s, step, val))
            next_mark += every
            if not args.quiet and not show_bar:
                print(f"{name}: {cpu_s / 60:5.1f} CPU min, step {step:,}, val {val:.4f}", flush=True)
    if bar is not None:
        bar.close()
    return dict(kind=kind, name=name, params=params, steps=step, wall=time.perf_counter() - wall0,
                curve=[dict(cpu_s=c, step=s, val=v) for c, s, v in curve])


def value_at(curve: list[dict], minutes: float) -> dict | None:
    """The first checkpoint at or after ``minutes`` of CPU time (None past the end)."""
    for point in curve:
        if point["cpu_s"] >= minutes * 60 - 1e-9:
            return point
    return None


def trend(curve: list[dict]) -> tuple[float, float] | None:
    """(CPU seconds at the start, loss fall) over the last doubling of CPU time; None if too short."""
    end = curve[-1]
    half = min(curve, key=lambda p: abs(p["cpu_s"] - end["cpu_s"] / 2))     # the checkpoint nearest half-way
    if half is end or half["cpu_s"] <= 0:
        return None
    return half["cpu_s"], half["val"] - end["val"]


def plot(results: list[dict], floor: float, path: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.5))
    for r, colour in zip(results, ("tab:blue", "tab:orange")):
        xs = [p["cpu_s"] / 60 for p in r["curve"][1:]]
        ys = [p["val"] for p in r["curve"][1:]]
        ax.plot(xs, ys, marker=".", color=colour, label=f"{r['name']}, {r['params']:,} parameters")
    ax.axhline(floor, color="black", linestyle="--", label=f"entropy floor H = {floor:.3f}")
    ax.axhline(1.10 * floor, color="grey", linestyle=":", label="1.10 × H (the 3-minute moonshot)")
    ax.axvline(3, color="grey", linewidth=0.8)
    ax.set_xscale("log")
    ax.set_xlabel("CPU minutes of training (one thread, log scale)")
    ax.set_ylabel("validation loss (nats per character)")
    ax.set_title("Story corpus: loss against CPU time, and the floor no model can pass")
    ax.set_ylim(0, None)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print(f"plot written to {path}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0, help="CPU minutes of training per model (default 30)")
    parser.add_argument("--every", type=float, default=30.0, help="CPU seconds between evaluations (default 30)")
    parser.add_argument("--models", default="gpt,lstm", help="which models, comma-separated (default gpt,lstm)")
    parser.add_argument("--jobs", type=int, default=2, help="models trained at once, one thread each (default 2)")
    parser.add_argument("--stories", type=int, default=4000, help="stories in the corpus (default 4000)")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--block", type=int, default=128)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--d-model", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-2, help="peak learning rate, both models (default 1e-2)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--plot", metavar="PNG", help="draw loss against CPU minutes with the floor")
    parser.add_argument("--json", metavar="PATH", help="write the curves as JSON")
    parser.add_argument("--quiet", action="store_true", help="no progress output")
    args = parser.parse_args(argv)
    kinds = [k.strip() for k in args.models.split(",") if k.strip()]
    if not kinds or any(k not in ("gpt", "lstm") for k in kinds):
        parser.error(f"--models takes gpt and/or lstm, got {args.models!r}")
    if args.minutes <= 0 or args.every <= 0 or args.jobs < 1:
        parser.error("--minutes and --every must be > 0 and --jobs ≥ 1")

    floor = entropy_floor(args.stories, seed=0).nats_per_char
    print(f"story corpus: {args.stories:,} stories, entropy floor H = {floor:.4f} nats/char; {args.minutes:g} CPU "
          f"minutes per model, one thread each, {min(args.jobs, len(kinds))} at a time; load "
          f"{os.getloadavg()[0]:.1f} ({os.cpu_count()} cores)", flush=True)
    if args.jobs > 1 and len(kinds) > 1:
        with ProcessPoolExecutor(max_workers=min(args.jobs, len(kinds)), mp_context=get_context("spawn")) as pool:
            results = list(pool.map(run, kinds, [args] * len(kinds)))
    else:
        results = [run(kind, args) for kind in kinds]

    marks = [m for m in MARKS if m < args.minutes] + [args.minutes]
    print(f"\nvalidation loss (nats/char) and its ratio to H = {floor:.4f}, by CPU minutes of training")
    head = f"{'model':<22}{'parameters':>11}{'steps':>9}" + "".join(f"{f'{m:g} min':>16}" for m in marks)
    print(head)
    print("-" * len(head))
    for r in results:
        cells = []
        for m in marks:
            p = value_at(r["curve"], m)
            cells.append(f"{p['val']:.4f} ({p['val'] / floor:.2f}×)" if p else "")
        print(f"{r['name']:<22}{r['params']:>11,}{r['steps']:>9,}" + "".join(f"{c:>16}" for c in cells))
    for r in results:
        best = min(r["curve"], key=lambda p: p["val"])
        line = (f"{r['name']}: best {best['val']:.4f} = {best['val'] / floor:.3f} × H at {best['cpu_s'] / 60:.1f} "
                f"CPU min (step {best['step']:,}; {r['wall'] / 60:.1f} min wall)")
        t = trend(r["curve"])
        if t:
            since, fall = t
            line += (f"; the last doubling of CPU time ({since / 60:.1f} → {r['curve'][-1]['cpu_s'] / 60:.1f} min) "
                     f"took the loss down {fall:.4f} ({fall / floor:.3f} × H)")
        print(line)
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(floor=floor, args=vars(args), results=results), f, indent=1)
        print(f"curves written to {args.json}")
    if args.plot:
        plot(results, floor, args.plot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
