"""Leave-one-out split: targets, history caps, no leakage of evaluation targets into training."""

import pytest

from model.data.records import InteractionDataset, Item
from model.data.split import leave_one_out


def _dataset(sequences: list[list[int]], n_items: int = 10) -> InteractionDataset:
    items = [Item(i, str(i), f"item {i}") for i in range(n_items)]
    return InteractionDataset("toy", items, [f"u{u}" for u in range(len(sequences))], sequences)


def test_targets_and_training_prefix() -> None:
    split = leave_one_out(_dataset([[1, 2, 3, 4, 5]]), max_history=20)
    assert split.train == ((1, 2, 3),)
    assert (split.valid[0].history, split.valid[0].target) == ((1, 2, 3), 4)
    assert (split.test[0].history, split.test[0].target) == ((1, 2, 3, 4), 5)
    assert split.test[0].seen == frozenset({1, 2, 3, 4})


def test_history_is_capped_to_most_recent() -> None:
    split = leave_one_out(_dataset([list(range(10))]), max_history=3)
    assert split.test[0].history == (6, 7, 8)
    assert split.valid[0].history == (5, 6, 7)
    assert split.test[0].seen == frozenset(range(9))


def test_short_users_train_only_and_counted() -> None:
    split = leave_one_out(_dataset([[1, 2], [3, 4, 5]]))
    assert split.n_train_only == 1
    assert split.train[0] == (1, 2)
    assert [c.user for c in split.test] == [1]


def test_no_eval_target_leaks_into_training_position() -> None:
    seqs = [[u % 10, (u + 1) % 10, (u + 2) % 10, (u + 3) % 10, (u + 4) % 10] for u in range(20)]
    split = leave_one_out(_dataset(seqs))
    for case_v in split.valid:
        train = split.train[case_v.user]
        assert len(train) == len(seqs[case_v.user]) - 2
        assert train == tuple(seqs[case_v.user][:-2])


def test_bad_history_length_rejected() -> None:
    with pytest.raises(ValueError, match="max_history"):
        leave_one_out(_dataset([[1, 2, 3]]), max_history=0)
