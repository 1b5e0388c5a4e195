"""The trained tokenizer end to end on small synthetic catalogues: unique codes, seeded determinism, save/load,
clear refusals of bad configurations, and alignment that measurably puts text information into the codes."""

from pathlib import Path

import numpy as np
import pytest
import torch

from model.errors import UserError
from model.tokenizer.artifact import load_tokenizer, save_tokenizer
from model.tokenizer.config import TokenizerConfig
from model.tokenizer.trainer import EpochReport, TrainedTokenizer, train_tokenizer

SMALL = {"latent_dim": 8, "hidden_dims": (32,), "warmup_epochs": 2, "batch_size": 64, "kmeans_iters": 5}
SMALL |= {"probe_epochs": 20}


def _data(n: int = 200, d: int = 16, d_text: int = 24, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)).astype(np.float32)
    text = np.tanh(x[:, -4:] @ rng.normal(size=(4, d_text))).astype(np.float32)
    return x, text


@pytest.fixture(scope="module")
def trained() -> TrainedTokenizer:
    x, text = _data()
    return train_tokenizer(x, text, TokenizerConfig(levels=2, codebook_size=16, epochs=8, **SMALL))


def test_every_item_gets_its_own_code(trained: TrainedTokenizer) -> None:
    assert trained.codes.shape == (200, 2)
    assert len({tuple(r) for r in trained.codes}) == 200
    m = trained.metrics
    assert m.collision_rate_after == 0.0
    assert m.collision_rate_before > 0  # 200 items in 256 codes: the plain cascade collides, so resolution did work
    assert m.max_items_per_code_before >= 2
    assert all(0 < u <= 1 for u in m.utilisation) and all(1 <= p <= 16 for p in m.perplexity)
    assert m.align_active and m.align_top1 is not None and m.probe_top10 is not None


def test_same_seed_same_codes_other_seed_other_codes() -> None:
    x, text = _data(n=120)
    cfg = TokenizerConfig(levels=2, codebook_size=16, epochs=4, **SMALL)
    a = train_tokenizer(x, text, cfg)
    b = train_tokenizer(x, text, cfg)
    c = train_tokenizer(x, text, TokenizerConfig(levels=2, codebook_size=16, epochs=4, seed=1, **SMALL))
    assert np.array_equal(a.codes, b.codes)
    sa, sb = a.model.state_dict(), b.model.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert a.metrics == b.metrics
    assert not np.array_equal(a.codes, c.codes)


def test_save_load_round_trip(trained: TrainedTokenizer, tmp_path: Path) -> None:
    save_tokenizer(trained, tmp_path / "tok")
    back = load_tokenizer(tmp_path / "tok")
    assert np.array_equal(back.codes, trained.codes)
    assert np.array_equal(back.codes_before, trained.codes_before)
    assert back.config == trained.config and back.metrics == trained.metrics
    assert (back.input_dim, back.lm_dim) == (trained.input_dim, trained.lm_dim)
    sa, sb = trained.model.state_dict(), back.model.state_dict()
    assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)
    x = torch.tensor(_data()[0])
    with torch.no_grad():
        codes = [m.quantizer(m.encode(x)).codes for m in (back.model, trained.model)]
    assert torch.equal(*codes)


def test_load_names_the_missing_file(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"missing quantizer\.safetensors"):
        load_tokenizer(tmp_path)


def test_code_space_too_small_is_refused_before_training() -> None:
    x, text = _data(n=300)
    with pytest.raises(UserError, match=r"2 levels x 16 codes give 256 distinct codes, fewer than the 300 items"):
        train_tokenizer(x, text, TokenizerConfig(levels=2, codebook_size=16, epochs=1, **SMALL))


def test_text_rows_must_match_items() -> None:
    x, text = _data(n=50)
    with pytest.raises(UserError, match=r"text embeddings have shape \(49, 24\).*50 items"):
        train_tokenizer(x, text[:49], TokenizerConfig(levels=2, codebook_size=16, epochs=1, **SMALL))


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [("levels", 0, "levels must be >= 1"), ("codebook_size", 1, "codebook_size must be >= 2"), ("lr", 0.0, "lr")],
)
def test_bad_config_values_name_the_field(field: str, value: float, message: str) -> None:
    with pytest.raises(UserError, match=message):
        TokenizerConfig(**{field: value})


