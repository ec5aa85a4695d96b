"""Data-parallel training with ``torchrun`` and DistributedDataParallel (Appendix A — Scaling out).

Every process (a *rank*) holds a full copy of the model and trains on its own slice of each
global batch; after ``backward`` DistributedDataParallel (DDP) averages the gradients over the
ranks with an all-reduce, so every copy takes the same optimizer step. With equal slices, the
average of the ranks' mean gradients is the mean gradient of the whole batch: ``W`` processes on
``B / W`` rows each compute the step one process computes on ``B`` rows, up to the order of
floating-point sums. Gradient accumulation gets the same step from ``M`` micro-batches in one
process (each loss scaled by ``1 / M``; DDP's ``no_sync`` skips the all-reduce until the last).

Run it with PyTorch's launcher, never a home-made one::

    torchrun --nproc-per-node 2 -m llmcourse.distributed --steps 20 --global-batch 16 --out run.json

``torchrun`` starts the processes and gives each ``RANK``, ``WORLD_SIZE`` and the rendezvous
address; :func:`main` joins the process group (``gloo`` on CPU, ``nccl`` on GPUs), trains, and
rank 0 writes the losses and a checksum of the weights (and, with ``--weights``, the weights as
safetensors) for comparison with a one-process run.

>>> local_rows(16, rank=1, world_size=2)
slice(8, 16, None)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from llmcourse._checks import int_at_least, one_of, positive, positive_int

__all__ = ["RunConfig", "local_rows", "global_batch", "build", "train", "main"]


@dataclass(frozen=True)
class RunConfig:
    """One training run: the model's size, the data and the optimizer, the same on every rank.

    ``global_batch`` rows per step are split over the ranks (``global_batch / world_size`` each)
    and, within a rank, into ``micro_batches`` accumulated micro-batches. ``precision`` is
    ``"fp32"`` or ``"bf16"`` (autocast: matrix products in bfloat16, weights kept in fp32).
    """

    steps: int = 20
    global_batch: int = 16
    micro_batches: int = 1
    block_size: int = 64
    n_layers: int = 2
    n_heads: int = 4
    d_model: int = 64
    lr: float = 3e-3
    seed: int = 0
    n_texts: int = 400
    precision: str = "fp32"

    def __post_init__(self) -> None:
        for name in ("steps", "global_batch", "micro_batches", "block_size", "n_layers", "n_heads", "d_model",
                     "n_texts"):
            positive_int(f"RunConfig.{name}", getattr(self, name))
        int_at_least("RunConfig.seed", self.seed, 0)
        positive("RunConfig.lr", self.lr)
        one_of("RunConfig.precision", self.precision, ("fp32", "bf16"))


def local_rows(global_batch: int, *, rank: int, world_size: int) -> slice:
    """The rows of a global batch that ``rank`` of ``world_size`` trains on (a contiguous slice).

    Raises ``ValueError`` unless the batch splits evenly: with unequal slices the average of the
    ranks' mean gradients would no longer be the batch's mean gradient.
    """
    positive_int("global_batch", global_batch)
    positive_int("world_size", world_size)
    if not 0 <= rank < world_size:
        raise ValueError(f"rank must be in [0, {world_size}), got {rank}")
    if global_batch % world_size:
        raise ValueError(f"global_batch={global_batch} does not split evenly over world_size={world_size} "
                         "processes: choose a multiple of the number of processes")
    size = global_batch // world_size
    return slice(rank * size, (rank + 1) * size)


def _data(config: RunConfig) -> tuple[torch.Tensor, int]:
    from llmcourse.data import corpus_text
    from llmcourse.tokenization import CharTokenizer

    text = corpus_text(config.n_texts, seed=config.seed)
    tokenizer = CharTokenizer(text)
    return torch.tensor(tokenizer.encode(text)), tokenizer.vocab_size


def global_batch(data: torch.Tensor, config: RunConfig, step: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The whole batch of ``step``, ``x, y`` of shape ``(global_batch, block_size)``: the same on
    every rank (drawn from a generator seeded by ``seed`` and ``step``), so each rank can take its rows."""
    from llmcourse.training import get_batch

    generator = torch.Generator().manual_seed(config.seed * 1_000_003 + step)
    return get_batch(data, config.global_batch, config.block_size, generator=generator)


