"""Most-popular baseline: every user gets the items bought most often in the training sequences.

Contract: counts come from training sequences only (never from validation or test targets); ties are broken by the
smaller item index, so the ranking is deterministic. `rank` follows the `Scorer` contract (model/eval/scorer.py),
including the seen-item rule. It knows nothing about users beyond what each `EvalCase` carries.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from model.data.split import EvalCase
from model.eval.scorer import check_k


class PopularityScorer:
    name = "popularity"

    def __init__(self, counts: np.ndarray) -> None:
        if counts.ndim != 1 or counts.size == 0:
            raise ValueError(f"counts must be a non-empty vector, got shape {counts.shape}")
        self.counts = counts.astype(np.int64)
        # stable sort on -count: equal counts keep ascending item order
        self.order: list[int] = np.argsort(-self.counts, kind="stable").tolist()

    @classmethod
    def fit(cls, train: Sequence[Sequence[int]], n_items: int) -> PopularityScorer:
        counts = np.zeros(n_items, dtype=np.int64)
        for seq in train:
            if seq:
                np.add.at(counts, np.asarray(seq, dtype=np.int64), 1)
        return cls(counts)

    @property
    def n_items(self) -> int:
        return int(self.counts.size)

    def rank(self, cases: Sequence[EvalCase], k: int, exclude_seen: bool) -> list[list[int]]:
        check_k(k, self.n_items)
        if not exclude_seen:
            top = self.order[:k]
            return [list(top) for _ in cases]
        result: list[list[int]] = []
        for case in cases:
            picked: list[int] = []
            for item in self.order:
                if item in case.seen and item != case.target:
                    continue
                picked.append(item)
                if len(picked) == k:
                    break
            result.append(picked)
        return result
