"""Iterative k-core filtering: keep the largest set of interactions in which every user and every item has at least
k of them.

Contract: `k_core_mask(users, items, k)` works on parallel sequences of hashable ids and returns which positions
survive; `filter_k_core(dataset, k)` applies it to an `InteractionDataset` and re-indexes the surviving items
densely (keeping their relative order and raw ids) and keeps users' order and each sequence's order. k <= 1 removes
no interaction; k >= 1 removes catalogue items that have no interaction (they have 0 < k), k = 0 keeps them.
Removals are logged with counts. It knows nothing about file formats.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

from model.data.records import InteractionDataset, Item
from model.logs import get_logger

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class KCoreStats:
    """What a k-core pass removed."""

    k: int
    rounds: int  # passes until nothing changed
    interactions_removed: int
    users_removed: int
    items_removed: int


def k_core_mask(users: Sequence[Hashable], items: Sequence[Hashable], k: int) -> tuple[list[bool], KCoreStats]:
    """keep[i] says whether interaction i (users[i], items[i]) is in the k-core."""
    if len(users) != len(items):
        raise ValueError(f"{len(users)} users but {len(items)} items")
    keep = [True] * len(users)
    n_users, n_items = len(set(users)), len(set(items))
    rounds = 0
    if k > 1:
        alive = list(range(len(users)))
        while True:
            rounds += 1
            user_count = Counter(users[i] for i in alive)
            item_count = Counter(items[i] for i in alive)
            survivors = [i for i in alive if user_count[users[i]] >= k and item_count[items[i]] >= k]
            if len(survivors) == len(alive):
                break
            for i in set(alive) - set(survivors):
                keep[i] = False
            alive = survivors
    kept = [i for i, flag in enumerate(keep) if flag]
    stats = KCoreStats(
        k=k,
        rounds=rounds,
        interactions_removed=len(users) - len(kept),
        users_removed=n_users - len({users[i] for i in kept}),
        items_removed=n_items - len({items[i] for i in kept}),
    )
    return keep, stats


def filter_k_core(dataset: InteractionDataset, k: int) -> InteractionDataset:
    """The k-core of a dataset (see the module contract)."""
    users = [u for u, seq in enumerate(dataset.sequences) for _ in seq]
    items = [i for seq in dataset.sequences for i in seq]
    keep, stats = k_core_mask(users, items, k)
    unused = dataset.n_items - len(set(items))
    log_stats(dataset.name, stats, catalogue_only_items=unused if k > 0 else 0)
    kept_seqs: list[list[int]] = [[] for _ in dataset.sequences]
    for flag, user, item in zip(keep, users, items, strict=True):
        if flag:
            kept_seqs[user].append(item)
    kept_items = sorted({i for seq in kept_seqs for i in seq}) if k > 0 else list(range(dataset.n_items))
    new_index = {old: new for new, old in enumerate(kept_items)}
    new_items = [
        Item(new_index[old], dataset.items[old].raw_id, dataset.items[old].title, dataset.items[old].fields)
        for old in kept_items
    ]
    user_ids = [dataset.user_ids[u] for u, seq in enumerate(kept_seqs) if seq]
    sequences = [[new_index[i] for i in seq] for seq in kept_seqs if seq]
    return InteractionDataset(dataset.name, new_items, user_ids, sequences)


def log_stats(name: str, stats: KCoreStats, catalogue_only_items: int = 0) -> None:
    log.info(
        "k-core filter",
        dataset=name,
        k=stats.k,
        rounds=stats.rounds,
        interactions_removed=stats.interactions_removed,
        users_removed=stats.users_removed,
        items_removed=stats.items_removed + catalogue_only_items,
    )
