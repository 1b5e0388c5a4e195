"""The FastAPI app factory and its lifespan.

Contract: `create_app(settings=None)` validates settings (GENREC_* variables when none are given) and returns an app
whose lifespan, per worker process: loads the model artifact and the catalogue (a bad artifact fails start-up with a
message naming the folder), loads the LM for live generation (a failure is logged and reported by /readyz; the service
then answers from the cache and popularity), opens the Redis clients, reads the active cache version and keeps
re-reading it in the background; at shutdown it stops the poller and the live pool and closes the clients.
Redis being down at start-up does not stop the app (readiness says so); a Redis Cluster (`redis+cluster://`) none
of whose seed nodes answers does, with one message naming the URL (the cluster client needs the slot map to route).
Requests pass the access guard (API keys, the write rate limit: service.auth) before any route; the Redis URL is
logged only masked. `uvicorn --factory service.app:create_app`.
"""

from __future__ import annotations

import asyncio
import gc
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import redis
from fastapi import FastAPI
from redis.backoff import NoBackoff
from redis.retry import Retry

from model.artifact import load_artifact
from model.cache.client import CONNECT_ERRORS, AsyncClient, async_client, sync_client
from model.cache.history import HistoryStore
from model.cache.keys import KeySchema
from model.ids import UserIdRule
from model.logs import get_logger
from model.redis_url import mask_url
from model.settings import ServiceSettings, split_keys
from service import errors, health, openapi_doc, routes
from service.auth import AccessGuard, Keyring
from service.catalogue import Catalogue
from service.limits import BodyLimitMiddleware
from service.live import ItemGenerator, LiveRunner
from service.metrics import Metrics, MetricsMiddleware, multiprocess_dir
from service.ratelimit import RateLimiter
from service.recommend import RecommendPath
from service.redis_io import ActiveVersion, make_reader
from service.sources import AnswerSource, CacheSource, LiveSource, Pages, PopularSource, StaleSource
from service.state import Services

log = get_logger(__name__)


def _load_generator(settings: ServiceSettings, artifact: object) -> tuple[ItemGenerator | None, str | None]:
    if not settings.live_enabled:
        return None, "live generation is disabled (GENREC_LIVE_ENABLED=false)"
    try:
        import torch

        from model.recommender import Recommender

        if settings.live_threads:
            torch.set_num_threads(settings.live_threads)
        recommender = Recommender(
            artifact,  # type: ignore[arg-type]
            backend=settings.live_backend,
            dtype=settings.live_dtype,
            exclude_seen=settings.exclude_seen,
        )
        return recommender, None
    except Exception as exc:  # the service still answers from the cache and popularity
        log.exception("live generator failed to load", error=repr(exc))
        return None, repr(exc)


async def open_services(settings: ServiceSettings, metrics: Metrics) -> Services:
    keys = settings.keys
    artifact = await asyncio.to_thread(load_artifact, settings.artifact, settings.verify_artifact)
    catalogue = Catalogue.from_artifact(artifact)
    generator, generator_error = await asyncio.to_thread(_load_generator, settings, artifact)
    timeout = settings.redis_timeout_ms / 1000
    options = {"socket_timeout": timeout, "socket_connect_timeout": timeout, "retry": Retry(NoBackoff(), 1)}
    client = async_client(settings.redis_url, **options)
    try:
        sync_client_ = sync_client(settings.redis_url, **options)
    except CONNECT_ERRORS as exc:  # only a cluster client connects here: it needs the slot map to route anything
        raise RuntimeError(f"cannot reach the Redis Cluster at {mask_url(settings.redis_url)}: {exc}") from None
    reader = make_reader(settings.redis_url, keys, timeout)
    version = ActiveVersion(
        client, keys, settings.version_refresh_s, on_error=metrics.redis_errors.labels("version").inc
    )
    try:
        await version.refresh()
    except (redis.RedisError, OSError) as exc:
        metrics.redis_errors.labels("version").inc()
        log.warning("redis unreachable at start-up; serving popularity until it answers", error=repr(exc))
    live = LiveRunner(settings.live_concurrency, settings.live_queue, settings.live_deadline_ms / 1000, metrics)
    chain = _chain(settings, Pages(catalogue), live, client, keys, metrics)
    path = RecommendPath(catalogue, reader, version, chain, metrics, exclude_seen=settings.exclude_seen)
    history = HistoryStore(sync_client_, keys, max_events=settings.max_events_kept)
    log.info(
        "service ready",
        model_version=catalogue.model_version,
        items=catalogue.n_items,
        live=generator is not None,
        sources=",".join(settings.sources),
        redis=mask_url(settings.redis_url),
    )
    return Services(
        settings,
        keys,
        UserIdRule(settings.user_id_format, settings.user_id_max),
        catalogue,
        metrics,
        reader,
        client,
        sync_client_,
        history,
        version,
        live,
        path,
        generator,
        generator_error,
    )


