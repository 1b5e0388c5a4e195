"""Training checkpoints: everything a killed run needs to continue exactly where it stopped.

Contract: `save_checkpoint(folder, state)` writes `checkpoint.pt` atomically (a temp file renamed into place, so a
kill during the write leaves the previous checkpoint intact); `state` holds the model, optimizer and scheduler
state dicts, the torch / numpy / python RNG states, the step, the epoch and the next batch within it, the
early-stopping record and the training history. `load_checkpoint(folder)` returns it, or None when there is none.
`save_best(folder, model_state)` / `load_best(folder)` keep the best-on-validation weights beside it.
It knows nothing about what is trained.
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

CHECKPOINT = "checkpoint.pt"
BEST = "best.pt"


def rng_state() -> dict[str, Any]:
    return {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])


def _atomic_save(obj: Any, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def save_checkpoint(folder: Path, state: dict[str, Any]) -> None:
    _atomic_save(state, folder / CHECKPOINT)


def load_checkpoint(folder: Path) -> dict[str, Any] | None:
    path = folder / CHECKPOINT
    if not path.is_file():
        return None
    state: dict[str, Any] = torch.load(path, map_location="cpu", weights_only=False)
    return state


def save_best(folder: Path, model_state: dict[str, torch.Tensor]) -> None:
    _atomic_save({k: v.detach().clone() for k, v in model_state.items()}, folder / BEST)


def load_best(folder: Path) -> dict[str, torch.Tensor] | None:
    path = folder / BEST
    if not path.is_file():
        return None
    state: dict[str, torch.Tensor] = torch.load(path, map_location="cpu", weights_only=True)
    return state
