"""The tokenizer artifact: one folder holding everything later stages need from this one.

Contract: `write_artifact(folder, trained, lm, info)` writes, under a temporary name then renamed into place,
- `item_codes.npy` / `item_codes.json`: the `ItemCodes` (unique code tuple per item, its own content hash),
- `quantizer/`: the trained quantiser (see `model.tokenizer.artifact`),
- `lm/`: the base LM and tokenizer extended with the code tokens; their input-embedding rows (and output rows when
  the LM's output layer is untied) start as the projected codewords scaled to the LM's mean embedding-row norm, or
  keep the LM's own new-token initialisation when no projection was trained,
- `meta.json` last: `TokenizerMeta` (config, dataset name + content hash, inputs' hashes, metrics, how code tokens were
  initialised, and `content_hash`: `model.hashing.folder_hash` of every other file).
`read_meta(folder)` reads meta.json back. It loads no data and trains nothing; the LM comes in already loaded.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch

from model.codes.item_codes import ItemCodes
from model.errors import UserError
from model.hashing import folder_hash
from model.lm.extend import add_code_tokens
from model.lm.smollm2 import LoadedLM
from model.tokenizer.artifact import save_tokenizer
from model.tokenizer.trainer import TrainedTokenizer
from model.workdir import META_FILE

LM_DIR = "lm"
QUANTIZER_DIR = "quantizer"
FORMAT_VERSION = 1


@dataclass(frozen=True, slots=True)
class TokenizerInputs:
    """Where the tokenizer's inputs came from, recorded for provenance."""

    dataset: str
    dataset_hash: str  # content hash of the processed dataset
    embeddings_path: str  # the collaborative item embeddings (SASRec's item_embeddings.npy)
    embeddings_sha256: str
    lm: str  # the --lm label: tiny, smollm2-135m, or a folder's name
    lm_source: str
    text_embedding: str | None  # how item text was embedded in the LM's space; None when the dataset has no text


@dataclass(frozen=True, slots=True)
class TokenizerMeta:
    format_version: int
    inputs: dict[str, Any]  # TokenizerInputs as a dict
    config: dict[str, Any]  # TokenizerConfig as a dict
    metrics: dict[str, Any]  # TokenizerMetrics as a dict
    code_token_init: str  # how the code tokens' embeddings started
    level_sizes: list[int]
    n_items: int
    item_codes_hash: str
    content_hash: str
    created_at: str


def init_code_embeddings(trained: TrainedTokenizer, lm: LoadedLM) -> tuple[np.ndarray | None, str]:
    """Rows for the code tokens (level then code order) from the projected codewords, and a note saying so."""
    table = lm.model.get_input_embeddings().weight.detach()
    norm = float(table.float().norm(dim=1).mean())
    rows = trained.code_token_embeddings(norm)
    if rows is None:
        return None, "lm default (no trained projection: alignment off)"
    stacked = np.concatenate(rows, axis=0)
    if stacked.shape[1] != table.shape[1]:
        raise UserError(
            f"the tokenizer projects into {stacked.shape[1]} dims but the LM's embeddings have {table.shape[1]}: "
            "train the tokenizer with this LM's text embeddings"
        )
    return stacked, f"projected codewords, one scale for all levels to the LM's mean input-embedding norm {norm:.4f}"


def write_artifact(folder: Path, trained: TrainedTokenizer, lm: LoadedLM, inputs: TokenizerInputs) -> TokenizerMeta:
    cfg = trained.config
    sizes = [cfg.codebook_size] * cfg.levels
    codes = ItemCodes(trained.codes, sizes)
    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    codes.save(tmp)
    save_tokenizer(trained, tmp / QUANTIZER_DIR)
    rows, note = init_code_embeddings(trained, lm)
    vocab = add_code_tokens(lm.model, lm.tokenizer, sizes, init_embeddings=rows)
    output = lm.model.get_output_embeddings()
    if rows is not None and output is not None and output.weight is not lm.model.get_input_embeddings().weight:
        ids = torch.as_tensor(np.concatenate(vocab.token_ids))
        out_norm = float(output.weight.detach()[: ids.min()].float().norm(dim=1).mean())
        scaled = rows * (out_norm / max(float(np.linalg.norm(rows, axis=1).mean()), 1e-12))
        with torch.no_grad():
            output.weight[ids] = torch.as_tensor(scaled, dtype=output.weight.dtype)
        note += "; untied output rows likewise"
    lm.model.save_pretrained(str(tmp / LM_DIR))
    lm.tokenizer.save_pretrained(str(tmp / LM_DIR))
    meta = TokenizerMeta(
        format_version=FORMAT_VERSION,
        inputs=asdict(inputs),
        config=cfg.to_dict(),
        metrics=trained.metrics.to_dict(),
        code_token_init=note,
        level_sizes=sizes,
        n_items=codes.n_items,
        item_codes_hash=codes.content_hash,
        content_hash=folder_hash(tmp, exclude=(META_FILE,)),
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    (tmp / META_FILE).write_text(json.dumps(asdict(meta), indent=2) + "\n")
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)
    return meta


def read_meta(folder: Path) -> TokenizerMeta:
    path = folder / META_FILE
    if not path.is_file():
        raise UserError(f"{path}: missing; not a tokenizer artifact folder (run `genrec train-tokenizer` first)")
    raw = json.loads(path.read_text())
    return TokenizerMeta(**raw)
