"""Save and load a trained tokenizer as a folder: weights + codes + a JSON of config and metrics.

Contract: `save_tokenizer(trained, folder)` writes `quantizer.safetensors` (network weights and buffers),
`codes.npy` (final unique codes), `codes_before.npy` (before collision resolution) and `quantizer.json` (config,
input and LM widths, metrics); `load_tokenizer(folder)` rebuilds an equal `TrainedTokenizer`. A missing or
incomplete folder raises `UserError` naming the missing file. It knows nothing about the LM or ItemCodes.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from safetensors.torch import load_file, save_file

from model.errors import UserError
from model.tokenizer.config import TokenizerConfig
from model.tokenizer.metrics import TokenizerMetrics
from model.tokenizer.quantizer import network_for
from model.tokenizer.trainer import TrainedTokenizer

WEIGHTS = "quantizer.safetensors"
META = "quantizer.json"
CODES = "codes.npy"
CODES_BEFORE = "codes_before.npy"


def save_tokenizer(trained: TrainedTokenizer, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().contiguous() for k, v in trained.model.state_dict().items()}
    save_file(state, str(folder / WEIGHTS))
    np.save(folder / CODES, trained.codes)
    np.save(folder / CODES_BEFORE, trained.codes_before)
    meta = {
        "config": trained.config.to_dict(),
        "input_dim": trained.input_dim,
        "lm_dim": trained.lm_dim,
        "metrics": trained.metrics.to_dict(),
    }
    (folder / META).write_text(json.dumps(meta, indent=2, sort_keys=True))


def load_tokenizer(folder: Path) -> TrainedTokenizer:
    for name in (WEIGHTS, META, CODES, CODES_BEFORE):
        if not (folder / name).is_file():
            raise UserError(f"tokenizer folder {folder}: missing {name}")
    meta = json.loads((folder / META).read_text())
    config = TokenizerConfig.from_dict(meta["config"])
    model = network_for(
        config.method,
        meta["input_dim"],
        config.latent_dim,
        config.hidden_dims,
        config.levels,
        config.codebook_size,
        meta["lm_dim"],
    )
    model.load_state_dict(load_file(str(folder / WEIGHTS)))
    model.eval()
    return TrainedTokenizer(
        config=config,
        model=model,
        codes=np.load(folder / CODES),
        codes_before=np.load(folder / CODES_BEFORE),
        metrics=TokenizerMetrics.from_dict(meta["metrics"]),
        input_dim=int(meta["input_dim"]),
        lm_dim=meta["lm_dim"],
    )
