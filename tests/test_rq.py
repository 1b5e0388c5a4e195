"""Residual quantiser building blocks: k-means init, nearest-codeword cascade, straight-through gradients,
collision resolution and the metrics, on small hand-made arrays."""

import numpy as np
import pytest
import torch

from model.tokenizer.collisions import assign_codes, collision_rate, max_items_per_code, resolve_collisions
from model.tokenizer.kmeans import kmeans
from model.tokenizer.metrics import codebook_usage, linear_probe, retrieval_accuracy
from model.tokenizer.quantizer import ResidualQuantizer


def test_kmeans_finds_separated_blobs_and_is_seeded() -> None:
    rng = np.random.default_rng(0)
    centres = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    x = torch.tensor(np.concatenate([c + 0.1 * rng.normal(size=(50, 2)) for c in centres]), dtype=torch.float32)
    a = kmeans(x, 3, 10, torch.Generator().manual_seed(1))
    b = kmeans(x, 3, 10, torch.Generator().manual_seed(1))
    assert torch.equal(a, b)
    found = sorted(map(tuple, a.numpy().round().tolist()))
    assert found == sorted(map(tuple, centres.tolist()))


def test_kmeans_with_fewer_points_than_centroids_gives_k_rows() -> None:
    x = torch.randn(5, 3)
    out = kmeans(x, 8, 5, torch.Generator().manual_seed(0))
    assert out.shape == (8, 3)
    assert torch.allclose(out[:5], x, atol=1e-2)


def test_quantizer_codes_are_the_greedy_residual_cascade() -> None:
    torch.manual_seed(0)
    rq = ResidualQuantizer(levels=3, codebook_size=8, dim=4)
    z = torch.randn(32, 4)
    out = rq(z)
    expected = assign_codes(z.numpy(), rq.codebooks.detach().numpy())
    assert np.array_equal(out.codes.numpy(), expected)
    assert torch.allclose(out.quantized, rq.lookup(out.codes), atol=1e-6)


def test_straight_through_passes_gradient_to_the_latent_and_losses_reach_codebooks() -> None:
    torch.manual_seed(0)
    rq = ResidualQuantizer(levels=2, codebook_size=4, dim=3)
    z = torch.randn(10, 3, requires_grad=True)
    out = rq(z)
    out.quantized.sum().backward(retain_graph=True)
    assert z.grad is not None
    assert torch.allclose(z.grad, torch.ones_like(z))
    assert rq.codebooks.grad is None
    out.codebook_loss.backward()
    assert rq.codebooks.grad is not None and rq.codebooks.grad.abs().sum() > 0


def test_init_kmeans_fits_residuals_level_by_level() -> None:
    rq = ResidualQuantizer(levels=2, codebook_size=4, dim=2)
    z = torch.tensor([[x, y] for x in (0.0, 10.0, 20.0, 30.0) for y in (0.0, 0.5, 1.0, 1.5)])
    rq.init_kmeans(z, iters=20, generator=torch.Generator().manual_seed(0))
    out = rq(z)
    assert torch.allclose(out.quantized, z, atol=1e-4)  # 4 x 4 grid: two levels of 4 codewords are exact
    assert collision_rate(out.codes.numpy()) == 0.0


def test_resolution_makes_codes_unique_and_keeps_non_colliding_items() -> None:
    rng = np.random.default_rng(0)
    books = rng.normal(size=(2, 16, 4))
    base = books[0][np.arange(8)] + books[1][np.arange(8)] + 0.01 * rng.normal(size=(8, 4))
    latent = np.concatenate([base, base[:3], base[:3]])  # items 8..13 duplicate items 0..2
    before = assign_codes(latent, books)
    assert collision_rate(before) > 0
    assert np.bincount(before[:, 0]).max() <= 16  # no first-level group over capacity: prefixes never move
    after = resolve_collisions(latent, books)
    assert collision_rate(after) == 0.0
    assert np.array_equal(after[:, 0], before[:, 0])
    unique_before = [i for i in range(len(latent)) if (before == before[i]).all(axis=1).sum() == 1]
    assert unique_before and np.array_equal(after[unique_before], before[unique_before])


def test_resolution_fills_the_whole_code_space_when_every_item_is_identical() -> None:
    books = np.random.default_rng(1).normal(size=(3, 4, 2))
    latent = np.zeros((64, 2))  # 4 ** 3 = 64 identical items: every code tuple must be used once
    after = resolve_collisions(latent, books)
    assert collision_rate(after) == 0.0
    assert len({tuple(r) for r in after}) == 64


def test_resolution_refuses_more_items_than_codes() -> None:
    with pytest.raises(ValueError, match="cannot get distinct codes"):
        resolve_collisions(np.zeros((9, 2)), np.zeros((1, 8, 2)))


def test_collision_measures() -> None:
    codes = np.array([[0, 1], [0, 1], [0, 1], [1, 0]])
    assert collision_rate(codes) == pytest.approx(0.5)
    assert max_items_per_code(codes) == 3


def test_codebook_usage_uniform_and_collapsed() -> None:
    codes = np.stack([np.arange(8), np.zeros(8, dtype=np.int64)], axis=1)
    used, perplexity = codebook_usage(codes, codebook_size=16)
    assert used == (0.5, 1 / 16)
    assert perplexity[0] == pytest.approx(8.0) and perplexity[1] == pytest.approx(1.0)


def test_retrieval_accuracy_identity_shuffle_and_ties() -> None:
    x = np.random.default_rng(0).normal(size=(50, 8))
    assert retrieval_accuracy(x, x) == {1: 1.0, 10: 1.0}
    shuffled = retrieval_accuracy(x, x[np.random.default_rng(1).permutation(50)])
    assert shuffled[1] < 0.2
    same = np.ones((5, 3))  # all ties: nobody is strictly first
    assert retrieval_accuracy(same, same)[1] == 0.0


def test_linear_probe_recovers_a_linear_map() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 5))
    y = x @ rng.normal(size=(5, 7)) + 3.0
    assert np.allclose(linear_probe(x, y, ridge=1e-9), y, atol=1e-5)
