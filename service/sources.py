"""The sources of an answer, tried in order: the fallback chain (`GENREC_SOURCES`, default cache,live,stale,popular).

Contract: each source's `answer(lookup)` returns the page it can give for one request, or None to pass it to the
next source. `Lookup` is what the request knows after its single Redis round trip (see `service.recommend`):
- `cache`: the user's cached list in the active version, when it is not stale (no event newer than the list);
- `live`: generation from the user's history (dataset sequence + recorded events) under the live runner's
  concurrency limit and deadline, written back to the active version; passes when Redis did not answer, the user
  has no history, or live generation is unavailable (deadline, saturated, error, not loaded: counted there);
- `stale`: the user's cached list even though it is older than their newest event (source reported: `cache`);
- `popular`: the popularity ranking; always answers, so the chain ends with it (the settings refuse other chains).
Every page leaves out `lookup.hidden` (the request's `exclude` and the items the user consumed) and the items removed
from the catalogue (a list cached before their removal may name them), and is completed from popularity when the
list is shorter than offset + k (those items carry no score). It knows nothing about HTTP
and reads nothing from Redis itself.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import redis

from model.cache.client import AsyncClient
from model.cache.codec import encode
from model.cache.keys import KeySchema
from model.generate import ScoredItem
from model.logs import get_logger
from service.answer import Answer, Source
from service.catalogue import Catalogue
from service.live import ItemGenerator, LiveRunner, LiveUnavailableError
from service.metrics import Metrics

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Ranked:
    items: Sequence[int]  # best first
    scores: Sequence[float] | None  # same length; None when the ranking carries no model score


@dataclass(slots=True)  # not frozen: a frozen dataclass of 12 fields costs ~3 µs to build, per request
class Lookup:
    user: str
    k: int
    offset: int
    hidden: frozenset[int]  # never shown: the request's exclude and the user's consumed items
    generator: ItemGenerator | None
    version: str | None  # the active cache version when the request came in
    model_version: str | None  # that version's model, when its metadata says
    cached: Ranked | None  # the user's cached list in that version
    cached_at: int  # when it was generated (unix seconds)
    fresh: bool  # the cached list is not older than the user's newest event
    history: Sequence[int]  # dataset sequence followed by recorded events, oldest first
    redis_ok: bool  # the round trip answered (else nothing above came from Redis)


class AnswerSource(Protocol):
    name: str

    async def answer(self, lookup: Lookup) -> Answer | None: ...


class Pages:
    """Slices a ranking into the requested page, leaving out hidden items and completing it from popularity."""

    def __init__(self, catalogue: Catalogue) -> None:
        self.catalogue = catalogue

    def page(self, lookup: Lookup, source: Source, model_version: str, generated_at: int, ranked: Ranked) -> Answer:
        items, scores = ranked.items, ranked.scores
        hidden, k, offset, removed = lookup.hidden, lookup.k, lookup.offset, self.catalogue.removed
        if hidden or removed:
            keep = [j for j, item in enumerate(items) if item not in hidden and item not in removed]
            items = [items[j] for j in keep]
            scores = [scores[j] for j in keep] if scores is not None else None
        end = offset + k
        page_items = list(items[offset:end])
        page_scores = list(scores[offset:end]) if scores is not None else None
        if len(page_items) < k and len(items) < end:
            # complete a short list from popularity (items not already in the list); they carry no model score
            fill = self.popular_ranking(hidden.union(items), end - len(items))
            extra = fill[max(0, offset - len(items)) :]
            page_items += extra
            if page_scores is not None:
                page_scores += [float("nan")] * len(extra)  # rendered as null
        return Answer(lookup.user, source, model_version, generated_at, k, offset, page_items, page_scores)

    def popular(self, lookup: Lookup) -> Answer:
        ranking = self.popular_ranking(lookup.hidden, lookup.offset + lookup.k)[lookup.offset :]
        c = self.catalogue
        return Answer(lookup.user, "popular", c.model_version, c.created_at, lookup.k, lookup.offset, ranking, None)

    def popular_ranking(self, hidden: frozenset[int], n: int) -> list[int]:
        out: list[int] = []
        for item in self.catalogue.popular:
            if len(out) >= n:
                break
            if item not in hidden:
                out.append(item)
        return out


class CacheSource:
    name = "cache"

    def __init__(self, pages: Pages, metrics: Metrics) -> None:
        self.pages, self.metrics = pages, metrics

    async def answer(self, lookup: Lookup) -> Answer | None:
        if lookup.cached is None or not lookup.fresh:
            return None
        self.metrics.cache_hits.inc()
        mv = lookup.model_version or self.pages.catalogue.model_version
        return self.pages.page(lookup, "cache", mv, lookup.cached_at, lookup.cached)


class StaleSource:
    name = "stale"

    def __init__(self, pages: Pages) -> None:
        self.pages = pages

    async def answer(self, lookup: Lookup) -> Answer | None:
        if lookup.cached is None:
            return None
        mv = lookup.model_version or self.pages.catalogue.model_version
        return self.pages.page(lookup, "cache", mv, lookup.cached_at, lookup.cached)


class LiveSource:
    name = "live"

    def __init__(
        self,
        pages: Pages,
        live: LiveRunner,
        writer: AsyncClient,
        keys: KeySchema,
        metrics: Metrics,
        live_k: int,
        write_back: bool,
    ) -> None:
        self.pages, self.live, self.writer, self.keys, self.metrics = pages, live, writer, keys, metrics
        self.live_k, self.write_back = live_k, write_back

    async def answer(self, lookup: Lookup) -> Answer | None:
        if not lookup.redis_ok or not lookup.history:
            return None
        k = max(self.live_k, lookup.offset + lookup.k)
        try:
            result = await self.live.top_k(lookup.generator, lookup.history, k, self._saver(lookup))
        except LiveUnavailableError:
            return None
        ranked = Ranked([s.item for s in result], [s.score for s in result])
        return self.pages.page(lookup, "live", self.pages.catalogue.model_version, int(time.time()), ranked)

    def _saver(self, lookup: Lookup):  # type: ignore[no-untyped-def]
        user, version = lookup.user, lookup.version

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


class PopularSource:
    name = "popular"

    def __init__(self, pages: Pages) -> None:
        self.pages = pages

    async def answer(self, lookup: Lookup) -> Answer:
        return self.pages.popular(lookup)
