"""The recommend path: cached list -> live generation -> popularity, for one user and one page.

Contract: `RecommendPath.answer(user, k, offset, exclude, generator)` makes ONE Redis round trip (the user's cached
list in the active version and their events, together) and then:
- unknown user (not in the artifact's user table, no recorded events) -> `UnknownUserError`;
- cached list, not stale -> source "cache". Stale = the user's newest event is newer than the list's generated_at;
- no cached list (or a stale one) and a non-empty history (dataset sequence + events) -> live generation of
  `live_k` items (LiveRunner), written back to the active version -> source "live";
- live unavailable (deadline, saturated, error, not loaded): a stale cached list is still served (source "cache"),
  otherwise popularity; an empty history -> popularity; Redis unreachable -> popularity (degraded, counted).
Items the user consumed (recorded events) and `exclude` are filtered out of every source; a list shorter than
offset + k is completed from the popularity ranking. It knows nothing about HTTP (routes turn `Answer`s into bytes).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import redis
import redis.asyncio as aioredis

from model.cache.codec import CodecError, encode
from model.cache.keys import KeySchema
from model.generate import ScoredItem
from model.logs import get_logger
from service.answer import Answer, Source
from service.catalogue import Catalogue
from service.fastcodec import decode_tuples
from service.live import ItemGenerator, LiveRunner, LiveUnavailableError
from service.metrics import Metrics
from service.redis_io import ActiveVersion, HotReader

log = get_logger(__name__)


class UnknownUserError(Exception):
    def __init__(self, user: str) -> None:
        super().__init__(f"user {user!r} is unknown: not in the model's user table and no recorded events")
        self.user = user


def parse_events(raw: Iterable[bytes], n_items: int | None = None) -> list[tuple[int, int]]:
    """Raw history entries (`item:ts`, newest first, as model.cache.history writes them) -> (item, ts). Entries
    that are not such a pair, or (with `n_items`) name an item outside the catalogue, are skipped: a corrupt entry
    must not fail the request."""
    out = []
    for entry in raw:
        item, _, ts = entry.partition(b":")
        try:
            pair = (int(item), int(ts or 0))
        except ValueError:
            continue
        if n_items is None or 0 <= pair[0] < n_items:
            out.append(pair)
    return out


@dataclass(frozen=True, slots=True)
class _Ranked:
    items: Sequence[int]
    scores: Sequence[float] | None


class RecommendPath:
    def __init__(
        self,
        catalogue: Catalogue,
        reader: HotReader,
        writer: aioredis.Redis,
        keys: KeySchema,
        version: ActiveVersion,
        live: LiveRunner,
        metrics: Metrics,
        live_k: int,
        write_back: bool,
    ) -> None:
        self.catalogue = catalogue
        self.reader = reader
        self.writer = writer
        self.keys = keys
        self.version = version
        self.live = live
        self.metrics = metrics
        self.live_k = live_k
        self.write_back = write_back

    async def answer(
        self, user: str, k: int, offset: int, exclude: frozenset[int], generator: ItemGenerator | None
    ) -> Answer:
        state = self.version.state
        try:
            blob, raw_events = await self.reader.fetch(state.version, user)
        except (redis.RedisError, OSError) as exc:
            self.metrics.redis_errors.labels("fetch").inc()
            log.warning("redis fetch failed; answering from popularity", user=user, error=repr(exc))
            return self._popular(user, k, offset, exclude)
        sequence = self.catalogue.user_sequences.get(user)
        if sequence is None and not raw_events:
            raise UnknownUserError(user)
        events = parse_events(raw_events, self.catalogue.n_items) if raw_events else []
        if len(events) != len(raw_events):
            log.warning("skipped unreadable history entries", user=user, skipped=len(raw_events) - len(events))
        hidden = exclude.union(item for item, _ in events) if events else exclude
        stale: _Ranked | None = None
        if blob is not None:
            try:
                items, scores, generated_at = decode_tuples(blob)
                if items and max(items) >= self.catalogue.n_items:  # ~0.5 µs at K=50: a foreign list must not 500
                    raise CodecError(
                        f"cached list names item {max(items)}, beyond the catalogue's {self.catalogue.n_items}"
                    )
            except CodecError as exc:
                log.warning("unreadable cached list; treating as a miss", user=user, error=str(exc))
            else:
                ranked = _Ranked(items, scores)
                if not events or events[0][1] <= generated_at:
                    self.metrics.cache_hits.inc()
                    mv = state.model_version or self.catalogue.model_version
                    return self._page(user, "cache", mv, generated_at, ranked, k, offset, hidden)
                stale = ranked
                stale_at = generated_at
        self.metrics.cache_misses.labels("stale" if stale is not None else "absent").inc()
        history = [*(sequence or ()), *(item for item, _ in reversed(events))]
        if not history:
            return self._popular(user, k, offset, hidden)
        version = state.version
        try:
            result = await self.live.top_k(generator, history, max(self.live_k, offset + k), self._saver(user, version))
        except LiveUnavailableError:
            if stale is not None:
                mv = state.model_version or self.catalogue.model_version
                return self._page(user, "cache", mv, stale_at, stale, k, offset, hidden)
            return self._popular(user, k, offset, hidden)
        ranked = _Ranked([s.item for s in result], [s.score for s in result])
        return self._page(user, "live", self.catalogue.model_version, int(time.time()), ranked, k, offset, hidden)

    def _saver(self, user: str, version: str | None):  # type: ignore[no-untyped-def]
        async def save(result: list[ScoredItem]) -> None:
            if not self.write_back or version is None or not result:
                return
            blob = encode([s.item for s in result], [s.score for s in result], int(time.time()))
            try:
                await self.writer.set(self.keys.recs(version, user), blob)
            except (redis.RedisError, OSError) as exc:
                self.metrics.redis_errors.labels("write_back").inc()
                log.warning("live list write-back failed", user=user, error=repr(exc))

        return save

    def _page(
        self,
        user: str,
        source: Source,
        model_version: str,
        generated_at: int,
        ranked: _Ranked,
        k: int,
        offset: int,
        hidden: frozenset[int],
    ) -> Answer:
        items, scores = ranked.items, ranked.scores
        if hidden:
            keep = [j for j, item in enumerate(items) if item not in hidden]
            items = [items[j] for j in keep]
            scores = [scores[j] for j in keep] if scores is not None else None
        end = offset + k
        page_items = list(items[offset:end])
        page_scores = list(scores[offset:end]) if scores is not None else None
        if len(page_items) < k and len(items) < end:
            # complete a short list from popularity (items not already in the list); they carry no model score
            taken = hidden.union(items)
            fill = self._popular_ranking(taken, end - len(items))
            skip = max(0, offset - len(items))
            extra = fill[skip:]
            page_items += extra
            if page_scores is not None:
                page_scores += [float("nan")] * len(extra)  # rendered as null
        return Answer(user, source, model_version, generated_at, k, offset, page_items, page_scores)

    def _popular(self, user: str, k: int, offset: int, hidden: frozenset[int]) -> Answer:
        ranking = self._popular_ranking(hidden, offset + k)[offset:]
        c = self.catalogue
        return Answer(user, "popular", c.model_version, c.created_at, k, offset, ranking, None)

    def _popular_ranking(self, hidden: frozenset[int], n: int) -> list[int]:
        out: list[int] = []
        for item in self.catalogue.popular:
            if len(out) >= n:
                break
            if item not in hidden:
                out.append(item)
        return out
