"""Negative item samplers: items a user did not pick, drawn uniformly, by popularity, or as hard negatives.

Contract: `NegativeSampler(kind, codes, counts)`; `sample(positive, exclude, rng)` returns an item index that is never
`positive` and never in `exclude` (the user's own items), or -1 when no such item exists. `uniform` draws over the
catalogue, `popularity` in proportion to training counts (+1 smoothing), `hard` an item sharing the longest code
prefix with the positive that at least two items share (so the model must separate them at a deep code level), falling
back to uniform. Draws that hit an excluded item are retried a bounded number of times, then the catalogue is scanned.
Randomness comes only from the `rng` passed in. It knows nothing about tokens or models.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Literal

import numpy as np

from model.codes.item_codes import ItemCodes
from model.errors import UserError

SamplerKind = Literal["uniform", "popularity", "hard"]
KINDS: tuple[str, ...] = ("uniform", "popularity", "hard")
_TRIES = 20


class NegativeSampler:
    def __init__(self, kind: str, codes: ItemCodes, counts: np.ndarray | None = None) -> None:
        if kind not in KINDS:
            raise UserError(f"negative sampler {kind!r} is not one of {', '.join(KINDS)}")
        self.kind = kind
        self.n_items = codes.n_items
        self.codes = codes.codes
        weights = np.ones(self.n_items) if counts is None else np.asarray(counts, dtype=np.float64) + 1.0
        self._cdf = np.cumsum(weights / weights.sum())
        # hard negatives: each item's pool = the items sharing its longest code prefix (levels 1..L-1) held by >= 2
        self._pool: list[np.ndarray | None] = [None] * self.n_items
        if kind == "hard":
            for depth in range(1, codes.n_levels):
                groups: dict[tuple[int, ...], list[int]] = {}
                for i, row in enumerate(self.codes[:, :depth].tolist()):
                    groups.setdefault(tuple(row), []).append(i)
                for members in groups.values():
                    if len(members) > 1:
                        pool = np.asarray(members)
                        for i in members:
                            self._pool[i] = pool

    def sample(self, positive: int, exclude: Collection[int], rng: np.random.Generator) -> int:
        pool = self._pool[positive]
        if pool is not None:
            for cand in pool[rng.integers(pool.size, size=3)].tolist():
                if cand != positive and cand not in exclude:
                    return int(cand)
        for _ in range(_TRIES):
            if self.kind == "popularity":
                cand = int(np.searchsorted(self._cdf, rng.random(), side="right"))
                cand = min(cand, self.n_items - 1)
            else:
                cand = int(rng.integers(self.n_items))
            if cand != positive and cand not in exclude:
                return cand
        free = [i for i in range(self.n_items) if i != positive and i not in exclude]
        return int(free[rng.integers(len(free))]) if free else -1


def divergence(codes: np.ndarray, positive: int, negative: int) -> int:
    """The first code level where two items differ (they always do: codes are unique)."""
    a, b = codes[positive].tolist(), codes[negative].tolist()
    return next(level for level, (x, y) in enumerate(zip(a, b, strict=True)) if x != y)
