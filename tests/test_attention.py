"""Chapter 05 — attention: scaled dot-product attention and its masks against torch's fused kernel."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from llmcourse.attention import causal_mask, combine_masks, padding_mask, scaled_dot_product_attention

ATOL = 1e-6


def _qkv(*lead, t_q=5, t_k=7, d=8, dv=6, dtype=torch.float32, seed=0):
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(*lead, t_q, d, generator=g, dtype=dtype)
    k = torch.randn(*lead, t_k, d, generator=g, dtype=dtype)
    v = torch.randn(*lead, t_k, dv, generator=g, dtype=dtype)
    return q, k, v


def _masks():
    """name → (t_q, t_k, mask builder for batch 2) covering no mask, causal, padding, combined, KV-cache."""
    lengths = torch.tensor([4, 7])
    return {
        "none": (5, 7, None),
        "causal_square": (7, 7, causal_mask(7)),
        "causal_cache": (3, 7, causal_mask(3, 7)),
        "padding": (5, 7, padding_mask(lengths, 7)),
        "combined": (7, 7, combine_masks(causal_mask(7), padding_mask(lengths, 7))),
        "random": (5, 7, torch.rand(2, 4, 5, 7, generator=torch.Generator().manual_seed(3)) < 0.6),
    }


@pytest.mark.parametrize("case", sorted(_masks()))
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_equals_torch_fused_kernel(case, dtype):
    t_q, t_k, mask = _masks()[case]
    q, k, v = _qkv(2, 4, t_q=t_q, t_k=t_k, dtype=dtype)      # batch 2, 4 heads
    out, weights = scaled_dot_product_attention(q, k, v, mask, return_weights=True)
    want = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=0.0)
    assert out.shape == (2, 4, t_q, 6) and weights.shape == (2, 4, t_q, t_k)
    torch.testing.assert_close(out, want, atol=ATOL, rtol=0)
    torch.testing.assert_close(scaled_dot_product_attention(q, k, v, mask), out, atol=0, rtol=0)


def test_causal_mask_equals_torch_is_causal_for_square():
    q, k, v = _qkv(3, 2, t_q=9, t_k=9)
    want = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    torch.testing.assert_close(scaled_dot_product_attention(q, k, v, causal_mask(9)), want, atol=ATOL, rtol=0)


def test_unbatched_and_broadcast_leading_dims():
    q, k, v = _qkv(t_q=4, t_k=6)                                # no batch dims at all
    torch.testing.assert_close(scaled_dot_product_attention(q, k, v),
                               F.scaled_dot_product_attention(q, k, v), atol=ATOL, rtol=0)
    q4, k4, v4 = _qkv(2, 3, t_q=4, t_k=6, seed=1)
    # keys/values shared by every head: (2, 1, Tk, d) broadcasts against queries (2, 3, Tq, d)
    out = scaled_dot_product_attention(q4, k4[:, :1], v4[:, :1])
    torch.testing.assert_close(out, scaled_dot_product_attention(q4, k4[:, :1].expand_as(k4), v4[:, :1].expand_as(v4)))


def test_hand_computed_case():
    q = torch.tensor([[1.0, 0.0]])
    k = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    v = torch.tensor([[1.0, 0.0], [0.0, 1.0], [5.0, 5.0]])
    scores = torch.tensor([1.0, 0.0, 1.0]) / math.sqrt(2)
    w = scores.exp() / scores.exp().sum()
    out, weights = scaled_dot_product_attention(q, k, v, return_weights=True)
    torch.testing.assert_close(weights[0], w)
    torch.testing.assert_close(out[0], w @ v)
    # masking the third key: the other two renormalise to softmax([1/√2, 0])
    out, weights = scaled_dot_product_attention(q, k, v, torch.tensor([[True, True, False]]), return_weights=True)
    a = 1 / (1 + math.exp(-1 / math.sqrt(2)))
    torch.testing.assert_close(weights[0], torch.tensor([a, 1 - a, 0.0]))
    torch.testing.assert_close(out[0], torch.tensor([a, 1 - a]))


def test_weights_are_a_distribution_over_allowed_keys():
    q, k, v = _qkv(2, 4, t_q=7, t_k=7)
    mask = combine_masks(causal_mask(7), padding_mask(torch.tensor([3, 7]), 7))
    _, w = scaled_dot_product_attention(q, k, v, mask, return_weights=True)
    torch.testing.assert_close(w.sum(-1), torch.ones(2, 4, 7))
    assert torch.all(w[~mask.expand_as(w)] == 0)


def test_hard_lookup_is_the_limit_of_sharp_queries():
    keys = torch.eye(4)
    values = torch.tensor([[10.0], [20.0], [30.0], [40.0]])
    for scale in (50.0, 200.0):
        out = scaled_dot_product_attention(scale * keys[2:3], keys, values)
        assert abs(out.item() - 30.0) < 1e-3


def test_fully_masked_row_gives_zeros_like_torch():
    q, k, v = _qkv(1, 2, t_q=3, t_k=4)
    mask = torch.ones(3, 4, dtype=torch.bool)
    mask[1] = False
    out, w = scaled_dot_product_attention(q, k, v, mask, return_weights=True)
    assert torch.all(w[..., 1, :] == 0) and torch.all(out[..., 1, :] == 0)
    assert not torch.isnan(out).any()
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v, attn_mask=mask), atol=ATOL, rtol=0)
    # a padded sequence of length 0: every row empty, output zero
    out = scaled_dot_product_attention(*_qkv(2, 1, t_q=4, t_k=4), padding_mask(torch.tensor([0, 4]), 4))
    assert torch.all(out[0] == 0) and not torch.isnan(out).any()


def test_gradients_flow_through_masked_attention():
    q, k, v = (t.requires_grad_() for t in _qkv(2, 2, t_q=6, t_k=6))
    scaled_dot_product_attention(q, k, v, causal_mask(6)).square().sum().backward()
    assert all(torch.isfinite(t.grad).all() for t in (q, k, v))
    # the first query sees only the first key: its output does not depend on later keys or values
    q, k, v = (t.detach().requires_grad_() for t in (q, k, v))
    scaled_dot_product_attention(q, k, v, causal_mask(6))[..., 0, :].sum().backward()
    assert torch.all(k.grad[..., 1:, :] == 0) and torch.all(v.grad[..., 1:, :] == 0)
    assert v.grad[..., 0, :].abs().sum() > 0


def test_causal_mask_values():
    assert causal_mask(3).tolist() == [[True, False, False], [True, True, False], [True, True, True]]
    assert causal_mask(2, 4).tolist() == [[True, True, True, False], [True, True, True, True]]
    assert causal_mask(1, 5).tolist() == [[True] * 5]
    assert causal_mask(0, 3).shape == (0, 3) and causal_mask(4).dtype == torch.bool
    for t_q, t_k in [(5, 5), (3, 8), (1, 1)]:
        m = causal_mask(t_q, t_k)
        for i in range(t_q):
            for j in range(t_k):
                assert bool(m[i, j]) == (j <= t_k - t_q + i)
    torch.testing.assert_close(causal_mask(6), torch.ones(6, 6, dtype=torch.bool).tril())


def test_causal_cache_rows_equal_the_full_computation():
    """Queries for the last 3 positions only (as with a KV cache) give the last 3 rows of the full result."""
    q, k, v = _qkv(2, 2, t_q=8, t_k=8)
    full = scaled_dot_product_attention(q, k, v, causal_mask(8))
    last = scaled_dot_product_attention(q[..., -3:, :], k, v, causal_mask(3, 8))
    torch.testing.assert_close(last, full[..., -3:, :])


def test_padding_mask_values_and_shape():
    m = padding_mask(torch.tensor([2, 0, 3]), 3)
    assert m.shape == (3, 1, 1, 3) and m.dtype == torch.bool
    assert m[:, 0, 0].tolist() == [[True, True, False], [False, False, False], [True, True, True]]


def test_padded_keys_do_not_change_the_output():
    """Changing what sits in the padding positions changes nothing for a sequence's real queries."""
    q, k, v = _qkv(2, 2, t_q=6, t_k=6)
    lengths = torch.tensor([4, 6])
    mask = padding_mask(lengths, 6)
    k2, v2 = k.clone(), v.clone()
    k2[0, :, 4:] += 100.0
    v2[0, :, 4:] = 1e6
    torch.testing.assert_close(scaled_dot_product_attention(q, k, v, mask),
                               scaled_dot_product_attention(q, k2, v2, mask), atol=0, rtol=0)


