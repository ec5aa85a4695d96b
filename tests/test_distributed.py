"""Appendix A: two processes under torchrun take the steps one process takes on the same global batch."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file

from llmcourse.distributed import RunConfig, local_rows, main, train

RUN = ["--steps", "12", "--global-batch", "8", "--block-size", "32", "--d-model", "32", "--n-texts", "120"]


def _run(tmp_path, name: str, *extra: str, processes: int = 1) -> tuple[dict, dict]:
    out, weights = tmp_path / f"{name}.json", tmp_path / f"{name}.safetensors"
    args = [*RUN, *extra, "--out", str(out), "--weights", str(weights)]
    if processes == 1:
        assert main(args) == 0
    else:
        done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                               "--nproc-per-node", str(processes), "-m", "llmcourse.distributed", *args],
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(out.read_text()), load_file(str(weights))


def _key_bias(name: str, d_model: int = 32) -> slice | None:
    """The key part of a fused qkv bias: its gradient is zero in exact arithmetic (adding a constant to
    every key's score leaves the softmax unchanged), so Adam turns float noise there into full steps."""
    return slice(d_model, 2 * d_model) if name.endswith("attn.qkv.bias") else None


def test_local_rows_split_the_batch_evenly():
    assert [local_rows(12, rank=r, world_size=3) for r in range(3)] == [slice(0, 4), slice(4, 8), slice(8, 12)]
    with pytest.raises(ValueError, match="does not split evenly over world_size=3"):
        local_rows(8, rank=0, world_size=3)
    with pytest.raises(ValueError, match=r"rank must be in \[0, 2\)"):
        local_rows(8, rank=2, world_size=2)


def test_bad_configs_are_refused():
    with pytest.raises(ValueError, match="precision"):
        RunConfig(precision="fp8")
    with pytest.raises(ValueError, match="micro_batches=3"):
        train(RunConfig(steps=1, global_batch=8, micro_batches=3, n_texts=20, block_size=16, d_model=16))


def test_two_processes_equal_one_process_and_gradient_accumulation(tmp_path):
    one, w1 = _run(tmp_path, "one")
    two, w2 = _run(tmp_path, "two", processes=2)
    acc, wa = _run(tmp_path, "acc", "--micro-batches", "2")
    assert two["world_size"] == 2 and one["world_size"] == 1
    assert one["losses"][-1] < one["losses"][0] - 0.3                      # it trained
    for other, weights in ((two, w2), (acc, wa)):
        assert max(abs(a - b) for a, b in zip(one["losses"], other["losses"])) < 1e-5
        for name, w in w1.items():
            diff = (w - weights[name]).abs()
            keys = _key_bias(name)
            if keys is not None:
                diff[keys] = 0.0
            assert diff.max().item() < 1e-5, name


def test_the_key_bias_gradient_is_zero_up_to_rounding():
    from llmcourse.distributed import _data, build, global_batch

    config = RunConfig(steps=1, global_batch=4, block_size=16, d_model=32, n_texts=40)
    data, vocab = _data(config)
    model = build(config, vocab)
    x, y = global_batch(data, config, 0)
    torch.nn.functional.cross_entropy(model(x).flatten(0, 1), y.flatten()).backward()
    for block in model.blocks:
        q, k, v = (g.abs().max().item() for g in block.attn.qkv.bias.grad.split(32))
        assert k < 1e-9 and q > 1e3 * k and v > 1e6 * k, (q, k, v)