def _chain(
    settings: ServiceSettings,
    pages: Pages,
    live: LiveRunner,
    writer: AsyncClient,
    keys: KeySchema,
    metrics: Metrics,
) -> list[AnswerSource]:
    """The fallback chain in the configured order (GENREC_SOURCES)."""
    make: dict[str, Callable[[], AnswerSource]] = {
        "cache": lambda: CacheSource(pages, metrics),
        "live": lambda: LiveSource(pages, live, writer, keys, metrics, settings.live_k, settings.live_write_back),
        "stale": lambda: StaleSource(pages),
        "popular": lambda: PopularSource(pages),
    }
    return [make[name]() for name in settings.sources]


async def close_services(services: Services) -> None:
    await services.live.close()
    await services.reader.close()
    await services.client.aclose()
    services.sync_client.close()
    if multiprocess_dir() is not None:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(os.getpid())


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    settings = settings or ServiceSettings()  # type: ignore[call-arg]  # artifact comes from GENREC_ARTIFACT
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services = await open_services(settings, metrics)
        app.state.services = services
        # Everything loaded so far (torch, transformers, the catalogue) lives as long as the process: move it out of
        # the collector's reach, or each full collection walks millions of objects and stalls requests (p99).
        gc.collect()
        gc.freeze()
        stop = asyncio.Event()
        poller = asyncio.create_task(services.version.run(stop))
        try:
            yield
        finally:
            stop.set()
            try:
                await asyncio.wait_for(poller, timeout=5)
            except (TimeoutError, asyncio.CancelledError):
                log.warning("active version poller did not stop in time")
            await close_services(services)

    # The documentation routes are added after the API's (setup() below): the router tries routes in order, and the
    # recommendations route is the one every request but a few asks for.
    app = FastAPI(
        title="genrec",
        summary="LLM generative recommender served from a Redis cache",
        version="0.1.0",
        lifespan=lifespan,
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    app.state.metrics = metrics
    errors.install(app)
    app.include_router(routes.router)
    app.include_router(health.router)
    app.openapi_url, app.docs_url, app.redoc_url = "/openapi.json", "/docs", "/redoc"
    app.setup()
    openapi_doc.install(app, settings)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    keyring, limiter = _guard(settings, metrics)
    read_keyed = settings.read_auth == "key"
    # inside the metrics (rejections are counted), before the body limit (an unknown caller's body is never read)
    app.add_middleware(AccessGuard, keyring=keyring, read_keyed=read_keyed, limiter=limiter, metrics=metrics)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    return app


def _guard(settings: ServiceSettings, metrics: Metrics) -> tuple[Keyring, RateLimiter | None]:
    keyring = Keyring(split_keys(settings.api_keys), split_keys(settings.read_api_keys))
    limiter = None
    if settings.rate_limit_events:
        limiter = RateLimiter(settings.rate_limit_events, settings.rate_limit_window_s, settings.keys, metrics)
    if keyring.empty:
        log.warning("GENREC_API_KEYS is not set: write routes are open (development mode only)", env=settings.env)
    log.info(
        "access policy",
        env=settings.env,
        read_auth=settings.read_auth,
        write_keys=len(split_keys(settings.api_keys)),
        read_keys=len(split_keys(settings.read_api_keys)),
        rate_limit=f"{settings.rate_limit_events}/{settings.rate_limit_window_s}s" if limiter else "off",
    )
    return keyring, limiter
