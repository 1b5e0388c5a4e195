"""Tokenizer quality measures on plain arrays.

Contract: `codebook_usage` gives, per level, the fraction of codewords used and the perplexity of their use
(exp of the entropy; C when use is uniform, 1 when one codeword takes everything). `retrieval_accuracy` ranks, for
each query row i, every key row by cosine and reports how often key i is first / in the top 10 (ties count
against the item). `linear_probe` fits a ridge map from quantised vectors to text embeddings in closed form, the
same yardstick for tokenizers with and without a trained projection. `TokenizerMetrics` is the typed record that
goes into meta.json. Nothing here trains or knows where the arrays come from.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True, slots=True)
class TokenizerMetrics:
    n_items: int
    levels: int
    codebook_size: int
    recon_mse: float  # decoder(quantised) vs input, in standardised input units (1.0 ≈ predicting the mean)
    utilisation: tuple[float, ...]  # per level: fraction of codewords used by at least one item (final codes)
    perplexity: tuple[float, ...]  # per level: exp(entropy of codeword use)
    collision_rate_before: float  # 1 - distinct/items for plain nearest-codeword codes
    collision_rate_after: float  # same after resolution; 0 by construction
    max_items_per_code_before: int
    align_active: bool  # whether the alignment loss was on during training
    align_top1: float | None  # own text embedding ranked first from the learned projection (None: no projection)
    align_top10: float | None
    probe_top1: float | None  # same with a ridge probe fitted on the quantised vectors (None: no text)
    probe_top10: float | None
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["utilisation"] = list(self.utilisation)
        out["perplexity"] = list(self.perplexity)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TokenizerMetrics:
        data = dict(data)
        data["utilisation"] = tuple(data["utilisation"])
        data["perplexity"] = tuple(data["perplexity"])
        return cls(**data)


def codebook_usage(codes: np.ndarray, codebook_size: int) -> tuple[tuple[float, ...], tuple[float, ...]]:
    used: list[float] = []
    perplexity: list[float] = []
    for level in range(codes.shape[1]):
        counts = np.bincount(codes[:, level], minlength=codebook_size).astype(np.float64)
        used.append(float((counts > 0).mean()))
        p = counts[counts > 0] / counts.sum()
        perplexity.append(float(np.exp(-(p * np.log(p)).sum())))
    return tuple(used), tuple(perplexity)


def retrieval_accuracy(queries: np.ndarray, keys: np.ndarray, ks: tuple[int, ...] = (1, 10)) -> dict[int, float]:
    """Fraction of rows i whose key i ranks within the top k among all keys, by cosine to query i."""
    if queries.shape != keys.shape:
        raise ValueError(f"queries {queries.shape} and keys {keys.shape} must have the same shape")
    q = _unit(queries)
    k = _unit(keys)
    n = q.shape[0]
    rank = np.empty(n, dtype=np.int64)
    for start in range(0, n, 1024):
        sims = q[start : start + 1024] @ k.T
        own = sims[np.arange(sims.shape[0]), np.arange(start, start + sims.shape[0])]
        rank[start : start + sims.shape[0]] = (sims >= own[:, None]).sum(axis=1) - 1
    return {kk: float((rank < kk).mean()) for kk in ks}


def linear_probe(x: np.ndarray, y: np.ndarray, ridge: float = 1e-3) -> np.ndarray:
    """Ridge-regression prediction of y from x (with a bias), fitted and applied on the same rows."""
    xb = np.hstack([x.astype(np.float64), np.ones((x.shape[0], 1))])
    gram = xb.T @ xb
    gram += ridge * np.trace(gram) / gram.shape[0] * np.eye(gram.shape[0])
    w = np.linalg.solve(gram, xb.T @ y.astype(np.float64))
    return xb @ w


def _unit(x: np.ndarray) -> np.ndarray:
    x = x.astype(np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
