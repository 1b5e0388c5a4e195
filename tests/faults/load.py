"""A closed-loop client load that records every answer, for the fault scenarios.

Contract: `Load(base, users, threads)` starts `threads` threads, each sending GET /users/{id}/recommendations for a
user drawn from `users` (a list of (user, kind) pairs, kind being any label the caller likes, e.g. cached/uncached)
over one keep-alive HTTP/1.1 connection (`http.client`: little client CPU on a shared machine), back to back with an
optional pause, until `stop()`. Every request becomes a `Sample` (start time, latency, status — 0 when no HTTP answer
came back —, the `x-genrec-source` header, user, kind). `window(t0, t1)` summarises samples started in a time range.
It knows nothing about faults.
"""

from __future__ import annotations

import http.client
import random
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit


@dataclass(frozen=True, slots=True)
class Sample:
    start: float  # time.monotonic() when sent
    latency: float  # seconds
    status: int  # HTTP status, 0 = no answer (connection refused, reset, client timeout)
    source: str  # x-genrec-source, "" when absent
    user: str
    kind: str


@dataclass
class Summary:
    requests: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    sources: dict[str, int] = field(default_factory=dict)
    max_latency_s: float = 0.0
    p99_s: float = 0.0

    @property
    def server_errors(self) -> int:
        """5xx answers and requests with no answer at all."""
        return sum(n for status, n in self.statuses.items() if status >= 500 or status == 0)


def summarise(samples: Sequence[Sample]) -> Summary:
    if not samples:
        return Summary()
    lat = sorted(s.latency for s in samples)
    return Summary(
        requests=len(samples),
        statuses=dict(Counter(s.status for s in samples)),
        sources=dict(Counter(s.source for s in samples)),
        max_latency_s=lat[-1],
        p99_s=lat[min(len(lat) - 1, int(0.99 * len(lat)))],
    )


class Load:
    def __init__(
        self,
        base: str,
        users: Sequence[tuple[str, str]],
        threads: int = 4,
        k: int = 10,
        timeout_s: float = 10.0,
        pause_s: float = 0.0,
        seed: int = 0,
    ) -> None:
        parts = urlsplit(base)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.users, self.k, self.timeout_s, self.pause_s = list(users), k, timeout_s, pause_s
        self.samples: list[Sample] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._run, args=(random.Random(seed + i),), daemon=True) for i in range(threads)
        ]

    def __enter__(self) -> Load:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=self.timeout_s + 5)

    def _run(self, rng: random.Random) -> None:
        conn: http.client.HTTPConnection | None = None
        while not self._stop.is_set():
            user, kind = rng.choice(self.users)
            start = time.monotonic()
            status, source = 0, ""
            try:
                if conn is None:
                    conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout_s)
                conn.request("GET", f"/users/{user}/recommendations?k={self.k}")
                resp = conn.getresponse()
                resp.read()
                status, source = resp.status, resp.getheader("x-genrec-source") or ""
            except (OSError, http.client.HTTPException):
                if conn is not None:
                    conn.close()
                conn = None
            sample = Sample(start, time.monotonic() - start, status, source, user, kind)
            with self._lock:
                self.samples.append(sample)
            if self.pause_s:
                time.sleep(self.pause_s)
        if conn is not None:
            conn.close()

    def window(self, t0: float, t1: float = float("inf")) -> Summary:
        with self._lock:
            chosen = [s for s in self.samples if t0 <= s.start < t1]
        return summarise(chosen)

    def snapshot(self) -> list[Sample]:
        with self._lock:
            return list(self.samples)
