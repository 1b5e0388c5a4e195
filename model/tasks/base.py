"""The sample record every alignment task produces, and the context the builders share.

Contract: a `Sample` is one token sequence with per-position targets: `labels[i]` is the token the model must give
at position i (predicted from positions < i), or `IGNORE` where no loss is taken (prompt tokens, padding);
`negatives[i]`, when present, is a token whose probability at position i is pushed DOWN (unlikelihood), or `IGNORE`.
Loss is only ever taken on response tokens. `TaskContext` holds what builders read: the tokenizer (text pieces are
encoded once and cached), the code-token path of every item, the items' text and the training sequences of the
leave-one-out split; builders never see validation or test targets. A builder is `build(rng) -> list[Sample]` (one
epoch's worth; randomness only from `rng`, so an epoch is reproducible). It knows nothing about models or training.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from model.codes.item_codes import ItemCodes
from model.codes.vocab import CodeVocab
from model.data.records import Item

IGNORE = -100


@dataclass(frozen=True, slots=True)
class Sample:
    task: str  # the builder's name: "sequential", "textual", "query", ...
    input_ids: tuple[int, ...]
    labels: tuple[int, ...]  # same length; IGNORE = no loss at that position
    negatives: tuple[int, ...] = ()  # empty, or same length: token to push down at that position, IGNORE elsewhere
    user: int = -1  # the training user the sample came from (-1: item-side sample), for audits and tests
    items: tuple[int, ...] = ()  # the item indices the sample was built from, in order (last = a response item)

    def __post_init__(self) -> None:
        if len(self.labels) != len(self.input_ids):
            raise ValueError(f"{self.task} sample: {len(self.input_ids)} input ids but {len(self.labels)} labels")
        if self.negatives and len(self.negatives) != len(self.input_ids):
            raise ValueError(f"{self.task} sample: {len(self.negatives)} negatives for {len(self.input_ids)} tokens")


def pair(
    task: str, prompt: Sequence[int], response: Sequence[int], user: int = -1, items: Sequence[int] = ()
) -> Sample:
    """A prompt/response sample: loss on the response tokens only."""
    ids = tuple(int(t) for t in prompt) + tuple(int(t) for t in response)
    labels = (IGNORE,) * len(prompt) + tuple(int(t) for t in response)
    return Sample(task, ids, labels, user=user, items=tuple(items))


class TaskBuilder(Protocol):
    name: str

    def build(self, rng: np.random.Generator) -> list[Sample]:
        """One epoch of samples for this task."""
        ...


@dataclass
class TaskContext:
    tokenizer: object  # a transformers tokenizer holding the code tokens
    codes: ItemCodes
    vocab: CodeVocab
    items: Sequence[Item]
    train: Sequence[Sequence[int]]  # per user, the training part of the leave-one-out split
    bos: int | None = None  # prepended to history-only sequences (None: nothing)
    eos: int | None = None  # appended to text responses (None: nothing)
    paths: np.ndarray = field(init=False)  # (n_items, L) token ids of each item's codes
    _cache: dict[str, tuple[int, ...]] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.paths = self.vocab.item_paths(self.codes)

    def encode(self, text: str) -> tuple[int, ...]:
        """Token ids of a text piece (no special tokens), cached."""
        hit = self._cache.get(text)
        if hit is None:
            enc = self.tokenizer(text, add_special_tokens=False)  # type: ignore[operator]
            hit = tuple(int(t) for t in enc["input_ids"])
            self._cache[text] = hit
        return hit

    def item_ids(self, item: int) -> tuple[int, ...]:
        return tuple(int(t) for t in self.paths[item])

    def history_ids(self, history: Sequence[int]) -> tuple[int, ...]:
        return tuple(int(t) for t in self.paths[np.asarray(history, dtype=np.int64)].reshape(-1))

    @property
    def has_text(self) -> bool:
        with_title = sum(1 for it in self.items if it.title)
        return with_title >= 0.5 * max(1, len(self.items))
