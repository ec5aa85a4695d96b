"""Chapter 07 — GPT: the model, its caches and generation, optimizer groups, the LR schedule.

Shrunk configurations (2 layers, 32 dims, context 12) keep these fast.
"""

from __future__ import annotations

import math

import pytest
import torch

from llmcourse import gpt
from llmcourse.training import train


SMALL = dict(vocab_size=11, block_size=12, n_layers=2, n_heads=2, d_model=32)


def small(seed: int = 0, **overrides) -> gpt.GPT:
    torch.manual_seed(seed)
    return gpt.GPT(gpt.GPTConfig(**{**SMALL, **overrides}))


def sharpened(seed: int = 0, **overrides) -> gpt.GPT:
    """Larger weights than at initialisation: varied, confident predictions for the cache tests."""
    model = small(seed, **overrides)
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() == 2:
                p.mul_(3.0)
    return model.eval()


# --------------------------------------------------------------------------- config

@pytest.mark.parametrize("bad, match", [
    (dict(vocab_size=0), "vocab_size"), (dict(block_size=1.5), "block_size"), (dict(n_layers=0), "n_layers"),
    (dict(d_model=30, n_heads=4), "divisible"), (dict(dropout=1.0), "dropout"), (dict(d_ff=0), "d_ff"),
    (dict(bias="yes"), "bias"), (dict(n_heads=True), "n_heads"),
])
def test_config_is_validated(bad, match):
    with pytest.raises(ValueError, match=match):
        gpt.GPTConfig(**{**SMALL, **bad})


def test_config_is_frozen():
    config = gpt.GPTConfig(**SMALL)
    with pytest.raises(Exception):
        config.n_layers = 3
    with pytest.raises(TypeError):
        gpt.GPT(dict(SMALL))


# --------------------------------------------------------------------------- model

def test_forward_shape_tying_and_parameter_count():
    model = small()
    assert model.max_context == 12
    assert model(torch.zeros(3, 12, dtype=torch.long)).shape == (3, 12, 11)
    assert model.lm_head.weight is model.tok_emb.weight
    V, T, C, L = 11, 12, 32, 2
    per_block = 2 * 2 * C + (C * 3 * C + 3 * C) + (C * C + C) + (C * 4 * C + 4 * C) + (4 * C * C + C)
    expected = V * C + T * C + L * per_block + 2 * C                   # the head adds nothing: tied
    assert model.num_parameters() == expected
    assert model.num_parameters(non_embedding=True) == expected - V * C - T * C
    assert small(d_ff=50).num_parameters() == expected + L * (50 - 4 * C) * (2 * C + 1)


def test_initialisation():
    model = small(n_layers=8, d_model=64, vocab_size=200, block_size=64)
    std = 0.02 / math.sqrt(2 * 8)
    for name, p in model.named_parameters():
        if name.endswith("proj.weight"):
            assert abs(p.std().item() - std) < 0.15 * std, name
        elif p.dim() == 2:
            assert abs(p.std().item() - 0.02) < 0.15 * 0.02, name
        elif name.endswith("ln1.weight") or name.endswith("ln2.weight") or name == "ln_f.weight":
            assert torch.all(p == 1), name
        else:
            assert torch.all(p == 0), name
    # at initialisation the next-token distribution is nearly uniform: loss ≈ ln V
    x, y = torch.randint(0, 200, (2, 4, 64))
    loss = torch.nn.functional.cross_entropy(model(x).flatten(0, 1), y.flatten())
    assert abs(loss.item() - math.log(200)) < 0.05


@pytest.mark.parametrize("fast", [False, True])
def test_forward_traces_as_one_graph(fast):
    # bench/gpt_throughput.py --compile: the input checks must not split the graph (a value read back
    # from a tensor did, at every call), and the traced model computes the same logits
    import torch._dynamo

    model, x = small(fast=fast), torch.randint(0, SMALL["vocab_size"], (2, 12))
    torch._dynamo.reset()
    explained = torch._dynamo.explain(model)(x)
    assert explained.graph_break_count == 0, explained.break_reasons
    compiled = torch.compile(model, backend="eager", fullgraph=True)
    torch.testing.assert_close(compiled(x), model(x))
    torch._dynamo.reset()


