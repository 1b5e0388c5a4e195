"""Prometheus metrics of the service and the plain ASGI middleware that records every request.

Contract: `Metrics(registry)` creates the service's metrics in its own registry (one per app, so several apps in one
test process never collide). Under uvicorn with several workers, set PROMETHEUS_MULTIPROC_DIR before the process
imports prometheus_client (`genrec serve` does): values then live in per-process files and `exposition()` merges
them with `MultiProcessCollector`; gauges sum over live processes. `MetricsMiddleware` times each HTTP request and
counts it by route template (not the raw path: bounded cardinality), method, status and `source` (the
`x-genrec-source` response header the recommend route sets). Label children are cached, so a request costs a dict
lookup, one counter increment and one histogram observation. It knows nothing about Redis or the model.
"""

from __future__ import annotations

import os
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

SOURCE_HEADER = b"x-genrec-source"
_LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "genrec_requests_total", "HTTP requests", ["route", "method", "status", "source"], registry=r
        )
        self.latency = Histogram(
            "genrec_request_seconds",
            "HTTP request latency",
            ["route", "status", "source"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.cache_hits = Counter("genrec_cache_hits_total", "Requests answered from a cached list", registry=r)
        self.cache_misses = Counter(
            "genrec_cache_misses_total", "Requests without a usable cached list", ["reason"], registry=r
        )
        self.live_seconds = Histogram(
            "genrec_live_seconds", "Live generation time (thread only)", buckets=_LATENCY_BUCKETS, registry=r
        )
        self.live_queue = Gauge(
            "genrec_live_queue_depth", "Live requests waiting for a slot", registry=r, multiprocess_mode="livesum"
        )
        self.live_running = Gauge(
            "genrec_live_running", "Live generations running", registry=r, multiprocess_mode="livesum"
        )
        self.live_timeouts = Counter("genrec_live_timeouts_total", "Live requests that missed the deadline", registry=r)
        self.live_fallbacks = Counter(
            "genrec_live_fallbacks_total",
            "Live generations not used, by reason (deadline, saturated, error, not_loaded)",
            ["reason"],
            registry=r,
        )
        self.redis_errors = Counter("genrec_redis_errors_total", "Redis errors by operation", ["op"], registry=r)
        self.rate_limited = Counter(
            "genrec_rate_limited_total", "Write requests refused by the per-client rate limit (429)", registry=r
        )
        self.auth_rejected = Counter(
            "genrec_auth_rejected_total",
            "Requests refused for a missing/unknown (401) or read-only (403) key",
            ["status"],
            registry=r,
        )
        self._children: dict[tuple[str, str, int, str], tuple[Any, Any]] = {}

    def observe_request(self, route: str, method: str, status: int, source: str, seconds: float) -> None:
        key = (route, method, status, source)
        pair = self._children.get(key)
        if pair is None:
            code = str(status)
            pair = self._children[key] = (
                self.requests.labels(route, method, code, source),
                self.latency.labels(route, code, source),
            )
        pair[0].inc()
        pair[1].observe(seconds)

    def exposition(self) -> bytes:
        if multiprocess_dir() is not None:
            merged = CollectorRegistry()
            MultiProcessCollector(merged)
            return generate_latest(merged)
        return generate_latest(self.registry)


class MetricsMiddleware:
    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500
        source = ""

        async def send_and_watch(message: Message) -> None:
            nonlocal status, source
            if message["type"] == "http.response.start":
                status = message["status"]
                for name, value in message.get("headers", ()):
                    if name == SOURCE_HEADER:
                        source = value.decode()
            await send(message)

        try:
            await self.app(scope, receive, send_and_watch)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            self.metrics.observe_request(template, scope["method"], status, source, time.perf_counter() - start)
