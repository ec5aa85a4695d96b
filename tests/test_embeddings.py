"""Embeddings and positions (Chapter 03) against independent oracles."""

import doctest
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from llmcourse import embeddings
from llmcourse.embeddings import (LearnedPositions, TokenSegmentPositionEmbedding, apply_rope, cosine_similarity,
                                  nearest_neighbours, one_hot_lookup, pca_2d, sinusoidal_positions)


def test_docstring_examples():
    assert doctest.testmod(embeddings).failed == 0


def test_one_hot_lookup_equals_nn_embedding():
    torch.manual_seed(0)
    emb = torch.nn.Embedding(11, 5)
    ids = torch.randint(0, 11, (3, 7))
    out = one_hot_lookup(ids, emb.weight)
    assert out.shape == (3, 7, 5)
    torch.testing.assert_close(out, emb(ids))
    torch.testing.assert_close(out, F.one_hot(ids, 11).float() @ emb.weight)


def test_one_hot_lookup_refuses_bad_ids():
    w = torch.zeros(4, 2)
    with pytest.raises(ValueError, match=r"\[0, 4\)"):
        one_hot_lookup(torch.tensor([0, 4]), w)
    with pytest.raises(ValueError, match="integer"):
        one_hot_lookup(torch.tensor([0.0]), w)
    with pytest.raises(ValueError, match="V, D"):
        one_hot_lookup(torch.tensor([0]), torch.zeros(4))


def test_cosine_similarity_matches_torch():
    g = torch.Generator().manual_seed(1)
    a, b = torch.randn(6, 8, generator=g), torch.randn(4, 8, generator=g)
    want = F.cosine_similarity(a[:, None, :], b[None, :, :], dim=-1)
    torch.testing.assert_close(cosine_similarity(a, b), want)
    assert cosine_similarity(a).shape == (6, 6)
    torch.testing.assert_close(cosine_similarity(a).diagonal(), torch.ones(6))
    assert cosine_similarity(a[0], b).shape == (4,)
    assert cosine_similarity(a[0], b[0]).shape == ()
    assert float(cosine_similarity(torch.zeros(1, 3), a[:1, :3])) == 0.0
    with pytest.raises(ValueError, match="same dimension"):
        cosine_similarity(a, torch.randn(2, 3))


def test_nearest_neighbours_by_index_and_by_vector():
    v = torch.tensor([[1.0, 0.0], [10.0, 1.0], [0.0, 1.0], [-1.0, 0.0], [1.0, 0.5]])
    idx, sims = nearest_neighbours(v, 0, k=2)
    assert idx.tolist() == [1, 4]                      # scale does not matter, the query is left out
    assert sims[0] > sims[1]
    idx, _ = nearest_neighbours(v, 0, k=2, exclude_self=False)
    assert idx.tolist() == [0, 1]
    idx, _ = nearest_neighbours(v, torch.tensor([0.0, 2.0]), k=1)
    assert idx.tolist() == [2]
    with pytest.raises(ValueError, match="k must"):
        nearest_neighbours(v, 0, k=5)
    with pytest.raises(IndexError):
        nearest_neighbours(v, 7)


def test_pca_2d_matches_numpy_up_to_sign():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(30, 6)) * np.array([5.0, 3.0, 1.0, 0.5, 0.2, 0.1])
    centred = x - x.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    want = centred @ vt[:2].T
    got = pca_2d(torch.tensor(x)).numpy()
    for j in range(2):
        assert np.allclose(np.abs(got[:, j]), np.abs(want[:, j]), atol=1e-8)
        assert np.allclose(got[:, j] * np.sign(got[:, j] @ want[:, j]), want[:, j], atol=1e-8)
    assert got.var(axis=0)[0] > got.var(axis=0)[1]