def test_combine_masks():
    assert combine_masks() is None and combine_masks(None, None) is None
    c = causal_mask(3)
    assert combine_masks(None, c) is c
    both = combine_masks(c, padding_mask(torch.tensor([2]), 3))
    assert both.shape == (1, 1, 3, 3)
    assert both[0, 0].tolist() == [[True, False, False], [True, True, False], [True, True, False]]
    with pytest.raises(ValueError, match="bool"):
        combine_masks(c, c.float())


def test_bad_inputs_raise_clear_errors():
    q, k, v = _qkv(2, t_q=3, t_k=4)
    with pytest.raises(ValueError, match="same d"):
        scaled_dot_product_attention(q, k[..., :5], v)
    with pytest.raises(ValueError, match="same Tk"):
        scaled_dot_product_attention(q, k, v[:, :3])
    with pytest.raises(ValueError, match="dtype"):
        scaled_dot_product_attention(q, k.double(), v)
    with pytest.raises(ValueError, match="dtype"):
        scaled_dot_product_attention(q.long(), k.long(), v.long())
    with pytest.raises(ValueError, match="bool"):
        scaled_dot_product_attention(q, k, v, torch.zeros(3, 4))
    with pytest.raises(ValueError, match="do not broadcast"):
        scaled_dot_product_attention(q, k, v, torch.ones(4, 3, dtype=torch.bool))
    with pytest.raises(ValueError, match="broadcast"):
        scaled_dot_product_attention(q, torch.randn(3, 4, 8), torch.randn(3, 4, 6))
    with pytest.raises(ValueError, match=r"\(\.\.\., T, d\)"):
        scaled_dot_product_attention(torch.randn(8), k, v)
    with pytest.raises(ValueError, match="t_q <= t_k"):
        causal_mask(5, 3)
    with pytest.raises(ValueError, match="t_q <= t_k"):
        causal_mask(2.0)
    with pytest.raises(ValueError, match=r"shape \(B,\)"):
        padding_mask(torch.tensor([[2, 3]]), 4)
    with pytest.raises(ValueError, match=r"shape \(B,\)"):
        padding_mask(torch.tensor([2.0, 3.0]), 4)
    with pytest.raises(ValueError, match="max_len"):
        padding_mask(torch.tensor([2, 5]), 4)


def test_doctests():
    import doctest

    from llmcourse import attention

    assert doctest.testmod(attention).failed == 0
