"""Popularity: counted from training sequences only, deterministic ties, the seen-item rule."""

import numpy as np
import pytest

from model.baselines.popularity import PopularityScorer
from model.data.records import InteractionDataset, Item
from model.data.split import EvalCase, leave_one_out


def test_counts_come_from_training_only() -> None:
    items = [Item(i, str(i), "") for i in range(6)]
    # item 5 is every user's test target and item 4 every validation target: neither may be counted
    ds = InteractionDataset("toy", items, ["a", "b", "c"], [[0, 1, 4, 5], [1, 2, 4, 5], [1, 3, 4, 5]])
    split = leave_one_out(ds)
    pop = PopularityScorer.fit(split.train, ds.n_items)
    assert pop.counts.tolist() == [1, 3, 1, 1, 0, 0]
    assert pop.rank(split.test, 4, exclude_seen=False) == [[1, 0, 2, 3]] * 3


def test_ties_break_by_item_index() -> None:
    pop = PopularityScorer(np.array([2, 5, 2, 5, 0]))
    assert pop.order == [1, 3, 0, 2, 4]


def test_exclude_seen_skips_seen_items_but_keeps_the_target() -> None:
    pop = PopularityScorer(np.array([9, 8, 7, 6, 5, 4]))
    case = EvalCase(0, (0, 2), frozenset({0, 2}), target=2)
    assert pop.rank([case], 3, exclude_seen=True) == [[1, 2, 3]]
    assert pop.rank([case], 3, exclude_seen=False) == [[0, 1, 2]]


def test_bad_k() -> None:
    pop = PopularityScorer(np.array([1, 2, 3]))
    with pytest.raises(ValueError, match="got 0"):
        pop.rank([], 0, exclude_seen=False)
