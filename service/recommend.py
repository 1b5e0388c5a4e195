"""The recommend path: one Redis round trip for a user and a page, then the fallback chain of `service.sources`.

Contract: `RecommendPath.answer(user, k, offset, exclude, generator)` makes ONE Redis round trip (the user's cached
list in the active version and their recorded events, together), builds the request's `Lookup`, and returns the
first answer of its chain of sources (the settings make the chain end with `popular`, which always answers):
- a user the model has never seen and who has no recorded events has an empty history (the chain answers popular);
- the items the user consumed (recorded events) join `exclude` as never shown, and with `exclude_seen` (the
  product's default) so do the items of their dataset history: no source shows a user what they already have;
- a cached list is stale when the user's newest event is newer than the list's generated_at; a cached list that
  cannot be decoded, or names items beyond the catalogue, counts as no list;
- Redis unreachable -> a lookup with nothing from Redis (the chain then answers from popularity), counted as a
  Redis error; hits and misses (absent or stale) are counted here and by the cache source.
Corrupt history entries are skipped (`model.cache.history.decode_entries`). It knows nothing about HTTP (routes turn
`Answer`s into bytes).
"""

from __future__ import annotations

from collections.abc import Sequence

import redis

from model.cache.codec import CodecError
from model.cache.history import decode_entries
from model.logs import get_logger
from service.answer import Answer
from service.catalogue import Catalogue
from service.cluster_io import ClusterHotReader
from service.fastcodec import decode_tuples
from service.live import ItemGenerator
from service.metrics import Metrics
from service.redis_io import ActiveVersion, HotReader
from service.sources import AnswerSource, Lookup, Ranked

log = get_logger(__name__)


class RecommendPath:
    def __init__(
        self,
        catalogue: Catalogue,
        reader: HotReader | ClusterHotReader,
        version: ActiveVersion,
        chain: Sequence[AnswerSource],
        metrics: Metrics,
        exclude_seen: bool = True,
    ) -> None:
        if not chain or chain[-1].name != "popular":
            raise ValueError(f"the source chain must end with popular, got {[s.name for s in chain]}")
        self.catalogue = catalogue
        self.reader = reader
        self.version = version
        self.chain = tuple(chain)
        self.metrics = metrics
        self.exclude_seen = exclude_seen

    async def answer(
        self, user: str, k: int, offset: int, exclude: frozenset[int], generator: ItemGenerator | None
    ) -> Answer:
        lookup = await self._lookup(user, k, offset, exclude, generator)
        for source in self.chain:
            answer = await source.answer(lookup)
            if answer is not None:
                return answer
        raise AssertionError("the chain ends with popular, which always answers")

    async def _lookup(
        self, user: str, k: int, offset: int, exclude: frozenset[int], generator: ItemGenerator | None
    ) -> Lookup:
        state = self.version.state
        try:
            blob, raw_events = await self.reader.fetch(state.version, user)
        except (redis.RedisError, OSError) as exc:
            self.metrics.redis_errors.labels("fetch").inc()
            log.warning("redis fetch failed; answering from popularity", user=user, error=repr(exc))
            return Lookup(user, k, offset, exclude, generator, None, None, None, 0, False, (), redis_ok=False)
        sequence = self.catalogue.user_sequences.get(user)
        events = decode_entries(raw_events, self.catalogue.n_items) if raw_events else []
        if len(events) != len(raw_events):
            log.warning("skipped unreadable history entries", user=user, skipped=len(raw_events) - len(events))
        hidden = exclude.union(event.item for event in events) if events else exclude
        if self.exclude_seen and sequence:
            hidden = hidden.union(self.catalogue.seen(user))
        cached, cached_at = self._decode(user, blob)
        fresh = cached is not None and (not events or events[0].ts <= cached_at)
        if not fresh:
            self.metrics.cache_misses.labels("stale" if cached is not None else "absent").inc()
        history = [*(sequence or ()), *(event.item for event in reversed(events))]
        return Lookup(
            user, k, offset, hidden, generator, state.version, state.model_version, cached, cached_at, fresh, history,
            redis_ok=True,
        )  # fmt: skip

    def _decode(self, user: str, blob: bytes | None) -> tuple[Ranked | None, int]:
        if blob is None:
            return None, 0
        try:
            items, scores, generated_at = decode_tuples(blob)
            if items and max(items) >= self.catalogue.n_items:  # ~0.5 µs at K=50: a foreign list must not 500
                n = self.catalogue.n_items
                raise CodecError(f"cached list names item {max(items)}, beyond the catalogue's {n}")
        except CodecError as exc:
            log.warning("unreadable cached list; treating as a miss", user=user, error=str(exc))
            return None, 0
        return Ranked(items, scores), generated_at
