"""How an artifact ranks: which fusion, with which weight, over how many candidates, per seen-item rule.

Contract: `RankingConfig` is stored in a model artifact as `ranking.json` (see `model.artifact`) and read back equal
(`to_dict` / `from_dict`, refusing unknown methods and out-of-range values with a message naming the field). It
holds one `Fusion` per seen-item rule, because the weight that ranks best with seen items removed (the product's
default) is not the one that ranks best with them kept (a deployment for re-purchase domains):
- method `lm`: the LM's constrained beam search alone (the candidate count is then the beam);
- method `sum`: final score = LM log-probability + weight x SASRec log-softmax, over the union of the LM's top
  `lm_candidates` and SASRec's top `sasrec_candidates`;
- method `rrf`: reciprocal-rank fusion over the same union, 1 / (rrf_k + LM rank) + weight / (rrf_k + SASRec rank),
  each rank 1-based among the union's candidates by that model's score.
`selection` records how the choice was made (split, users, every value tried), for the report. It knows nothing about
models or files.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Method = Literal["lm", "sum", "rrf"]
METHODS: tuple[Method, ...] = ("lm", "sum", "rrf")


@dataclass(frozen=True, slots=True)
class Fusion:
    method: Method = "lm"
    weight: float = 0.0  # SASRec's weight (sum: on its log-softmax; rrf: on its reciprocal rank); unused by lm

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"fusion method {self.method!r} is not one of {', '.join(METHODS)}")
        if not (math.isfinite(self.weight) and self.weight >= 0):
            raise ValueError(f"fusion weight must be a finite number >= 0, got {self.weight}")

    @property
    def uses_sasrec(self) -> bool:
        return self.method != "lm"

    def describe(self) -> str:
        return "LM alone" if self.method == "lm" else f"{self.method} fusion, SASRec weight {self.weight:g}"


@dataclass(frozen=True, slots=True)
class RankingConfig:
    seen_removed: Fusion = field(default_factory=Fusion)  # the product's default rule
    seen_kept: Fusion = field(default_factory=Fusion)
    lm_candidates: int = 50  # N: the LM's beam search proposes this many (at least the list length asked for)
    sasrec_candidates: int = 50  # M: SASRec's top M join them, scored by the LM by teacher forcing
    rrf_k: int = 60
    selection: dict[str, Any] = field(default_factory=dict)  # how the fusions were chosen (for the record)

    def __post_init__(self) -> None:
        if self.lm_candidates < 1:
            raise ValueError(f"lm_candidates must be >= 1, got {self.lm_candidates}")
        if self.sasrec_candidates < 0:
            raise ValueError(f"sasrec_candidates must be >= 0, got {self.sasrec_candidates}")
        if self.rrf_k < 1:
            raise ValueError(f"rrf_k must be >= 1, got {self.rrf_k}")

    def fusion(self, exclude_seen: bool) -> Fusion:
        return self.seen_removed if exclude_seen else self.seen_kept

    @property
    def uses_sasrec(self) -> bool:
        return self.seen_removed.uses_sasrec or self.seen_kept.uses_sasrec

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> RankingConfig:
        known = {"seen_removed", "seen_kept", "lm_candidates", "sasrec_candidates", "rrf_k", "selection"}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise ValueError(f"unknown ranking field(s) {unknown}")
        values = dict(raw)
        for rule in ("seen_removed", "seen_kept"):
            if rule in values:
                values[rule] = Fusion(**values[rule])
        return cls(**values)


LM_ONLY = RankingConfig()
