"""The one interface every ranking model offers to evaluation, and the shared top-k step for score-based models.

Contract: `Scorer.rank(cases, k, exclude_seen)` returns, per case, the indices of the k best items out of ALL items of
the catalogue (full ranking, no sampled negatives), best first, without duplicates. When `exclude_seen` is true the
items of `case.seen` are removed from the ranking except the case's target, which is never removed (RecBole's rule;
the generative papers keep seen items, so both are offered and every report says which was used). A list may be
shorter than k only when fewer than k items remain after removal; `excluded(case, exclude_seen)` is that rule, the one
place it is written. This module knows nothing about how scores are made.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import torch

from model.data.split import EvalCase


class Scorer(Protocol):
    name: str

    def rank(self, cases: Sequence[EvalCase], k: int, exclude_seen: bool) -> list[list[int]]:
        """Top-k item indices per case, best first, over all items."""
        ...


def excluded(case: EvalCase, exclude_seen: bool) -> frozenset[int]:
    """The items the seen-item rule removes from this case's ranking: its seen items but the target, or none."""
    return case.seen - {case.target} if exclude_seen else frozenset()


def check_k(k: int, n_items: int) -> None:
    """Reject a cut-off that cannot be served; the message names the value and the range."""
    if not 1 <= k <= n_items:
        raise ValueError(f"k must be between 1 and the number of items ({n_items}), got {k}")


def top_k_from_scores(scores: torch.Tensor, cases: Sequence[EvalCase], k: int, exclude_seen: bool) -> list[list[int]]:
    """Rank one batch: `scores` is (len(cases), n_items), higher is better; seen items masked when asked."""
    if scores.ndim != 2 or scores.shape[0] != len(cases):
        raise ValueError(f"scores must be ({len(cases)}, n_items), got {tuple(scores.shape)}")
    n_items = scores.shape[1]
    check_k(k, n_items)
    scores = scores.float().clone()
    rows: list[int] = []
    cols: list[int] = []
    if exclude_seen:
        for r, case in enumerate(cases):
            for item in excluded(case, exclude_seen):
                rows.append(r)
                cols.append(item)
        if rows:
            scores[torch.tensor(rows), torch.tensor(cols)] = float("-inf")
    values, indices = torch.topk(scores, k, dim=1)
    result: list[list[int]] = []
    for vals, idx in zip(values.tolist(), indices.tolist(), strict=True):
        result.append([i for v, i in zip(vals, idx, strict=True) if v != float("-inf")])
    return result
