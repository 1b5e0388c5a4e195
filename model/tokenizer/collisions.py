"""Collision resolution: every item ends with its own code tuple.

Contract: `resolve_collisions(latent, codebooks)` re-runs residual quantisation level by level under a capacity limit:
at level l a codeword may take at most C ** (L-1-l) items of its prefix group (so at the last level, one). Items keep
their nearest codeword whenever the limit allows; when a codeword is over-full the items nearest to it stay and the
others move to their nearest codeword that still has room (their residuals for the deeper levels are then recomputed
from the codeword they actually got). With `initial` codes (e.g. balanced k-means assignments), an item prefers its
initial codeword to its nearest one at every level as long as it kept its initial codes above. With n_items <= C ** L
this always ends with all tuples distinct. It changes no codebook and knows nothing about training or the LM.
"""

from __future__ import annotations

import numpy as np


def assign_codes(latent: np.ndarray, codebooks: np.ndarray) -> np.ndarray:
    """Plain residual quantisation (nearest codeword per level), collisions allowed. (n, L) int64."""
    residual = latent.astype(np.float64).copy()
    codes = np.empty((latent.shape[0], codebooks.shape[0]), dtype=np.int64)
    for level, book in enumerate(codebooks.astype(np.float64)):
        codes[:, level] = _sqdist(residual, book).argmin(axis=1)
        residual -= book[codes[:, level]]
    return codes


def resolve_collisions(latent: np.ndarray, codebooks: np.ndarray, initial: np.ndarray | None = None) -> np.ndarray:
    n = latent.shape[0]
    levels, size, _ = codebooks.shape
    if n > size**levels:
        raise ValueError(f"{n} items cannot get distinct codes from {levels} levels of {size} codewords")
    books = codebooks.astype(np.float64)
    residual = latent.astype(np.float64).copy()
    codes = np.zeros((n, levels), dtype=np.int64)
    group = np.zeros(n, dtype=np.int64)  # id of each item's prefix (codes of levels < l)
    on_initial = np.ones(n, dtype=bool)  # items whose codes so far are their initial ones
    for level in range(levels):
        capacity = size ** (levels - 1 - level)
        dist = _sqdist(residual, books[level])
        assign = dist.argmin(axis=1)
        if initial is not None:
            assign = np.where(on_initial, initial[:, level], assign)
        key = group * size + assign
        _, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)
        crowded = counts[inverse] > capacity
        for members in _members_of(group, np.unique(group[crowded])):
            assign[members] = _capacitated(dist[members], capacity, assign[members])
        if initial is not None:
            on_initial &= assign == initial[:, level]
        codes[:, level] = assign
        residual -= books[level][assign]
        _, group = np.unique(group * size + assign, return_inverse=True)
        group = group.reshape(-1)
    return codes


def _members_of(group: np.ndarray, wanted: np.ndarray) -> list[np.ndarray]:
    """Item indices of each wanted group, one array per group, in one sort."""
    idx = np.flatnonzero(np.isin(group, wanted))
    idx = idx[np.argsort(group[idx], kind="stable")]
    cuts = np.flatnonzero(np.diff(group[idx])) + 1
    return np.split(idx, cuts) if idx.size else []


def _capacitated(dist: np.ndarray, capacity: int, start: np.ndarray | None = None) -> np.ndarray:
    """Nearest codeword per row (or `start`'s) with at most `capacity` rows per codeword; len(dist) <= capacity x
    n_codes."""
    dist = dist.copy()
    assign = dist.argmin(axis=1) if start is None else start.copy()
    while True:
        counts = np.bincount(assign, minlength=dist.shape[1])
        over = np.flatnonzero(counts > capacity)
        if over.size == 0:
            return assign
        displaced: list[np.ndarray] = []
        for code in over:
            members = np.flatnonzero(assign == code)
            order = members[np.argsort(dist[members, code], kind="stable")]
            displaced.append(order[capacity:])
        moved = np.concatenate(displaced)
        full = np.bincount(np.delete(assign, moved), minlength=dist.shape[1]) >= capacity
        dist[np.ix_(moved, np.flatnonzero(full))] = np.inf
        assign[moved] = dist[moved].argmin(axis=1)


def collision_rate(codes: np.ndarray) -> float:
    """1 - distinct tuples / items: 0 when every item has its own code."""
    if codes.shape[0] == 0:
        return 0.0
    distinct = np.unique(codes, axis=0).shape[0]
    return 1.0 - distinct / codes.shape[0]


def max_items_per_code(codes: np.ndarray) -> int:
    if codes.shape[0] == 0:
        return 0
    return int(np.unique(codes, axis=0, return_counts=True)[1].max())


def _sqdist(x: np.ndarray, book: np.ndarray) -> np.ndarray:
    return (x * x).sum(1, keepdims=True) - 2.0 * x @ book.T + (book * book).sum(1)[None, :]
