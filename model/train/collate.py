"""Batches: length-bucketed batch plans and padding of `Sample`s into tensors.

Contract: `plan_batches(lengths, batch_size, rng)` splits sample indices into batches of at most `batch_size`, grouping
similar lengths (shuffle, sort within chunks of 32 batches, shuffle the batch order) so padding stays small; the plan
depends only on the lengths and the rng. `collate(samples, pad_id)` right-pads to the longest sample: `input_ids`
(pad_id), `attention_mask` (0 on padding), `labels` and `negatives` (IGNORE on padding; `negatives` is None when no
sample has any). `n_tokens` counts real tokens; `Batch.to(device)` moves the tensors. It knows nothing about models or
tasks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from model.tasks.base import IGNORE, Sample

_CHUNK = 32


@dataclass(frozen=True, slots=True)
class Batch:
    input_ids: torch.Tensor  # (B, T) int64
    attention_mask: torch.Tensor  # (B, T) int64
    labels: torch.Tensor  # (B, T) int64, IGNORE = no loss
    negatives: torch.Tensor | None  # (B, T) int64 or None
    n_tokens: int

    def to(self, device: torch.device | str) -> Batch:
        """The same batch on `device` (itself when it is already there)."""
        if self.input_ids.device == torch.device(device):
            return self
        negs = self.negatives.to(device) if self.negatives is not None else None
        ids, mask, labels = (t.to(device) for t in (self.input_ids, self.attention_mask, self.labels))
        return Batch(ids, mask, labels, negs, self.n_tokens)


def plan_batches(lengths: Sequence[int], batch_size: int, rng: np.random.Generator) -> list[list[int]]:
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1; got {batch_size}")
    order = rng.permutation(len(lengths)).tolist()
    chunk = batch_size * _CHUNK
    batches: list[list[int]] = []
    for start in range(0, len(order), chunk):
        part = sorted(order[start : start + chunk], key=lambda i: lengths[i])
        batches += [part[j : j + batch_size] for j in range(0, len(part), batch_size)]
    return [batches[i] for i in rng.permutation(len(batches)).tolist()]


def collate(samples: Sequence[Sample], pad_id: int) -> Batch:
    width = max(len(s.input_ids) for s in samples)
    n = len(samples)
    ids = torch.full((n, width), pad_id, dtype=torch.long)
    mask = torch.zeros((n, width), dtype=torch.long)
    labels = torch.full((n, width), IGNORE, dtype=torch.long)
    any_neg = any(s.negatives for s in samples)
    negs = torch.full((n, width), IGNORE, dtype=torch.long) if any_neg else None
    for r, s in enumerate(samples):
        t = len(s.input_ids)
        ids[r, :t] = torch.tensor(s.input_ids)
        mask[r, :t] = 1
        labels[r, :t] = torch.tensor(s.labels)
        if negs is not None and s.negatives:
            negs[r, :t] = torch.tensor(s.negatives)
    return Batch(ids, mask, labels, negs, int(mask.sum()))
