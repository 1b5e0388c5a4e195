"""Code-token embeddings for an LM trained from scratch, taken from the tokenizer's codebooks.

Contract: `codebook_rows(tokenizer_dir, hidden, target_norm, seed)` returns, per code level, a (C_l, hidden) float32
array: the trained residual codebook of that level (in the quantiser's latent space) mapped to the LM's width by one
seeded Gaussian projection shared by all levels, then scaled by one factor so the mean row norm is `target_norm`.
A random Gaussian map keeps distances between codewords (Johnson-Lindenstrauss), and a shared map keeps the residual
structure: the sum of an item's code-token rows is the projection of its quantised latent vector. So a random LM
starts knowing which codes are near each other in the collaborative space, the from-scratch analogue of the
tokenizer stage's aligned initialisation of a pretrained LM. Returns None when the folder has no quantiser.
`apply_rows(model, vocab, rows)` writes them into the input embedding (and so into a tied output layer).
It knows nothing about training or tasks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from model.codes.vocab import CodeVocab
from model.errors import UserError


def codebook_rows(tokenizer_dir: Path, hidden: int, target_norm: float, seed: int = 0) -> list[np.ndarray] | None:
    from model.tokenizer.artifact import load_tokenizer
    from model.tokenizer.build import QUANTIZER_DIR

    folder = tokenizer_dir / QUANTIZER_DIR
    if not folder.is_dir():
        return None
    books = load_tokenizer(folder).model.quantizer.codebooks.detach().float().numpy()  # (L, C, latent)
    rng = np.random.default_rng(seed)
    projection = rng.standard_normal((books.shape[-1], hidden)).astype(np.float32) / np.sqrt(hidden)
    rows = [book @ projection for book in books]
    mean_norm = float(np.linalg.norm(np.concatenate(rows), axis=1).mean())
    scale = target_norm / max(mean_norm, 1e-12)
    return [(r * scale).astype(np.float32) for r in rows]


def apply_rows(model: Any, vocab: CodeVocab, rows: list[np.ndarray]) -> None:
    table = model.get_input_embeddings().weight
    if len(rows) != len(vocab.token_ids):
        raise UserError(f"the codebooks have {len(rows)} levels but the vocabulary has {len(vocab.token_ids)}")
    with torch.no_grad():
        for ids, level_rows in zip(vocab.token_ids, rows, strict=True):
            if level_rows.shape != (len(ids), table.shape[1]):
                raise UserError(
                    f"codebook rows of shape {level_rows.shape} do not fit {len(ids)} code tokens of width "
                    f"{table.shape[1]}"
                )
            table[torch.tensor(np.asarray(ids), dtype=torch.long)] = torch.tensor(level_rows, dtype=table.dtype)