def test_non_finite_embeddings_are_refused() -> None:
    x, _ = _data(n=20)
    x[3, 2] = np.nan
    with pytest.raises(UserError, match="NaN"):
        train_tokenizer(x, None, TokenizerConfig(levels=2, codebook_size=16, epochs=1, **SMALL))


def test_without_text_alignment_is_off_and_said_so() -> None:
    x, _ = _data(n=60)
    out = train_tokenizer(x, None, TokenizerConfig(levels=2, codebook_size=16, epochs=2, **SMALL))
    assert not out.metrics.align_active and "no item text" in out.metrics.note
    assert out.metrics.probe_top1 is None and out.lm_dim is None
    assert out.code_token_embeddings(3.0) is None


def test_code_token_rows_sum_to_a_scaled_item_projection_at_the_lm_norm(trained: TrainedTokenizer) -> None:
    rows = trained.code_token_embeddings(target_norm=3.0)
    assert rows is not None and len(rows) == 2
    assert all(r.shape == (16, 24) for r in rows)
    assert np.linalg.norm(np.concatenate(rows), axis=1).mean() == pytest.approx(3.0, rel=1e-5)
    raw = trained.model.projected_codewords()
    scale = float(rows[0][0, 0] / raw[0][0, 0])
    codes = torch.as_tensor(trained.codes[:5])
    with torch.no_grad():
        assert trained.model.projection is not None
        item = trained.model.projection(trained.model.quantizer.lookup(codes))
    assert torch.allclose(item, raw[0][codes[:, 0]] + raw[1][codes[:, 1]], atol=1e-5)
    summed = rows[0][codes[:, 0].numpy()] + rows[1][codes[:, 1].numpy()]
    assert np.allclose(summed, scale * item.numpy(), atol=1e-4)


def test_alignment_puts_text_information_into_the_codes() -> None:
    # 28 of 32 input dims are unrelated to the text; plain reconstruction spreads the codes over all of them,
    # the alignment loss has to pull the 4 text-bearing dims into the codes.
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 32)).astype(np.float32)
    text = np.tanh(x[:, 28:] @ rng.normal(size=(4, 48))).astype(np.float32)
    base = {**SMALL, "batch_size": 128, "warmup_epochs": 5}
    on = train_tokenizer(x, text, TokenizerConfig(levels=3, codebook_size=16, epochs=40, align=True, **base))
    off = train_tokenizer(x, text, TokenizerConfig(levels=3, codebook_size=16, epochs=40, align=False, **base))
    assert on.metrics.probe_top10 is not None and off.metrics.probe_top10 is not None
    assert on.metrics.probe_top10 > off.metrics.probe_top10 + 0.3
    assert off.metrics.align_top10 is None and not off.metrics.align_active
    assert on.metrics.align_top10 is not None and on.metrics.align_top10 > 0.3


def test_progress_is_reported_once_per_epoch_warm_up_included() -> None:
    x, text = _data(n=60)
    seen: list[EpochReport] = []
    train_tokenizer(x, text, TokenizerConfig(levels=2, codebook_size=16, epochs=3, **SMALL), seen.append)
    assert [r.epoch for r in seen] == [1, 2, 3, 4, 5] and all(r.total == 5 for r in seen)
    assert seen[0].align > 0  # the alignment loss runs from the warm-up on


def test_codewords_projected_for_another_lm_width_are_refused(trained: TrainedTokenizer) -> None:
    from model.lm.smollm2 import LoadedLM
    from model.lm.tiny import tiny_causal_lm, tiny_tokenizer
    from model.tokenizer.build import init_code_embeddings

    tok = tiny_tokenizer()
    lm = LoadedLM(tiny_causal_lm(len(tok), hidden_size=32), tok, "tiny")
    with pytest.raises(UserError, match="projects into 24 dims but the LM's embeddings have 32"):
        init_code_embeddings(trained, lm)
