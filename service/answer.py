"""What the recommend path answers, and its JSON body assembled from pre-encoded bytes.

Contract: an `Answer` is the page the client asked for (already filtered and sliced): item indices, their scores
(None for popularity answers), where it came from, the model version and when the list was generated. `render`
turns it into the response body: `{"user_id", "source", "model_version", "generated_at", "k", "offset", "items":
[{"id", "title", "score", "rank"}]}` — exactly the `Recommendations` schema — by joining each item's pre-encoded
fragment with orjson-formatted scores, so no item is re-encoded per request. It knows nothing about Redis.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import orjson

from service.catalogue import Catalogue

Source = Literal["cache", "live", "popular"]


@dataclass(frozen=True, slots=True)
class Answer:
    user_id: str
    source: Source
    model_version: str
    generated_at: int
    k: int
    offset: int
    items: Sequence[int]  # the page, best first
    scores: Sequence[float] | None  # same length as items; None for popularity answers


def render(answer: Answer, catalogue: Catalogue) -> bytes:
    head = orjson.dumps(
        {
            "user_id": answer.user_id,
            "source": answer.source,
            "model_version": answer.model_version,
            "generated_at": answer.generated_at,
            "k": answer.k,
            "offset": answer.offset,
        }
    )
    if not answer.items:
        return head[:-1] + b',"items":[]}'
    if answer.scores is None:
        scores: list[bytes] = [b"null"] * len(answer.items)
    else:
        scores = orjson.dumps(list(answer.scores))[1:-1].split(b",")
    fragments = catalogue.fragments
    first = answer.offset + 1
    parts = [
        b'%b%b,"rank":%d}' % (fragments[item], score, rank)
        for rank, item, score in zip(range(first, first + len(scores)), answer.items, scores, strict=True)
    ]
    return b'%b,"items":[%b]}' % (head[:-1], b",".join(parts))
