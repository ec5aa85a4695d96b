"""Chapter 06 — the transformer block: LayerNorm, heads, multi-head attention, feed-forward, blocks.

Oracles: ``torch.nn.LayerNorm``, ``torch.nn.MultiheadAttention`` and
``F.scaled_dot_product_attention`` given the same weights; formulas written out by hand.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from llmcourse import transformer as tr
from llmcourse.attention import causal_mask, padding_mask


# --------------------------------------------------------------------------- LayerNorm

@pytest.mark.parametrize("shape", [(7,), (3, 7), (2, 5, 7)])
@pytest.mark.parametrize("eps", [1e-5, 1e-2])
def test_layer_norm_equals_torch(shape, eps):
    torch.manual_seed(0)
    ref, ours = torch.nn.LayerNorm(7, eps=eps), tr.LayerNorm(7, eps=eps)
    with torch.no_grad():
        ref.weight.normal_()
        ref.bias.normal_()
    ours.load_state_dict(ref.state_dict())                      # same names: weight, bias
    x = 3 * torch.randn(shape) + 1
    x1, x2 = x.clone().requires_grad_(), x.clone().requires_grad_()
    y_ours, y_ref = ours(x1), ref(x2)
    torch.testing.assert_close(y_ours, y_ref, atol=1e-5, rtol=0)
    g = torch.randn(shape)
    (y_ours * g).sum().backward()
    (y_ref * g).sum().backward()
    torch.testing.assert_close(x1.grad, x2.grad, atol=1e-4, rtol=0)
    torch.testing.assert_close(ours.weight.grad, ref.weight.grad, atol=1e-4, rtol=0)


def test_layer_norm_fresh_layer_normalises():
    x = torch.tensor([[1.0, 3.0], [10.0, 10.0]])
    y = tr.LayerNorm(2)(x)
    torch.testing.assert_close(y[0], torch.tensor([-1.0, 1.0]), atol=1e-4, rtol=0)   # biased variance: 1
    assert torch.all(y[1] == 0)                                  # constant vector: eps avoids 0/0
    z = tr.LayerNorm(16)(5 + 3 * torch.randn(4, 16))
    torch.testing.assert_close(z.mean(-1), torch.zeros(4), atol=1e-5, rtol=0)
    torch.testing.assert_close(z.var(-1, unbiased=False), torch.ones(4), atol=1e-4, rtol=0)


def test_layer_norm_rejects_wrong_size():
    with pytest.raises(ValueError, match=r"\(\.\.\., 4\)"):
        tr.LayerNorm(4)(torch.zeros(2, 3))
    with pytest.raises(ValueError, match="d_model"):
        tr.LayerNorm(0)


# --------------------------------------------------------------------------- heads

def test_split_heads_gives_each_head_its_columns():
    x = torch.randn(2, 5, 12)
    heads = tr.split_heads(x, 3)
    assert heads.shape == (2, 3, 5, 4)
    for h in range(3):
        assert torch.equal(heads[:, h], x[:, :, 4 * h:4 * (h + 1)])
    assert torch.equal(tr.merge_heads(heads), x)
    assert tr.merge_heads(heads).shape == (2, 5, 12)


def test_merge_heads_puts_head_h_in_columns_h():
    heads = torch.randn(2, 3, 5, 4)
    merged = tr.merge_heads(heads)
    for h in range(3):
        assert torch.equal(merged[:, :, 4 * h:4 * (h + 1)], heads[:, h])


def test_heads_reject_bad_shapes():
    with pytest.raises(ValueError, match="divisible"):
        tr.split_heads(torch.zeros(1, 2, 10), 3)
    with pytest.raises(ValueError, match=r"\(B, T, H·D\)"):
        tr.split_heads(torch.zeros(2, 10), 2)
    with pytest.raises(ValueError, match=r"\(B, H, T, D\)"):
        tr.merge_heads(torch.zeros(2, 3, 4))


# --------------------------------------------------------------------------- multi-head attention

def _pair(d=16, h=4, bias=True, fast=False, seed=0):
    torch.manual_seed(seed)
    ref = torch.nn.MultiheadAttention(d, h, bias=bias, batch_first=True)
    if bias:
        with torch.no_grad():
            ref.in_proj_bias.normal_()
            ref.out_proj.bias.normal_()
    return tr.MultiHeadAttention(d, h, bias=bias, fast=fast).load_torch(ref).eval(), ref.eval()


@pytest.mark.parametrize("fast", [False, True])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("case", ["none", "causal", "padding", "causal+padding"])
def test_mha_equals_torch(fast, bias, case):
    ours, ref = _pair(bias=bias, fast=fast)
    B, T = 3, 7
    x = torch.randn(B, T, 16)
    lengths = torch.tensor([7, 4, 1])
    causal = "causal" in case
    mask = padding_mask(lengths, T) if "padding" in case else None
    kw = {}
    if causal:
        kw["attn_mask"] = ~causal_mask(T)                        # torch: True = NOT allowed
    if mask is not None:
        kw["key_padding_mask"] = ~mask[:, 0, 0, :]               # torch: True = ignore this key
    want, want_w = ref(x, x, x, need_weights=True, average_attn_weights=False, **kw)
    got = ours(x, causal=causal, mask=mask)
    torch.testing.assert_close(got, want, atol=1e-5, rtol=0)
    got2, got_w = ours(x, causal=causal, mask=mask, return_weights=True)
    torch.testing.assert_close(got2, want, atol=1e-5, rtol=0)
    torch.testing.assert_close(got_w, want_w, atol=1e-6, rtol=0)
    assert got_w.shape == (B, 4, T, T)


@pytest.mark.parametrize("case", ["none", "causal", "padding", "causal+padding"])
def test_mha_readable_and_fast_paths_agree(case):
    torch.manual_seed(1)
    slow = tr.MultiHeadAttention(24, 3)
    fast = tr.MultiHeadAttention(24, 3, fast=True)
    fast.load_state_dict(slow.state_dict())
    x = torch.randn(4, 9, 24, requires_grad=True)
    mask = padding_mask(torch.tensor([9, 5, 2, 7]), 9) if "padding" in case else None
    a = slow(x, causal="causal" in case, mask=mask)
    b = fast(x, causal="causal" in case, mask=mask)
    torch.testing.assert_close(a, b, atol=1e-6, rtol=0)
    (ga,) = torch.autograd.grad(a.square().sum(), x)
    (gb,) = torch.autograd.grad(b.square().sum(), x)
    torch.testing.assert_close(ga, gb, atol=1e-5, rtol=0)


@pytest.mark.parametrize("fast", [False, True])
def test_mha_cache_equals_full_causal(fast):
    torch.manual_seed(2)
    mha = tr.MultiHeadAttention(16, 2, fast=fast).eval()
    x = torch.randn(2, 10, 16)
    full = mha(x, causal=True)
    cache = tr.KVCache()
    pieces = [mha(x[:, a:b], causal=True, cache=cache) for a, b in [(0, 4), (4, 5), (5, 8), (8, 9), (9, 10)]]
    assert len(cache) == 10
    torch.testing.assert_close(torch.cat(pieces, dim=1), full, atol=1e-5, rtol=0)


def test_mha_causal_output_ignores_the_future():
    torch.manual_seed(3)
    mha = tr.MultiHeadAttention(8, 2)
    x = torch.randn(1, 6, 8)
    y = x.clone()
    y[:, 4:] = torch.randn(1, 2, 8)
    torch.testing.assert_close(mha(x, causal=True)[:, :4], mha(y, causal=True)[:, :4], atol=0, rtol=0)
    assert not torch.allclose(mha(x)[:, :4], mha(y)[:, :4])      # without the mask it does see it


def test_mha_dropout_only_in_training():
    torch.manual_seed(4)
    for fast in (False, True):
        mha = tr.MultiHeadAttention(8, 2, dropout=0.5, fast=fast)
        x = torch.randn(2, 5, 8)
        mha.eval()
        torch.testing.assert_close(mha(x), mha(x))
        mha.train()
        assert not torch.allclose(mha(x), mha(x))


def test_mha_rejects_bad_input():
    mha = tr.MultiHeadAttention(8, 2)
    with pytest.raises(ValueError, match=r"\(B, T, 8\)"):
        mha(torch.zeros(2, 5, 6))
    with pytest.raises(ValueError, match="bool"):
        mha(torch.zeros(2, 5, 8), mask=torch.ones(5, 5))
    with pytest.raises(ValueError, match="divisible"):
        tr.MultiHeadAttention(10, 3)
    with pytest.raises(ValueError, match="dropout"):
        tr.MultiHeadAttention(8, 2, dropout=1.0)
    with pytest.raises(ValueError, match="sizes differ"):
        mha.load_torch(torch.nn.MultiheadAttention(8, 4, batch_first=True))
    with pytest.raises(ValueError, match="batch_first"):
        mha.load_torch(torch.nn.MultiheadAttention(8, 2))
    cache = tr.KVCache()
    cache.append(torch.zeros(1, 2, 3, 4), torch.zeros(1, 2, 3, 4))
    with pytest.raises(ValueError, match="do not match"):
        cache.append(torch.zeros(2, 2, 1, 4), torch.zeros(2, 2, 1, 4))
    cache.reset()
    assert len(cache) == 0


# --------------------------------------------------------------------------- feed-forward and block

def test_feed_forward_is_exact_gelu_mlp():
    torch.manual_seed(5)
    ff = tr.FeedForward(6)
    assert ff.fc.weight.shape == (24, 6) and ff.proj.weight.shape == (6, 24)
    x = 3 * torch.randn(2, 4, 6)
    h = x @ ff.fc.weight.T + ff.fc.bias
    gelu = h * 0.5 * (1 + torch.erf(h / math.sqrt(2)))           # x Φ(x), not the tanh approximation
    want = gelu @ ff.proj.weight.T + ff.proj.bias
    torch.testing.assert_close(ff(x), want, atol=1e-5, rtol=0)
    assert tr.FeedForward(6, 10).fc.out_features == 10


@pytest.mark.parametrize("pre_ln", [True, False])
def test_block_formula(pre_ln):
    torch.manual_seed(6)
    block = tr.Block(16, 4, pre_ln=pre_ln)
    with torch.no_grad():                                        # non-trivial norms
        for ln in (block.ln1, block.ln2):
            ln.weight.normal_()
            ln.bias.normal_()
    x = torch.randn(2, 5, 16)
    a, f, l1, l2 = block.attn, block.mlp, block.ln1, block.ln2
    if pre_ln:
        h = x + a(l1(x), causal=True)
        want = h + f(l2(h))
    else:
        h = l1(x + a(x, causal=True))
        want = l2(h + f(h))
    torch.testing.assert_close(block(x), want, atol=1e-6, rtol=0)
    no_causal = block(x, causal=False)
    assert not torch.allclose(no_causal, want)


def test_block_with_torch_parts_equals_reference():
    """A pre-LN block assembled from torch's LayerNorm, MultiheadAttention and GELU MLP."""
    torch.manual_seed(7)
    d, h, T = 16, 4, 6
    ln1, ln2 = torch.nn.LayerNorm(d), torch.nn.LayerNorm(d)
    mha = torch.nn.MultiheadAttention(d, h, batch_first=True)
    mlp = torch.nn.Sequential(torch.nn.Linear(d, 4 * d), torch.nn.GELU(), torch.nn.Linear(4 * d, d))
    block = tr.Block(d, h)
    block.ln1.load_state_dict(ln1.state_dict())
    block.ln2.load_state_dict(ln2.state_dict())
    block.attn.load_torch(mha)
    block.mlp.fc.load_state_dict(mlp[0].state_dict())
    block.mlp.proj.load_state_dict(mlp[2].state_dict())
    x = torch.randn(3, T, d)
    n = ln1(x)
    y = x + mha(n, n, n, attn_mask=~causal_mask(T), need_weights=False)[0]
    want = y + mlp(ln2(y))
    torch.testing.assert_close(block(x), want, atol=1e-5, rtol=0)


@pytest.mark.parametrize("pre_ln", [True, False])
def test_block_cache_equals_full(pre_ln):
    torch.manual_seed(8)
    block = tr.Block(16, 2, pre_ln=pre_ln).eval()
    x = torch.randn(2, 7, 16)
    cache = tr.KVCache()
    got = torch.cat([block(x[:, :3], cache=cache), block(x[:, 3:4], cache=cache), block(x[:, 4:], cache=cache)], 1)
    torch.testing.assert_close(got, block(x), atol=1e-5, rtol=0)


def test_fast_layer_norm_equals_the_readable_one():
    torch.manual_seed(0)
    readable, fast = tr.LayerNorm(16), tr.LayerNorm(16, fast=True)
    with torch.no_grad():
        readable.weight.normal_(), readable.bias.normal_()
    fast.load_state_dict(readable.state_dict())
    x = torch.randn(3, 5, 16, requires_grad=True)
    assert torch.allclose(readable(x), fast(x), atol=1e-5)
    g1, = torch.autograd.grad(readable(x).square().sum(), x)
    g2, = torch.autograd.grad(fast(x).square().sum(), x)
    assert torch.allclose(g1, g2, atol=1e-4)