def test_forward_rejects_bad_input():
    model = small()
    with pytest.raises(ValueError, match="block_size=12"):
        model(torch.zeros(1, 13, dtype=torch.long))
    with pytest.raises(ValueError, match=r"\[0, vocab_size\) = \[0, 11\)"):
        model(torch.tensor([[0, 11]]))
    with pytest.raises(ValueError, match=r"\[0, vocab_size\) = \[0, 11\)"):
        model(torch.tensor([[-1, 2]]))
    with pytest.raises(ValueError, match="dtype long"):
        model(torch.zeros(1, 3))
    with pytest.raises(ValueError, match=r"\(B, T\)"):
        model(torch.zeros(3, dtype=torch.long))
    caches = model.new_caches()
    model(torch.zeros(1, 10, dtype=torch.long), caches=caches)
    with pytest.raises(ValueError, match="10 cached \\+ 3 new"):
        model(torch.zeros(1, 3, dtype=torch.long), caches=caches)
    with pytest.raises(ValueError, match="one KVCache per block"):
        model(torch.zeros(1, 3, dtype=torch.long), caches=caches[:1])


def test_model_is_causal():
    model = small()
    x = torch.randint(0, 11, (2, 12))
    y = x.clone()
    y[:, 7:] = (y[:, 7:] + 1) % 11
    torch.testing.assert_close(model(x)[:, :7], model(y)[:, :7], atol=0, rtol=0)


def test_readable_and_fast_models_agree():
    slow, fast = small(), small(fast=True)
    fast.load_state_dict(slow.state_dict())
    x = torch.randint(0, 11, (3, 12))
    torch.testing.assert_close(slow(x), fast(x), atol=1e-5, rtol=0)


@pytest.mark.parametrize("fast", [False, True])
def test_cached_logits_equal_uncached(fast):
    model = sharpened(fast=fast)
    x = torch.randint(0, 11, (3, 12), generator=torch.Generator().manual_seed(1))
    full = model(x)
    caches = model.new_caches()
    pieces = [model(x[:, a:b], caches=caches) for a, b in [(0, 5), (5, 6), (6, 7), (7, 11), (11, 12)]]
    assert [len(c) for c in caches] == [12, 12]
    torch.testing.assert_close(torch.cat(pieces, dim=1), full, atol=1e-4, rtol=1e-5)


@pytest.mark.parametrize("fast", [False, True])
@pytest.mark.parametrize("new", [5, 20])                  # 20: past block_size, the window slides
def test_greedy_generation_same_with_and_without_cache(fast, new):
    model = sharpened(fast=fast)
    prompt = torch.randint(0, 11, (4, 3), generator=torch.Generator().manual_seed(2))
    with_cache = model.generate(prompt, new, greedy=True, use_cache=True)
    without = model.generate(prompt, new, greedy=True, use_cache=False)
    assert with_cache.shape == (4, 3 + new)
    assert torch.equal(with_cache, without)
    assert torch.equal(with_cache[:, :3], prompt)
    # by hand: argmax of the model on the cropped context at every step
    ids = prompt
    for _ in range(new):
        ids = torch.cat([ids, model(ids[:, -12:])[:, -1].argmax(-1, keepdim=True)], 1)
    assert torch.equal(ids, with_cache)


def test_sampling_is_reproducible_and_top_k_one_is_greedy():
    model = sharpened()
    prompt = torch.zeros(2, 1, dtype=torch.long)
    a = model.generate(prompt, 15, generator=torch.Generator().manual_seed(0))
    b = model.generate(prompt, 15, generator=torch.Generator().manual_seed(0), use_cache=False)
    assert torch.equal(a, b)
    assert torch.equal(model.generate(prompt, 15, top_k=1, generator=torch.Generator().manual_seed(5)),
                       model.generate(prompt, 15, greedy=True))
    assert model.generate(prompt, 0).shape == (2, 1)
    model.train()
    model.generate(prompt, 2)
    assert model.training, "generate must give the model back in the mode it was in"
    with pytest.raises(ValueError, match="temperature"):
        model.generate(prompt, 2, temperature=0.0)
    with pytest.raises(ValueError, match="top_k"):
        model.generate(prompt, 2, top_k=0)


def test_works_with_the_decoding_module():
    decoding = pytest.importorskip("llmcourse.decoding")
    model = sharpened()
    prompt = torch.randint(0, 11, (2, 4), generator=torch.Generator().manual_seed(3))
    ours = model.generate(prompt, 15, greedy=True)
    theirs = decoding.generate(model, prompt, 15, temperature=0)
    assert torch.equal(ours, theirs)


# --------------------------------------------------------------------------- optimizer

