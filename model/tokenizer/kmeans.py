"""Seeded k-means (k-means++ seeding, then Lloyd iterations) on a CPU tensor, for codebooks.

Contract: `kmeans(x, k, iters, generator)` returns k centroids (k × d) and is deterministic for a given generator
state; `balanced_kmeans` also returns the assignment, with no cluster holding more than ceil(n / k) points. With
fewer distinct points than k, the extra centroids are copies of data points with tiny noise, so no centroid is
empty-by-construction. It knows nothing about what the points are.
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


def balanced_kmeans(
    x: torch.Tensor, k: int, iters: int, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """(centroids, assignment) with at most ceil(n / k) points per cluster: k-means++ seeding, then Lloyd iterations
    whose assignment step is capacity-constrained (points in order of their distance to their nearest centroid, each
    to the nearest cluster with room). Deterministic for a given generator state."""
    x = x.detach().float()
    n = x.shape[0]
    if n <= k:
        centroids = kmeans(x, k, iters, generator)
        return centroids, torch.arange(n)
    capacity = -(-n // k)
    centroids = _plus_plus(x, k, generator)
    assign = torch.zeros(n, dtype=torch.long)
    for _ in range(max(1, iters)):
        assign = balanced_assign(x, centroids, capacity)
        sums = torch.zeros_like(centroids).index_add_(0, assign, x)
        counts = torch.bincount(assign, minlength=k).to(x.dtype)
        centroids = torch.where((counts == 0)[:, None], centroids, sums / counts.clamp_min(1)[:, None])
    return centroids, balanced_assign(x, centroids, capacity)


def balanced_assign(x: torch.Tensor, centroids: torch.Tensor, capacity: int) -> torch.Tensor:
    """Each point's cluster, no cluster over `capacity`: the points most sure of their nearest centroid go first."""
    dist = torch.cdist(x, centroids)
    order = dist.min(dim=1).values.argsort()
    room = torch.full((centroids.shape[0],), capacity, dtype=torch.long)
    ranked = dist.argsort(dim=1)
    assign = torch.empty(x.shape[0], dtype=torch.long)
    for point in order.tolist():
        for cluster in ranked[point].tolist():
            if room[cluster] > 0:
                room[cluster] -= 1
                assign[point] = cluster
                break
    return assign
