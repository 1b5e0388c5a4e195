"""Choosing the fusion on validation: every candidate set built once, every fusion tried on it, the best kept.

Contract: `tune_fusion(recommender, cases, exclude_seen)` builds each validation case's candidates with the
recommender (its SASRec and candidate counts; excluded items: the case's seen items minus its target under the
seen-removed rule, none under seen-kept), then scores the LM alone and every fusion of `grid` (default: `sum` and
`rrf` over a range of SASRec weights) by Recall/NDCG@K on those cases, and returns the one with the best `metric`
(default ndcg@10; ties go to the earlier entry, and the LM alone comes first, so a fusion must beat it to be chosen)
with every trial, for the record. Cases must come from the validation split: nothing here knows the test split. It
knows nothing about files or artifacts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from model.data.split import EvalCase
from model.eval.metrics import ranking_metrics
from model.eval.scorer import excluded
from model.rank.config import Fusion
from model.rank.fusion import Candidates, fuse
from model.recommender import Recommender

SUM_WEIGHTS = (0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0)
RRF_WEIGHTS = (0.5, 1.0, 1.5, 2.0, 3.0, 4.0)
DEFAULT_GRID: tuple[Fusion, ...] = (
    Fusion("lm"),
    *(Fusion("sum", w) for w in SUM_WEIGHTS),
    *(Fusion("rrf", w) for w in RRF_WEIGHTS),
)


@dataclass(frozen=True, slots=True)
class Trial:
    fusion: Fusion
    metrics: dict[str, float]


@dataclass(frozen=True, slots=True)
class TuningResult:
    best: Fusion
    metric: str
    exclude_seen: bool
    n_cases: int
    trials: tuple[Trial, ...]

    def record(self) -> dict[str, object]:
        """What the artifact keeps about the choice."""
        return {
            "metric": self.metric,
            "cases": self.n_cases,
            "chosen": self.best.describe(),
            "trials": [
                {"method": t.fusion.method, "weight": t.fusion.weight, **{k: round(v, 5) for k, v in t.metrics.items()}}
                for t in self.trials
            ],
        }


def build_candidates(
    recommender: Recommender,
    cases: Sequence[EvalCase],
    exclude_seen: bool,
    k: int,
    batch_size: int = 256,
    on_batch: Callable[[int], None] | None = None,
) -> list[Candidates]:
    out: list[Candidates] = []
    for start in range(0, len(cases), batch_size):
        chunk = cases[start : start + batch_size]
        exclude = [excluded(c, exclude_seen) for c in chunk]
        out += recommender.candidates([c.history for c in chunk], k, exclude, exclude_seen)
        if on_batch is not None:
            on_batch(len(chunk))
    return out


def score_fusions(
    cases: Sequence[EvalCase],
    candidates: Sequence[Candidates],
    grid: Sequence[Fusion],
    rrf_k: int,
    ks: Sequence[int] = (5, 10, 20),
) -> list[Trial]:
    k = max(ks)
    trials = []
    for fusion in grid:
        if fusion.method == "lm":
            ranked = [[s.item for s in c.lm_ranking()[:k]] for c in candidates]
        else:
            ranked = [[s.item for s in fuse(c, fusion, rrf_k, k)] for c in candidates]
        trials.append(Trial(fusion, ranking_metrics(cases, ranked, ks)))
    return trials


def tune_fusion(
    recommender: Recommender,
    cases: Sequence[EvalCase],
    exclude_seen: bool,
    grid: Sequence[Fusion] = DEFAULT_GRID,
    metric: str = "ndcg@10",
    ks: Sequence[int] = (5, 10, 20),
    on_batch: Callable[[int], None] | None = None,
) -> TuningResult:
    if not cases:
        raise ValueError("no validation cases to tune the fusion on")
    candidates = build_candidates(recommender, cases, exclude_seen, max(ks), on_batch=on_batch)
    trials = score_fusions(cases, candidates, grid, recommender.ranking.rrf_k, ks)
    if metric not in trials[0].metrics:
        raise ValueError(f"metric {metric!r} is not one of {sorted(trials[0].metrics)}")
    best = max(trials, key=lambda t: t.metrics[metric])  # max keeps the first of equals: the LM alone if no gain
    return TuningResult(best.fusion, metric, exclude_seen, len(cases), tuple(trials))
