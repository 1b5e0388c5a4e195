"""Leave-one-out split, the protocol of TIGER / LC-Rec / P5.

Contract: for every user with at least 3 interactions, the last item is the test target, the second to last the
validation target, and everything before the validation target is training data. The model-facing history of an
evaluation case is the prefix before its target, capped to the most recent `max_history` items; `seen` is the whole
prefix (for the optional "remove items already seen" ranking rule). Users with fewer than 3 interactions feed
training only and are counted in `n_train_only`. Training sequences never contain a validation or test target.
This module knows nothing about models or file formats.
"""

from __future__ import annotations

from dataclasses import dataclass

from model.data.records import InteractionDataset

MIN_EVAL_LENGTH = 3


@dataclass(frozen=True, slots=True)
class EvalCase:
    """One user's evaluation query: what the model sees, and the single item it should rank high."""

    user: int
    history: tuple[int, ...]  # the most recent `max_history` items before the target, oldest first
    seen: frozenset[int]  # every item before the target (not capped)
    target: int


@dataclass(frozen=True, slots=True)
class LeaveOneOutSplit:
    train: tuple[tuple[int, ...], ...]  # per user (all users), chronological, targets of valid/test removed
    valid: tuple[EvalCase, ...]
    test: tuple[EvalCase, ...]
    max_history: int
    n_train_only: int  # users too short to evaluate (< MIN_EVAL_LENGTH interactions)


def leave_one_out(dataset: InteractionDataset, max_history: int = 20) -> LeaveOneOutSplit:
    """Split every user's sequence; see the module docstring for the rule."""
    if max_history < 1:
        raise ValueError(f"max_history must be >= 1, got {max_history}")
    train: list[tuple[int, ...]] = []
    valid: list[EvalCase] = []
    test: list[EvalCase] = []
    n_train_only = 0
    for user, seq in enumerate(dataset.sequences):
        seq = tuple(seq)
        if len(seq) < MIN_EVAL_LENGTH:
            train.append(seq)
            n_train_only += 1
            continue
        train.append(seq[:-2])
        valid.append(EvalCase(user, seq[:-2][-max_history:], frozenset(seq[:-2]), seq[-2]))
        test.append(EvalCase(user, seq[:-1][-max_history:], frozenset(seq[:-1]), seq[-1]))
    return LeaveOneOutSplit(tuple(train), tuple(valid), tuple(test), max_history, n_train_only)
