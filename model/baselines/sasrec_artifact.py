"""A trained SASRec on disk: `model.safetensors` + `meta.json` + `item_embeddings.npy`, and the way back to a scorer.

Contract: `save_sasrec` writes the three files into one folder (created if missing). `item_embeddings.npy` is a float32
(n_items, hidden) matrix whose row i is item index i (the padding row dropped): the collaborative input of the
tokenizer. `meta.json` holds the model config, the training config, the dataset's name and content hash, the seed,
the epochs run, the best epoch and its validation metrics, and the per-epoch log. `load_sasrec` rebuilds the exact
model and returns a `SASRecScorer` with the `SASRecMeta`; a missing or malformed folder raises `UserError` naming the
file. It knows nothing about how the model was trained.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from safetensors.torch import load_file, save_file

from model.baselines.sasrec import SASRec, SASRecConfig, SASRecScorer
from model.errors import DataFormatError, UserError
from model.workdir import META_FILE

WEIGHTS = "model.safetensors"
EMBEDDINGS = "item_embeddings.npy"
FORMAT_VERSION = 1


@dataclass(frozen=True, slots=True)
class SASRecMeta:
    config: SASRecConfig
    train: Mapping[str, Any]  # the TrainConfig fields
    dataset: str
    content_hash: str  # of the dataset the model was trained on; evaluation refuses another
    seed: int
    epochs_run: int
    best_epoch: int
    valid_metrics: Mapping[str, float]  # of the best epoch
    history: Sequence[Mapping[str, Any]] = ()  # one record per epoch: loss, valid metrics, seconds
    train_seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "format_version": FORMAT_VERSION,
            "model": "sasrec",
            "config": self.config.to_dict(),
            "train": dict(self.train),
            "dataset": self.dataset,
            "content_hash": self.content_hash,
            "seed": self.seed,
            "epochs_run": self.epochs_run,
            "best_epoch": self.best_epoch,
            "valid_metrics": dict(self.valid_metrics),
            "history": [dict(h) for h in self.history],
            "train_seconds": self.train_seconds,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SASRecMeta:
        return cls(
            config=SASRecConfig(**data["config"]),
            train=dict(data["train"]),
            dataset=str(data["dataset"]),
            content_hash=str(data["content_hash"]),
            seed=int(data["seed"]),
            epochs_run=int(data["epochs_run"]),
            best_epoch=int(data["best_epoch"]),
            valid_metrics={str(k): float(v) for k, v in data["valid_metrics"].items()},
            history=tuple(data.get("history", ())),
            train_seconds=float(data.get("train_seconds", 0.0)),
        )


def save_sasrec(folder: Path, model: SASRec, meta: SASRecMeta) -> None:
    if meta.config != model.cfg:
        raise ValueError(f"meta config {meta.config} does not match the model's {model.cfg}")
    folder.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(folder / WEIGHTS))
    np.save(folder / EMBEDDINGS, model.item_weights().detach().float().numpy())
    (folder / META_FILE).write_bytes(orjson.dumps(meta.to_dict(), option=orjson.OPT_INDENT_2))


def read_meta(folder: Path) -> SASRecMeta:
    path = folder / META_FILE
    if not path.is_file():
        raise UserError(f"no trained SASRec in {folder} ({META_FILE} missing); run `genrec train-sasrec` first")
    try:
        return SASRecMeta.from_dict(orjson.loads(path.read_bytes()))
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise DataFormatError(path, f"not a SASRec meta file: {exc}") from None


def load_sasrec(folder: Path, batch_size: int = 1024) -> tuple[SASRecScorer, SASRecMeta]:
    meta = read_meta(folder)
    path = folder / WEIGHTS
    if not path.is_file():
        raise UserError(f"no trained SASRec in {folder} ({WEIGHTS} missing); run `genrec train-sasrec` first")
    model = SASRec(meta.config)
    try:
        model.load_state_dict(load_file(str(path)))
    except (RuntimeError, OSError) as exc:
        raise DataFormatError(path, f"weights do not fit the config in {META_FILE}: {exc}") from None
    return SASRecScorer(model, batch_size=batch_size), meta


def load_item_embeddings(folder: Path) -> np.ndarray:
    """The (n_items, hidden) float32 matrix; row i = item index i."""
    path = folder / EMBEDDINGS
    if not path.is_file():
        raise UserError(f"no item embeddings in {folder} ({EMBEDDINGS} missing); run `genrec train-sasrec` first")
    emb = np.load(path)
    if emb.ndim != 2:
        raise DataFormatError(path, f"expected a 2-d matrix, got shape {emb.shape}")
    return np.asarray(emb, dtype=np.float32)
