"""The served catalogue: what the service knows about items and users, prepared once at start-up.

Contract: built from a loaded `ModelArtifact`. It maps raw item ids to item indices and back, holds each item's
JSON fragment pre-encoded (`{"id":"<raw id>","title":"<title>","score":`) so a response body is assembled from bytes
without re-encoding items per request, maps raw user ids to their dataset sequence, and holds the popularity
ranking. Items removed from the artifact's catalogue (`genrec catalogue remove`) keep their index and title (a
user's history may name them) but are in `removed` and never in `popular`. It knows nothing about Redis, HTTP or
the model's weights.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import orjson

from model.artifact import ModelArtifact


@dataclass(frozen=True, slots=True)
class Catalogue:
    item_index: dict[str, int]  # raw item id -> item index
    raw_ids: tuple[str, ...]  # item index -> raw item id
    fragments: tuple[bytes, ...]  # item index -> b'{"id":"..","title":"..","score":'
    user_sequences: dict[str, Sequence[int]]  # raw user id -> the dataset's chronological item indices
    popular: tuple[int, ...]  # item indices, most popular first (removed items left out)
    removed: frozenset[int]  # item indices never shown (taken out of the catalogue)
    model_version: str
    created_at: int  # the artifact's creation time: what a popularity answer reports as generated_at
    _seen: dict[str, frozenset[int]] = field(default_factory=dict, repr=False)  # user -> seen items, built on first use

    @classmethod
    def from_artifact(cls, artifact: ModelArtifact) -> Catalogue:
        data = artifact.dataset
        raw_ids = tuple(item.raw_id for item in data.items)
        fragments = tuple(
            orjson.dumps({"id": item.raw_id, "title": item.title})[:-1] + b',"score":' for item in data.items
        )
        return cls(
            item_index={raw: i for i, raw in enumerate(raw_ids)},
            raw_ids=raw_ids,
            fragments=fragments,
            user_sequences=dict(zip(data.user_ids, data.sequences, strict=True)),
            popular=tuple(int(i) for i in artifact.popular if int(i) not in artifact.removed),
            removed=artifact.removed,
            model_version=artifact.version,
            created_at=artifact.meta.created_at,
        )

    @property
    def n_items(self) -> int:
        return len(self.raw_ids)

    def seen(self, user: str) -> frozenset[int]:
        """The items of the user's dataset history (empty for a user the artifact does not know)."""
        found = self._seen.get(user)
        if found is None:
            found = self._seen[user] = frozenset(self.user_sequences.get(user, ()))
        return found
