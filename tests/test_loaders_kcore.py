"""Iterative k-core: every survivor has >= k interactions, and the result is the unique largest such set."""

from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from model.data.loaders.kcore import filter_k_core, k_core_mask
from model.data.records import InteractionDataset, Item


def _peel(users: list[str], items: list[str], k: int) -> list[bool]:
    """Reference: remove one violating interaction at a time until none is left (any order gives the k-core)."""
    keep = [True] * len(users)
    while True:
        uc = Counter(u for u, f in zip(users, keep, strict=True) if f)
        ic = Counter(i for i, f in zip(items, keep, strict=True) if f)
        bad = next((n for n, f in enumerate(keep) if f and (uc[users[n]] < k or ic[items[n]] < k)), None)
        if bad is None:
            return keep
        keep[bad] = False


def test_removal_cascades_over_rounds() -> None:
    users = ["A", "A", "B", "B", "C", "C"]
    items = ["x", "y", "x", "y", "x", "z"]
    keep, stats = k_core_mask(users, items, 2)
    assert keep == [True, True, True, True, False, False]  # z goes first, then C is left with one, then (C, x)
    assert stats.rounds == 3  # two passes that remove, one that confirms
    assert (stats.interactions_removed, stats.users_removed, stats.items_removed) == (2, 1, 1)


def test_k_at_most_one_keeps_everything() -> None:
    keep, stats = k_core_mask(["a", "b"], ["x", "y"], 1)
    assert keep == [True, True] and stats.interactions_removed == 0


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from("abcdef"), st.sampled_from("uvwxyz")), max_size=40),
    st.integers(min_value=1, max_value=4),
)
def test_matches_one_at_a_time_peeling(pairs: list[tuple[str, str]], k: int) -> None:
    users, items = [p[0] for p in pairs], [p[1] for p in pairs]
    keep, _ = k_core_mask(users, items, k)
    assert keep == _peel(users, items, k)
    kept_users = Counter(u for u, f in zip(users, keep, strict=True) if f)
    kept_items = Counter(i for i, f in zip(items, keep, strict=True) if f)
    assert all(c >= k for c in kept_users.values()) and all(c >= k for c in kept_items.values())


def test_filter_k_core_reindexes_items_densely_and_keeps_raw_ids() -> None:
    items = [Item(i, f"r{i}", f"t{i}") for i in range(5)]
    ds = InteractionDataset("toy", items, ["A", "B", "C"], [[0, 3], [3, 0, 4], [4]])
    out = filter_k_core(ds, 2)
    assert [(it.index, it.raw_id) for it in out.items] == [(0, "r0"), (1, "r3")]
    assert out.user_ids == ["A", "B"]
    assert [list(s) for s in out.sequences] == [[0, 1], [1, 0]]


def test_filter_k_core_zero_keeps_catalogue_only_items() -> None:
    items = [Item(i, f"r{i}", "") for i in range(3)]
    ds = InteractionDataset("toy", items, ["A"], [[1]])
    assert filter_k_core(ds, 0).n_items == 3
    assert filter_k_core(ds, 1).n_items == 1
