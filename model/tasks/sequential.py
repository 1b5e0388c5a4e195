"""Sequential task: a user's training history as code tokens, every item the response to its prefix.

Contract: one sample per window of a user's training sequence: `[bos] codes(i_1) codes(i_2) ... codes(i_n)` with loss
on the code tokens of every item after the first (SASRec's all-positions trick: one forward pass trains n-1 next-item
predictions). Windows hold at most `max_items` items; a long sequence is cut into windows that overlap by `max_items -
stride` items (at least one; default stride max_items - 1), the last one ending at the sequence's end, so every
training item but the user's first is a target at least once. The generation prompt that matches this format is the
history's code tokens with no head, separator or tail, after the same bos (the pipeline's `PromptConfig`). With a
`NegativeSampler`, each target item gets a sampled negative item the user never picked; at the first code level where
the two differ (the contexts agree up to there), the negative's token is marked for unlikelihood. Only training
sequences are read: validation and test targets never appear. It knows nothing about models.
"""

from __future__ import annotations

import numpy as np

from model.tasks.base import IGNORE, Sample, TaskContext
from model.tasks.negatives import NegativeSampler, divergence


def windows(length: int, max_items: int, stride: int) -> list[tuple[int, int]]:
    """[start, end) windows of at most max_items over a sequence of `length`, the last ending at `length`."""
    if length <= max_items:
        return [(0, length)]
    stride = min(stride, max_items - 1)  # consecutive windows share an item, so every item after the first is a target
    ends = list(range(length, max_items - 1, -stride))
    if ends[-1] != max_items:
        ends.append(max_items)
    return [(end - max_items, end) for end in reversed(ends)]


class SequentialTask:
    name = "sequential"

    def __init__(
        self,
        ctx: TaskContext,
        max_items: int = 50,
        stride: int | None = None,
        negatives: NegativeSampler | None = None,
    ) -> None:
        if max_items < 2:
            raise ValueError(f"max_items must be >= 2; got {max_items}")
        self.ctx = ctx
        self.max_items = max_items
        self.stride = stride or max_items - 1
        self.negatives = negatives
        self._user_items = [frozenset(s) for s in ctx.train] if negatives is not None else []

    def build(self, rng: np.random.Generator) -> list[Sample]:
        out: list[Sample] = []
        levels = self.ctx.codes.n_levels
        head = (self.ctx.bos,) if self.ctx.bos is not None else ()
        for user, seq in enumerate(self.ctx.train):
            if len(seq) < 2:
                continue
            for start, end in windows(len(seq), self.max_items, self.stride):
                items = tuple(int(i) for i in seq[start:end])
                ids = head + self.ctx.history_ids(items)
                labels = [IGNORE] * (len(head) + levels) + list(ids[len(head) + levels :])
                negs: tuple[int, ...] = ()
                if self.negatives is not None:
                    negs = self._negatives(items, len(head), user, rng)
                out.append(Sample(self.name, ids, tuple(labels), negs, user=user, items=items))
        return out

    def _negatives(self, items: tuple[int, ...], offset: int, user: int, rng: np.random.Generator) -> tuple[int, ...]:
        assert self.negatives is not None
        levels = self.ctx.codes.n_levels
        negs = [IGNORE] * (offset + levels * len(items))
        for pos in range(1, len(items)):
            neg = self.negatives.sample(items[pos], self._user_items[user], rng)
            if neg < 0:
                continue
            level = divergence(self.ctx.codes.codes, items[pos], neg)
            negs[offset + pos * levels + level] = int(self.ctx.paths[neg, level])
        return tuple(negs)
