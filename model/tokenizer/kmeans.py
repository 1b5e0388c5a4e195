"""Seeded k-means (k-means++ seeding, then Lloyd iterations) on a CPU tensor, for codebook initialisation.

Contract: `kmeans(x, k, iters, generator)` returns k centroids (k × d) and is deterministic for a given generator
state. With fewer distinct points than k, the extra centroids are copies of data points with tiny noise, so no
centroid is empty-by-construction. It knows nothing about what the points are.
"""

from __future__ import annotations

import torch


def kmeans(x: torch.Tensor, k: int, iters: int, generator: torch.Generator) -> torch.Tensor:
    x = x.detach().float()
    n = x.shape[0]
    if n == 0:
        raise ValueError("kmeans: no points")
    if n <= k:
        extra = torch.randint(0, n, (k - n,), generator=generator)
        base = torch.cat([x, x[extra]], dim=0)
        scale = x.std().clamp_min(1e-6) * 1e-3
        return base + scale * torch.randn(base.shape, generator=generator)
    centroids = _plus_plus(x, k, generator)
    for _ in range(iters):
        assign = torch.cdist(x, centroids).argmin(dim=1)
        sums = torch.zeros_like(centroids).index_add_(0, assign, x)
        counts = torch.bincount(assign, minlength=k).to(x.dtype)
        empty = counts == 0
        centroids = torch.where(empty[:, None], centroids, sums / counts.clamp_min(1)[:, None])
        if empty.any():  # re-seed empty clusters on the points farthest from their centroid
            far = (x - centroids[assign]).pow(2).sum(1).argsort(descending=True)[: int(empty.sum())]
            centroids[empty] = x[far]
    return centroids


def _plus_plus(x: torch.Tensor, k: int, generator: torch.Generator) -> torch.Tensor:
    n = x.shape[0]
    first = int(torch.randint(0, n, (1,), generator=generator))
    chosen = [first]
    dist = (x - x[first]).pow(2).sum(1)
    for _ in range(1, k):
        total = dist.sum()
        if total <= 0:  # every remaining point coincides with a centroid
            idx = int(torch.randint(0, n, (1,), generator=generator))
        else:
            idx = int(torch.multinomial(dist / total, 1, generator=generator))
        chosen.append(idx)
        dist = torch.minimum(dist, (x - x[idx]).pow(2).sum(1))
    return x[chosen].clone()