def build(config: RunConfig, vocab_size: int) -> torch.nn.Module:
    """The GPT of Chapter 07 at the run's size (no dropout: every rank must compute the same function)."""
    from llmcourse.gpt import GPT, GPTConfig

    torch.manual_seed(config.seed)
    return GPT(GPTConfig(vocab_size=vocab_size, block_size=config.block_size, n_layers=config.n_layers,
                         n_heads=config.n_heads, d_model=config.d_model, dropout=0.0))


def train(config: RunConfig, *, rank: int = 0, world_size: int = 1,
          progress: bool = False) -> tuple[torch.nn.Module, list[float], float]:
    """Train on this rank's rows of every global batch; ``(model, losses, seconds)``.

    With ``world_size > 1`` the process group must be initialised (as :func:`main` does under
    ``torchrun``) and the model is wrapped in DDP. ``losses[i]`` is step ``i``'s loss over the
    whole global batch (averaged over the ranks), the same number a one-process run logs.
    """
    data, vocab_size = _data(config)
    model = build(config, vocab_size)
    rows = local_rows(config.global_batch, rank=rank, world_size=world_size)
    local = rows.stop - rows.start
    if local % config.micro_batches:
        raise ValueError(f"each process's {local} rows do not split into micro_batches={config.micro_batches}")
    ddp = world_size > 1
    if ddp:
        from torch.nn.parallel import DistributedDataParallel
        model = DistributedDataParallel(model)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=0.0)
    autocast = (lambda: torch.autocast("cpu", dtype=torch.bfloat16)) if config.precision == "bf16" \
        else contextlib.nullcontext
    losses = []
    steps = range(config.steps)
    if progress and rank == 0:
        from tqdm.auto import tqdm
        steps = tqdm(steps, desc=f"{world_size} process(es)")
    start = time.perf_counter()
    for step in steps:
        x, y = global_batch(data, config, step)
        x, y = x[rows], y[rows]                                          # (B / W, T) on this rank
        total = torch.zeros(())
        for m, (xm, ym) in enumerate(zip(x.chunk(config.micro_batches), y.chunk(config.micro_batches))):
            last = m == config.micro_batches - 1
            sync = contextlib.nullcontext() if last or not ddp else model.no_sync()
            with sync:
                with autocast():
                    logits = model(xm)                                   # (b, T, V)
                loss = F.cross_entropy(logits.float().flatten(0, 1), ym.flatten()) / config.micro_batches
                loss.backward()                                          # DDP all-reduces on the last one
            total += loss.detach()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if ddp:
            torch.distributed.all_reduce(total)                          # sum over ranks → mean below
            total /= world_size
        losses.append(total.item())
    seconds = time.perf_counter() - start
    return (model.module if ddp else model), losses, seconds


def weights_checksum(model: torch.nn.Module) -> float:
    """A cheap fingerprint of the weights (the sum of every parameter's absolute values)."""
    return float(sum(p.detach().double().abs().sum() for p in model.parameters()))


def main(argv: list[str] | None = None) -> int:
    """Entry point for ``torchrun ... -m llmcourse.distributed`` (and for one plain process)."""
    parser = argparse.ArgumentParser(prog="python -m llmcourse.distributed", description=__doc__.splitlines()[0])
    for field in RunConfig.__dataclass_fields__.values():
        parser.add_argument("--" + field.name.replace("_", "-"), type=type(field.default), default=field.default)
    parser.add_argument("--out", type=Path, required=True, help="JSON file for rank 0's results")
    parser.add_argument("--weights", type=Path, help="also save the final weights (safetensors)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per process (default 1)")
    args = parser.parse_args(argv)
    config = RunConfig(**{name: getattr(args, name) for name in RunConfig.__dataclass_fields__})
    torch.set_num_threads(args.threads)
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    if world_size > 1:
        import torch.distributed as dist
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    try:
        model, losses, seconds = train(config, rank=rank, world_size=world_size)
    finally:
        if world_size > 1:
            torch.distributed.destroy_process_group()
    if rank == 0:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        result = dict(config=asdict(config), world_size=world_size, threads=args.threads, losses=losses,
                      seconds=round(seconds, 3), checksum=weights_checksum(model))
        args.out.write_text(json.dumps(result, indent=1))
        if args.weights is not None:
            from safetensors.torch import save_file
            save_file({k: v.clone().contiguous() for k, v in model.state_dict().items()}, str(args.weights))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
