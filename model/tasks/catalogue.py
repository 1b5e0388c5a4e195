"""Catalogue task: every item's code path, so the LM learns which codes complete a prefix.

Contract: each epoch yields one sample per catalogue item, `[bos] codes(item)`, with loss on the code tokens from
level `min_level` on (default 1: given an item's first code, the rest of its path). Constrained beam search scores an
item by its full-vocabulary log-probability, so the mass the LM leaves on codes that complete no item lowers every
item under that prefix, and more so for items it rarely saw as targets: the sequential task alone teaches an item's
path only as often as the item is a target (measured on Amazon Beauty, tiny LM, 6 epochs: the valid children held
44% / 69% of the probability mass at code levels 2 / 3; 4% / 4% with dropout 0.3). The level-0 code after bos
gets no loss, so the task says nothing about which items are likely, only which code paths exist. It reads the
catalogue only (codes of every item, no interactions), so nothing of validation or test leaks, and needs no text.
Off by default (`MixtureConfig.catalogue`): on validation it did not pay for itself (see the README's Quality section).
It knows nothing about models.
"""

from __future__ import annotations

import numpy as np

from model.tasks.base import IGNORE, Sample, TaskContext


class CatalogueTask:
    name = "catalogue"

    def __init__(self, ctx: TaskContext, min_level: int = 1) -> None:
        if not 0 <= min_level < ctx.codes.n_levels:
            raise ValueError(f"min_level must be in [0, {ctx.codes.n_levels}); got {min_level}")
        self.ctx = ctx
        self.min_level = min_level

    def build(self, rng: np.random.Generator) -> list[Sample]:
        head = (self.ctx.bos,) if self.ctx.bos is not None else ()
        skip = len(head) + self.min_level
        out: list[Sample] = []
        for item in range(self.ctx.codes.n_items):
            ids = head + self.ctx.item_ids(item)
            labels = (IGNORE,) * skip + ids[skip:]
            out.append(Sample(self.name, ids, labels, items=(item,)))
        return out
