"""Textual task: item text -> the item's codes, and codes -> the item's title.

Contract: for every item with a title, each epoch yields one text->codes sample and one codes->title sample, each
with a template drawn from `TEXT_TO_CODES` / `CODES_TO_TITLE` (several phrasings, so the model learns the mapping
rather than one prompt). The text is the title plus description / brand / categories where the dataset has them,
cut to `max_chars`. Responses: the item's code tokens, or the title followed by eos. Items without a title yield
nothing; `available(ctx)` says whether the dataset has text at all. Item text is catalogue side information, not an
interaction, so every item is used. It knows nothing about models.
"""

from __future__ import annotations

import numpy as np

from model.tasks.base import Sample, TaskContext, pair

TEXT_TO_CODES: tuple[str, ...] = (
    "Item: {text}\nCodes:",
    "Which item is this? {text}\nAnswer:",
    "Find the item described as follows. {text}\nItem:",
    "Product details: {text}\nIts identifier is",
)
CODES_TO_TITLE: tuple[str, ...] = (
    "What is the title of item {codes}?",
    "Item {codes} is called",
    "Name the product {codes}:",
)


def available(ctx: TaskContext) -> bool:
    return ctx.has_text


class TextualTask:
    name = "textual"

    def __init__(self, ctx: TaskContext, max_chars: int = 160) -> None:
        self.ctx = ctx
        self.max_chars = max_chars
        self._items = [it.index for it in ctx.items if it.title]

    def build(self, rng: np.random.Generator) -> list[Sample]:
        out: list[Sample] = []
        eos = (self.ctx.eos,) if self.ctx.eos is not None else ()
        for item in self._items:
            it = self.ctx.items[item]
            t1 = TEXT_TO_CODES[int(rng.integers(len(TEXT_TO_CODES)))]
            prompt = self.ctx.encode(t1.format(text=it.text(self.max_chars)))
            out.append(pair(self.name, prompt, self.ctx.item_ids(item), items=(item,)))
            t2 = CODES_TO_TITLE[int(rng.integers(len(CODES_TO_TITLE)))]
            before, after = t2.split("{codes}")
            prompt2 = self.ctx.encode(before) + self.ctx.item_ids(item) + self.ctx.encode(after)
            title = self.ctx.encode(" " + it.title[: self.max_chars])
            out.append(pair(self.name, prompt2, title + eos, items=(item,)))
        return out
