"""RQ-KMeans codes: collision-free, deterministic under a seed, balanced clusters within capacity, the alignment
projection trained after the k-means (text information measurably in it), and the same save/load/LM-init path as the
RQ-VAE's; bad options are refused by name."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from model.errors import UserError
from model.tokenizer.artifact import load_tokenizer, save_tokenizer
from model.tokenizer.config import TokenizerConfig
from model.tokenizer.kmeans import balanced_assign, balanced_kmeans
from model.tokenizer.rq_kmeans import train_rq_kmeans
from offline.cli import _register, app
from tests.test_tokenizer import SMALL, _data

_register()
KM = {"method": "rq-kmeans", "levels": 2, "codebook_size": 16, "epochs": 20, **SMALL}


def test_codes_are_collision_free_and_deterministic_under_a_seed() -> None:
    x, text = _data(n=200)
    a = train_rq_kmeans(x, text, TokenizerConfig(**KM))
    b = train_rq_kmeans(x, text, TokenizerConfig(**KM))
    c = train_rq_kmeans(x, text, TokenizerConfig(**KM, seed=1))
    assert a.codes.shape == (200, 2) and len({tuple(r) for r in a.codes}) == 200
    assert a.metrics.collision_rate_after == 0.0 and a.metrics.collision_rate_before > 0
    assert np.array_equal(a.codes, b.codes) and a.metrics == b.metrics
    assert all(torch.equal(v, b.model.state_dict()[k]) for k, v in a.model.state_dict().items())
    assert not np.array_equal(a.codes, c.codes)


def test_the_codebooks_are_the_residual_k_means_of_the_standardised_embeddings() -> None:
    x, _ = _data(n=250)
    t = train_rq_kmeans(x, None, TokenizerConfig(**KM))
    z = (torch.tensor(x) - t.model.input_mean) / t.model.input_std
    assert torch.allclose(t.model.encode(torch.tensor(x)), z, atol=1e-6)  # no trained encoder: the input itself
    books = t.model.quantizer.codebooks.detach()
    level0 = torch.cdist(z, books[0]).argmin(1)
    # each level-0 centroid is the mean of the points nearest to it (a k-means fixed point, up to the last update)
    for c in level0.unique()[:5].tolist():
        members = z[level0 == c]
        assert torch.allclose(members.mean(0), books[0][c], atol=0.35)
    assert t.model.projection is None and t.code_token_embeddings(1.0) is None  # no text: nothing to align


def test_balanced_clusters_never_exceed_their_capacity() -> None:
    x = torch.tensor(np.random.default_rng(0).normal(size=(203, 5)), dtype=torch.float32)
    centroids, assign = balanced_kmeans(x, 16, 5, torch.Generator().manual_seed(0))
    counts = torch.bincount(assign, minlength=16)
    assert int(counts.max()) <= -(-203 // 16) and int(counts.sum()) == 203
    skewed = torch.cat([x[:5] * 0.01, x[5:] + 10])  # most points far from two of the centroids
    capped = balanced_assign(skewed, centroids[:4], capacity=60)
    assert int(torch.bincount(capped, minlength=4).max()) <= 60
    trained = train_rq_kmeans(*_data(n=256), TokenizerConfig(**KM, balanced=True))
    first = np.bincount(trained.codes_before[:, 0], minlength=16)
    assert first.max() <= 16 and len({tuple(r) for r in trained.codes}) == 256


def test_alignment_after_the_k_means_puts_text_information_in_the_projection() -> None:
    x, text = _data(n=250)
    aligned = train_rq_kmeans(x, text, TokenizerConfig(**KM))
    plain = train_rq_kmeans(x, text, TokenizerConfig(**KM, align=False))
    assert np.array_equal(aligned.codes, plain.codes)  # alignment comes after the codes: same codes
    assert aligned.metrics.align_top10 is not None and aligned.metrics.align_top10 > 0.1  # chance is 10/250
    rows = aligned.code_token_embeddings(2.0)
    assert rows is not None and [r.shape for r in rows] == [(16, 24), (16, 24)]
    assert np.linalg.norm(np.concatenate(rows), axis=1).mean() == pytest.approx(2.0, rel=1e-4)
    assert "RQ-KMeans" in aligned.metrics.note and plain.code_token_embeddings(1.0) is None


def test_save_and_load_like_any_tokenizer(tmp_path: Path) -> None:
    x, text = _data(n=150)
    trained = train_rq_kmeans(x, text, TokenizerConfig(**KM))
    save_tokenizer(trained, tmp_path / "tok")
    back = load_tokenizer(tmp_path / "tok")
    assert np.array_equal(back.codes, trained.codes) and back.config.method == "rq-kmeans"
    with torch.no_grad():
        xs = torch.tensor(x)
        assert torch.equal(back.model.quantizer(back.model.encode(xs)).codes, trained.model.quantizer(
            trained.model.encode(xs)).codes)  # fmt: skip


def test_bad_options_are_refused_by_name(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="method must be one of rq-vae, rq-kmeans, got 'pq'"):
        TokenizerConfig(method="pq")
    with pytest.raises(UserError, match="balanced clusters are an rq-kmeans option"):
        TokenizerConfig(balanced=True)
    runner = CliRunner()
    for args, words in (
        (["train-tokenizer", "toy", "--method", "pq"], "--method"),
        (["train-tokenizer", "toy", "--balanced"], "--balanced"),
    ):
        result = runner.invoke(app, ["--work-dir", str(tmp_path), *args], env={"GENREC_PROGRESS": "0"})
        assert result.exit_code == 2 and words in result.output, result.output
