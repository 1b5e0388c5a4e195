"""Full-ranking Recall@K and NDCG@K for leave-one-out evaluation (one target per case), and the typed result record.

Contract: with a single relevant item, Recall@K is 1 when the target is among the first K ranked items, else 0, and
NDCG@K is 1/log2(rank + 2) for a 0-based rank < K, else 0 (the ideal DCG is 1). Metrics are means over cases.
`evaluate_scorer` asks a `Scorer` for the top max(K) and records which seen-item rule was used. This module knows
nothing about models or files.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from model.data.split import EvalCase
from model.eval.scorer import Scorer

KS: tuple[int, ...] = (5, 10, 20)


@dataclass(frozen=True, slots=True)
class MetricReport:
    """One model evaluated on one split under one seen-item rule."""

    model: str
    dataset: str
    split: str  # "valid" or "test"
    exclude_seen: bool  # True: items the user already saw (except the target) were removed from the ranking
    n_cases: int
    metrics: Mapping[str, float]  # "recall@10" -> 0.0605, "ndcg@10" -> 0.0318, ...
    seconds: float = 0.0  # wall time of the ranking
    extra: Mapping[str, Any] = field(default_factory=dict)  # free notes (e.g. the model's artifact hash)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["metrics"] = dict(self.metrics)
        out["extra"] = dict(self.extra)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MetricReport:
        return cls(
            model=str(data["model"]),
            dataset=str(data["dataset"]),
            split=str(data["split"]),
            exclude_seen=bool(data["exclude_seen"]),
            n_cases=int(data["n_cases"]),
            metrics={str(k): float(v) for k, v in data["metrics"].items()},
            seconds=float(data.get("seconds", 0.0)),
            extra=dict(data.get("extra", {})),
        )


def metric_names(ks: Sequence[int] = KS) -> list[str]:
    return [f"recall@{k}" for k in ks] + [f"ndcg@{k}" for k in ks]


def ranking_metrics(
    cases: Sequence[EvalCase], ranked: Sequence[Sequence[int]], ks: Sequence[int] = KS
) -> dict[str, float]:
    """Mean Recall@K and NDCG@K over cases; `ranked[i]` is case i's ranking, best first, without duplicates."""
    if len(cases) != len(ranked):
        raise ValueError(f"{len(cases)} cases but {len(ranked)} rankings")
    if not ks or any(k < 1 for k in ks):
        raise ValueError(f"cut-offs must be positive integers, got {list(ks)}")
    if not cases:
        raise ValueError("no evaluation cases")
    max_k = max(ks)
    hits = {k: 0.0 for k in ks}
    gains = {k: 0.0 for k in ks}
    for i, (case, ranking) in enumerate(zip(cases, ranked, strict=True)):
        top = list(ranking[:max_k])
        if len(set(top)) != len(top):
            raise ValueError(f"ranking of case {i} (user {case.user}) repeats an item: {top}")
        try:
            rank = top.index(case.target)
        except ValueError:
            continue
        for k in ks:
            if rank < k:
                hits[k] += 1.0
                gains[k] += 1.0 / math.log2(rank + 2)
    n = len(cases)
    out = {f"recall@{k}": hits[k] / n for k in ks}
    out.update({f"ndcg@{k}": gains[k] / n for k in ks})
    return {name: out[name] for name in metric_names(ks)}


def evaluate_scorer(
    scorer: Scorer,
    cases: Sequence[EvalCase],
    *,
    dataset: str,
    split: str,
    exclude_seen: bool,
    ks: Sequence[int] = KS,
    extra: Mapping[str, Any] | None = None,
) -> MetricReport:
    """Rank every case with `scorer` (top max(ks)) and score the result."""
    start = time.perf_counter()
    ranked = scorer.rank(cases, max(ks), exclude_seen)
    seconds = time.perf_counter() - start
    return MetricReport(
        model=scorer.name,
        dataset=dataset,
        split=split,
        exclude_seen=exclude_seen,
        n_cases=len(cases),
        metrics=ranking_metrics(cases, ranked, ks),
        seconds=round(seconds, 3),
        extra=dict(extra or {}),
    )