def test_sinusoidal_positions_hand_computed():
    pe = sinusoidal_positions(50, 8)
    assert pe.shape == (50, 8) and pe.dtype == torch.float32
    for p, i in ((0, 0), (1, 0), (7, 1), (33, 3)):
        angle = p / 10000 ** (2 * i / 8)
        assert math.isclose(float(pe[p, 2 * i]), math.sin(angle), abs_tol=1e-6)
        assert math.isclose(float(pe[p, 2 * i + 1]), math.cos(angle), abs_tol=1e-6)
    assert math.isclose(float(sinusoidal_positions(3, 4, base=100.0)[2, 2]), math.sin(2 / 10), abs_tol=1e-6)
    with pytest.raises(ValueError, match="even"):
        sinusoidal_positions(4, 5)


def test_learned_positions_add_and_refuse_long_inputs():
    torch.manual_seed(0)
    pos = LearnedPositions(6, 4)
    x = torch.randn(2, 5, 4)
    torch.testing.assert_close(pos(x), x + pos.weight[:5])
    with pytest.raises(ValueError, match="longer"):
        pos(torch.zeros(1, 7, 4))


def _rope_complex(x: torch.Tensor, positions: torch.Tensor, base: float = 10000.0) -> torch.Tensor:
    """Oracle: view adjacent pairs as complex numbers and multiply by e^{i p θ_j}."""
    d = x.shape[-1]
    theta = base ** (-torch.arange(0, d, 2, dtype=torch.float64) / d)
    z = torch.view_as_complex(x.double().reshape(*x.shape[:-1], d // 2, 2).contiguous())
    rot = torch.polar(torch.ones_like(theta), positions.double()[:, None] * theta)
    return torch.view_as_real(z * rot).reshape(x.shape)


@pytest.mark.parametrize("shape", [(5, 4), (2, 3, 7, 8), (1, 16, 2)])
def test_rope_equals_complex_multiplication(shape):
    g = torch.Generator().manual_seed(2)
    x = torch.randn(*shape, generator=g, dtype=torch.float64)
    positions = torch.arange(shape[-2]) * 3 + 1
    torch.testing.assert_close(apply_rope(x, positions), _rope_complex(x, positions))
    torch.testing.assert_close(apply_rope(x), _rope_complex(x, torch.arange(shape[-2])))


def test_rope_keeps_norms_and_scores_depend_on_offset_only():
    g = torch.Generator().manual_seed(3)
    q, k = torch.randn(1, 16, generator=g), torch.randn(1, 16, generator=g)
    x = torch.randn(9, 16, generator=g)
    torch.testing.assert_close(apply_rope(x).norm(dim=-1), x.norm(dim=-1))
    score = lambda m, n: float((apply_rope(q, torch.tensor([m])) * apply_rope(k, torch.tensor([n]))).sum())  # noqa: E731
    for m, n in ((3, 1), (12, 10), (102, 100)):
        assert math.isclose(score(m, n), score(2, 0), abs_tol=1e-4)
    with pytest.raises(ValueError, match="even D"):
        apply_rope(torch.zeros(3, 5))


def test_token_segment_position_embedding_is_the_sum():
    torch.manual_seed(0)
    emb = TokenSegmentPositionEmbedding(20, 8, max_positions=10, layer_norm=False)
    ids = torch.randint(0, 20, (2, 6))
    seg = torch.tensor([[0, 0, 0, 1, 1, 1], [0, 0, 1, 1, 1, 1]])
    want = emb.word_embeddings.weight[ids] + emb.token_type_embeddings.weight[seg] + emb.position_embeddings.weight[:6]
    torch.testing.assert_close(emb(ids, seg), want)
    normed = TokenSegmentPositionEmbedding(20, 8, max_positions=10)
    out = normed(ids)
    torch.testing.assert_close(out.mean(-1), torch.zeros(2, 6), atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match="max_positions"):
        normed(torch.zeros(1, 11, dtype=torch.long))
    with pytest.raises(ValueError, match="segment_ids"):
        normed(ids, seg[:, :3])
