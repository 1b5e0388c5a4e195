"""Fusing a user's candidates: two scores per candidate in, the final ranking out.

Contract: `Candidates` holds one user's candidate items with the LM's log-probability of each item's code path and
SASRec's log-softmax score of it over the whole catalogue (both for every candidate: missing LM scores come from
teacher forcing, see `model.rank.candidates`). `fused_scores(c, fusion, rrf_k)` is the final score of each candidate
under `model.rank.config`'s definitions; `fuse(c, fusion, rrf_k, k)` the top k as `ScoredItem`s carrying that score,
best first, ties broken by the lower item index, so the result is exactly a sort of the candidate set by the fused
score (the brute-force re-ranking). It knows nothing about models, prompts or where candidates came from.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from model.generate.base import ScoredItem
from model.rank.config import Fusion


@dataclass(frozen=True, slots=True)
class Candidates:
    items: npt.NDArray[np.int64]  # (n,) distinct item indices
    lm: npt.NDArray[np.float64]  # (n,) LM log-probability of each item (sum over its code tokens)
    sasrec: npt.NDArray[np.float64]  # (n,) SASRec log-softmax of each item over the whole catalogue
    lm_proposed: int = 0  # the first lm_proposed items are the LM search's own top list, in its order

    def __post_init__(self) -> None:
        if not self.items.shape == self.lm.shape == self.sasrec.shape or self.items.ndim != 1:
            raise ValueError(
                f"candidates need three 1-d arrays of one length, got {self.items.shape}, {self.lm.shape}, "
                f"{self.sasrec.shape}"
            )
        if not 0 <= self.lm_proposed <= self.items.size:
            raise ValueError(f"lm_proposed must be in [0, {self.items.size}], got {self.lm_proposed}")

    def lm_ranking(self) -> list[ScoredItem]:
        """The LM search's own list (what the ranking `lm` returns)."""
        n = self.lm_proposed
        return [ScoredItem(int(i), float(s)) for i, s in zip(self.items[:n], self.lm[:n], strict=True)]


def _ranks(scores: npt.NDArray[np.float64], items: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
    """1-based rank of each candidate by `scores` (higher first, ties by lower item index)."""
    order = np.lexsort((items, -scores))
    ranks = np.empty(scores.size, dtype=np.float64)
    ranks[order] = np.arange(1, scores.size + 1)
    return ranks


def fused_scores(c: Candidates, fusion: Fusion, rrf_k: int = 60) -> npt.NDArray[np.float64]:
    if fusion.method == "lm":
        return c.lm.copy()
    if fusion.method == "sum":
        return c.lm + fusion.weight * c.sasrec
    return 1.0 / (rrf_k + _ranks(c.lm, c.items)) + fusion.weight / (rrf_k + _ranks(c.sasrec, c.items))


def fuse(c: Candidates, fusion: Fusion, rrf_k: int, k: int) -> list[ScoredItem]:
    scores = fused_scores(c, fusion, rrf_k)
    order = np.lexsort((c.items, -scores))[:k]
    return [ScoredItem(int(c.items[j]), float(scores[j])) for j in order]
