"""The bench scripts' own arithmetic (their timings are not tested: they live in ``bench/``, not in tests)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

import gpt_throughput  # noqa: E402
import stories  # noqa: E402

from llmcourse.gpt import GPT, GPTConfig  # noqa: E402


@pytest.mark.parametrize("shape", [(2, 4, 64, 16, 59), (1, 2, 32, 8, 11)])
def test_train_flops_per_token_matches_torchs_flop_counter(shape):
    # torch counts every mm/addmm of a forward + backward; attention is left out on both sides
    # (torch counts the fused kernel's full T × T square, we count the causal half)
    layers, heads, dim, block, vocab = shape
    config = GPTConfig(vocab_size=vocab, block_size=block, n_layers=layers, n_heads=heads, d_model=dim, fast=True)
    model, x = GPT(config), torch.randint(0, vocab, (3, block))
    with FlopCounterMode(display=False) as counter:
        torch.nn.functional.cross_entropy(model(x).reshape(-1, vocab), x.reshape(-1)).backward()
    counts = counter.get_flop_counts()["Global"]
    matmuls = sum(n for op, n in counts.items() if "attention" not in str(op))
    attention = 3 * 2 * 2 * layers * dim * (block + 1) / 2
    assert gpt_throughput.train_flops_per_token(config) - attention == pytest.approx(matmuls / x.numel())


def test_stories_curve_helpers():
    curve = [dict(cpu_s=0.0, step=0, val=4.0), dict(cpu_s=60.0, step=10, val=2.0),
             dict(cpu_s=120.0, step=20, val=1.5), dict(cpu_s=240.0, step=40, val=1.0)]
    assert stories.value_at(curve, 1)["val"] == 2.0
    assert stories.value_at(curve, 1.5)["val"] == 1.5
    assert stories.value_at(curve, 5) is None
    assert stories.trend(curve) == (120.0, 0.5)       # 2 → 4 minutes: 1.5 → 1.0
    assert stories.trend(curve[:1]) is None
    late = [*curve[:3], dict(cpu_s=240.04, step=40, val=1.0)]   # the budget overshot by a step: still 2 → 4 min
    assert stories.trend(late) == (120.0, 0.5)
