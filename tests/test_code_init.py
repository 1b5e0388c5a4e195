"""Code-token rows of a from-scratch LM taken from the tokenizer's codebooks: residual structure kept (an item's rows
sum to one linear map of its quantised latent), the target norm met, written into the LM's embedding table, and a
folder without a quantiser gives None (the preset then keeps the random rows)."""

from pathlib import Path

import numpy as np
import pytest
import torch

from model.codes.item_codes import ItemCodes
from model.errors import UserError
from model.lm.extend import add_code_tokens
from model.lm.tiny import tiny_causal_lm, tiny_tokenizer
from model.tokenizer.artifact import save_tokenizer
from model.tokenizer.build import QUANTIZER_DIR
from model.tokenizer.config import TokenizerConfig
from model.tokenizer.trainer import train_tokenizer
from model.train.code_init import apply_rows, codebook_rows
from model.train.presets import build_lm, get_preset

SMALL = {"latent_dim": 8, "hidden_dims": (32,), "warmup_epochs": 2, "batch_size": 64, "kmeans_iters": 5}


@pytest.fixture(scope="module")
def tokenizer_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    x = np.random.default_rng(0).normal(size=(200, 16)).astype(np.float32)
    trained = train_tokenizer(x, None, TokenizerConfig(levels=2, codebook_size=16, epochs=4, **SMALL))
    folder = tmp_path_factory.mktemp("tok")
    save_tokenizer(trained, folder / QUANTIZER_DIR)
    np.save(folder / "codes.npy", trained.codes)
    return folder


def test_rows_keep_the_residual_structure_at_the_target_norm(tokenizer_dir: Path) -> None:
    from model.tokenizer.artifact import load_tokenizer

    rows = codebook_rows(tokenizer_dir, hidden=32, target_norm=2.5, seed=3)
    assert rows is not None and [r.shape for r in rows] == [(16, 32), (16, 32)]
    assert np.linalg.norm(np.concatenate(rows), axis=1).mean() == pytest.approx(2.5, rel=1e-5)
    trained = load_tokenizer(tokenizer_dir / QUANTIZER_DIR)
    codes = torch.as_tensor(trained.codes)  # 200 items, latent width 8: a linear fit is a real constraint
    with torch.no_grad():
        latent = trained.model.quantizer.lookup(codes).numpy()  # each item's sum of codewords
    summed = rows[0][codes[:, 0].numpy()] + rows[1][codes[:, 1].numpy()]
    linear_map = np.linalg.lstsq(latent, summed, rcond=None)[0]  # (8, 32)
    assert np.allclose(latent @ linear_map, summed, atol=1e-4)
    rows_again = codebook_rows(tokenizer_dir, hidden=32, target_norm=2.5, seed=3)
    assert rows_again is not None and all(np.array_equal(a, b) for a, b in zip(rows, rows_again, strict=True))


def test_folder_without_quantiser_gives_none(tmp_path: Path) -> None:
    assert codebook_rows(tmp_path, hidden=32, target_norm=1.0) is None


def test_rows_are_written_into_the_embedding_table_and_misfits_refused(tokenizer_dir: Path) -> None:
    tokenizer = tiny_tokenizer()
    model = tiny_causal_lm(len(tokenizer), hidden_size=32)
    vocab = add_code_tokens(model, tokenizer, (16, 16), mean_resizing=False)
    rows = codebook_rows(tokenizer_dir, hidden=32, target_norm=1.0)
    assert rows is not None
    apply_rows(model, vocab, rows)
    table = model.get_input_embeddings().weight.detach().numpy()
    assert np.allclose(table[np.asarray(vocab.token_ids[1])], rows[1])
    with pytest.raises(UserError, match="levels"):
        apply_rows(model, vocab, rows[:1])
    with pytest.raises(UserError, match="width"):
        apply_rows(model, vocab, [r[:, :8] for r in rows])


def test_the_tiny_preset_uses_them_when_asked(tokenizer_dir: Path) -> None:
    codes = ItemCodes(np.load(tokenizer_dir / "codes.npy"), (16, 16))
    plain = build_lm(get_preset("tiny"), codes, tokenizer_dir)
    seeded = build_lm(get_preset("tiny", code_init="codebook"), codes, tokenizer_dir)
    assert "codebooks" in seeded.note and "random init" in plain.note
    rows = codebook_rows(tokenizer_dir, hidden=128, target_norm=1.0)
    assert rows is not None
    got = seeded.model.get_input_embeddings().weight.detach().numpy()[np.asarray(seeded.vocab.token_ids[0])]
    cos = (got * rows[0]).sum(1) / np.linalg.norm(got, axis=1) / np.linalg.norm(rows[0], axis=1)
    assert np.allclose(cos, 1.0, atol=1e-5)
    with pytest.raises(UserError, match="code_init"):
        get_preset("tiny", code_init="zeros")