def test_param_groups_are_disjoint_and_complete():
    model = small()
    groups = gpt.param_groups(model, 0.1)
    decay, no_decay = groups[0]["params"], groups[1]["params"]
    assert groups[0]["weight_decay"] == 0.1 and groups[1]["weight_decay"] == 0.0
    ids = [id(p) for p in decay + no_decay]
    assert len(ids) == len(set(ids)), "a parameter appears twice"
    assert set(ids) == {id(p) for p in model.parameters()}, "a parameter is missing"
    assert sum(p.numel() for p in decay + no_decay) == model.num_parameters()
    names = {id(p): n for n, p in model.named_parameters()}
    assert all(p.dim() == 2 for p in decay) and all(p.dim() == 1 for p in no_decay)
    assert {names[id(p)] for p in decay} >= {"tok_emb.weight", "pos_emb.weight", "blocks.0.attn.qkv.weight"}
    assert {names[id(p)] for p in no_decay} >= {"ln_f.weight", "ln_f.bias", "blocks.1.mlp.fc.bias"}
    assert sum(1 for p in decay if p is model.lm_head.weight) == 1      # tied: once


def test_configure_optimizer():
    model = small()
    opt = gpt.configure_optimizer(model, lr=1e-3, weight_decay=0.2, betas=(0.8, 0.9))
    assert isinstance(opt, torch.optim.AdamW)
    assert [g["weight_decay"] for g in opt.param_groups] == [0.2, 0.0]
    assert all(g["lr"] == 1e-3 and g["betas"] == (0.8, 0.9) for g in opt.param_groups)
    # a bias with zero gradient is not shrunk; a matrix with zero gradient is
    for p in model.parameters():
        p.grad = torch.zeros_like(p)
    bias_before, w_before = model.ln_f.bias.clone() + 1.0, model.blocks[0].attn.qkv.weight.clone()
    with torch.no_grad():
        model.ln_f.bias.add_(1.0)
    opt.step()
    torch.testing.assert_close(model.ln_f.bias, bias_before)
    torch.testing.assert_close(model.blocks[0].attn.qkv.weight, w_before * (1 - 1e-3 * 0.2))
    with pytest.raises(ValueError, match="lr"):
        gpt.configure_optimizer(model, lr=0.0)


# --------------------------------------------------------------------------- schedule

def test_lr_schedule_hand_computed():
    f = lambda s: gpt.lr_schedule(s, max_lr=1e-3, warmup_steps=10, total_steps=110, min_lr=1e-4)  # noqa: E731
    assert f(0) == 0.0
    assert f(5) == pytest.approx(5e-4)
    assert f(10) == pytest.approx(1e-3)                                  # peak at the end of warmup
    assert f(60) == pytest.approx(1e-4 + 0.9e-3 * 0.5)                   # half-way: the mean
    assert f(35) == pytest.approx(1e-4 + 0.9e-3 * 0.5 * (1 + math.cos(math.pi / 4)))
    assert f(110) == pytest.approx(1e-4) and f(500) == pytest.approx(1e-4)
    values = [f(s) for s in range(10, 111)]
    assert all(a >= b for a, b in zip(values, values[1:])), "cosine part must not increase"
    no_warmup = gpt.lr_schedule(3, max_lr=0.5, warmup_steps=0, total_steps=4)
    assert no_warmup == pytest.approx(0.5 * 0.5 * (1 + math.cos(0.75 * math.pi)))


@pytest.mark.parametrize("kwargs, match", [
    (dict(step=-1), "step"), (dict(warmup_steps=-1), "warmup_steps"), (dict(total_steps=5), "total_steps"),
    (dict(min_lr=2.0), "min_lr"), (dict(step=1.5), "step"),
])
def test_lr_schedule_rejects_bad_arguments(kwargs, match):
    args = dict(step=0, max_lr=1.0, warmup_steps=10, total_steps=100, min_lr=0.0) | kwargs
    step = args.pop("step")
    with pytest.raises(ValueError, match=match):
        gpt.lr_schedule(step, **args)


def test_train_follows_the_schedule_and_learns():
    model = small()
    data = torch.tensor([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10] * 40)
    opt = gpt.configure_optimizer(model, lr=1e-2)
    seen = []

    def schedule(step):
        lr = gpt.lr_schedule(step, max_lr=1e-2, warmup_steps=5, total_steps=40, min_lr=1e-3)
        seen.append(step)
        return lr

    history = train(model, data, data[:100], steps=40, batch_size=8, block_size=12, optimizer=opt,
                    lr_schedule=schedule, eval_every=20, progress=False)
    assert seen == list(range(40))
    assert opt.param_groups[0]["lr"] == pytest.approx(gpt.lr_schedule(39, max_lr=1e-2, warmup_steps=5,
                                                                      total_steps=40, min_lr=1e-3))
    assert history.val[-1] < 0.5 * history.val[0]
