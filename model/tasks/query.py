"""Query-oriented task: a natural-language request derived from the target item's text, plus the history -> codes.

Contract: each epoch, for every user with at least 2 training items, one target position t >= 1 is drawn from the
user's TRAINING sequence; the query is built from the target's text only (its last category, or its genre/brand
field, and up to 3 keywords of its title, stop words dropped) in one of several templates; the prompt is the query
followed by the code tokens of the items before t (at most `max_items`), the response the target's code tokens.
Users whose target has no usable text are skipped. Validation and test targets are never read. `available(ctx)`
says whether the dataset has text. It knows nothing about models.
"""

from __future__ import annotations

import re

import numpy as np

from model.data.records import Item
from model.tasks.base import Sample, TaskContext, pair

QUERY_TEMPLATES: tuple[str, ...] = (
    "I am looking for {query}. My history:",
    "Recommend something like {query}. I liked:",
    "Next I want {query}. Previously:",
    "Find {query} for a user who bought:",
)
ANSWER = " Item:"
_STOP = frozenset(
    {
        *("a", "an", "and", "the", "of", "for", "with", "in", "on", "to", "by", "from", "at", "or", "is", "are"),
        *("it", "its", "this", "that", "set", "pack", "pcs", "x", "&", "-", "/", "|"),
    }
)
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9'-]{2,}")


def available(ctx: TaskContext) -> bool:
    return ctx.has_text


def describe(item: Item, rng: np.random.Generator) -> str:
    """A short request phrase from the item's text: '<category> such as <kw1> <kw2>' (parts optional)."""
    category = ""
    for key in ("categories", "genre", "class", "genres", "brand"):
        value = item.fields.get(key, "")
        if value:
            parts = [p.strip() for p in re.split(r"[,|>;]", value) if p.strip()]
            if parts:
                category = parts[-1] if key == "categories" else parts[int(rng.integers(len(parts)))]
                break
    words = [w for w in _WORD.findall(item.title) if w.lower() not in _STOP]
    keywords = " ".join(words[:3]).lower()
    if category and keywords:
        return f"{category.lower()} such as {keywords}"
    return category.lower() or keywords


class QueryTask:
    name = "query"

    def __init__(self, ctx: TaskContext, max_items: int = 20) -> None:
        self.ctx = ctx
        self.max_items = max_items

    def build(self, rng: np.random.Generator) -> list[Sample]:
        out: list[Sample] = []
        answer = self.ctx.encode(ANSWER)
        for user, seq in enumerate(self.ctx.train):
            if len(seq) < 2:
                continue
            t = int(rng.integers(1, len(seq)))
            target = int(seq[t])
            query = describe(self.ctx.items[target], rng)
            if not query:
                continue
            history = [int(i) for i in seq[max(0, t - self.max_items) : t]]
            template = QUERY_TEMPLATES[int(rng.integers(len(QUERY_TEMPLATES)))]
            prompt = self.ctx.encode(template.format(query=query)) + self.ctx.history_ids(history) + answer
            out.append(pair(self.name, prompt, self.ctx.item_ids(target), user=user, items=(*history, target)))
        return out
