"""Prometheus metrics of one refresh run, pushed to a Pushgateway when one is configured (the batch-job convention).

Contract: a `RunMetrics` holds this run's figures in its own registry. `push_success()` replaces the job's group on
the gateway (PUT), so the dashboard sees this run's users, rate, duration and a new last-success timestamp;
`push_failure()` adds (POST) only the error count, duration and last-failure timestamp, so a failed run never
erases the last success. Without a gateway URL nothing is pushed. Push errors are logged, never raised: metrics
must not fail a refresh that wrote the cache. It knows nothing about how users are generated.
"""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, push_to_gateway, pushadd_to_gateway

from model.logs import get_logger

JOB = "genrec_refresh"
log = get_logger(__name__)


class RunMetrics:
    def __init__(self, mode: str, gateway: str | None) -> None:
        self.mode, self.gateway = mode, gateway
        self.started = time.time()
        self.ok = CollectorRegistry()
        self.failed = CollectorRegistry()
        labels = ["mode"]
        self.users = Counter("genrec_refresh_users", "Users whose list this run wrote", labels, registry=self.ok)
        self.rate = Gauge("genrec_refresh_users_per_second", "Users written per second", labels, registry=self.ok)
        self.duration = Gauge("genrec_refresh_duration_seconds", "Run duration", labels, registry=self.ok)
        self.last_success = Gauge(
            "genrec_refresh_last_success_timestamp_seconds", "When a run last succeeded", labels, registry=self.ok
        )
        self.errors = Counter("genrec_refresh_errors", "Failed runs", labels, registry=self.failed)
        self.failed_duration = Gauge(
            "genrec_refresh_failed_duration_seconds", "Duration of the last failed run", labels, registry=self.failed
        )
        self.last_failure = Gauge(
            "genrec_refresh_last_failure_timestamp_seconds", "When a run last failed", labels, registry=self.failed
        )

    def push_success(self, users: int) -> None:
        elapsed = max(time.time() - self.started, 1e-9)
        self.users.labels(self.mode).inc(users)
        self.rate.labels(self.mode).set(users / elapsed)
        self.duration.labels(self.mode).set(elapsed)
        self.last_success.labels(self.mode).set(time.time())
        self._push(push_to_gateway, self.ok)

    def push_failure(self) -> None:
        self.errors.labels(self.mode).inc()
        self.failed_duration.labels(self.mode).set(time.time() - self.started)
        self.last_failure.labels(self.mode).set(time.time())
        self._push(pushadd_to_gateway, self.failed)

    def _push(self, push: object, registry: CollectorRegistry) -> None:
        if not self.gateway:
            return
        try:
            push(self.gateway, job=JOB, registry=registry, grouping_key={"mode": self.mode})  # type: ignore[operator]
        except OSError as exc:
            log.warning("metrics push failed", gateway=self.gateway, error=str(exc))
