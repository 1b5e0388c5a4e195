"""What the access guard (service/auth.py) adds per request, measured on the guard alone.

Each row times N calls of an ASGI app that does nothing (the baseline) and of the same app behind `AccessGuard`,
in alternating rounds in one process, and reports the best round's µs per call and the difference: a GET with
public reads (the default: the plain route's case), a GET with keyed reads and a valid key (hmac over 3 keys),
a keyed write with the rate limit off, and the same write with the rate limit on (its one Redis EVAL against
--redis-url, under a throwaway key prefix, fewer calls). Compare with the cached GET path's ~25 µs of CPU
(service/routes.py).

    python -m tools.benchmarks.bench_guard --calls 200000 --rounds 5 --out runs/bench/guard.json
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import redis.asyncio as aioredis

from model.cache.keys import KeySchema
from service.auth import AccessGuard, Keyring
from service.metrics import Message, Metrics
from service.ratelimit import RateLimiter
from tools.benchmarks.report import emit

KEYS = ["bench-write-key-0123456789", "bench-write-key-abcdefghij"]
READ_KEY = "bench-read-key-0123456789ab"


async def _inner(scope: Any, receive: Any, send: Any) -> None:
    return None


async def _receive() -> Message:
    return {"type": "http.request", "body": b""}


async def _send(message: Message) -> None:
    return None


def _scope(method: str, path: str, headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    return {"type": "http", "method": method, "path": path, "headers": headers, "client": ("127.0.0.1", 5000)}


async def _time(app: Any, scope: dict[str, Any], calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        await app(scope, _receive, _send)
    return (time.perf_counter() - start) / calls * 1e6


async def run(calls: int, rounds: int, redis_url: str) -> list[dict[str, object]]:
    metrics = Metrics()
    keyring = Keyring(KEYS, [READ_KEY])
    public = AccessGuard(_inner, keyring, read_keyed=False, limiter=None, metrics=metrics)
    keyed = AccessGuard(_inner, keyring, read_keyed=True, limiter=None, metrics=metrics)
    headers = [(b"host", b"x"), (b"accept", b"*/*"), (b"x-api-key", READ_KEY.encode())]
    write_headers = [(b"host", b"x"), (b"authorization", f"Bearer {KEYS[1]}".encode())]
    keys = KeySchema(prefix="bench" + uuid.uuid4().hex[:8])
    client = aioredis.Redis.from_url(redis_url)
    limiter = RateLimiter(10**6, 3600, keys, metrics)
    limited = AccessGuard(_inner, keyring, read_keyed=False, limiter=limiter, metrics=metrics)
    write_scope = _scope("POST", "/users/1/events", write_headers)
    limited_scope = {
        **write_scope,
        "app": SimpleNamespace(state=SimpleNamespace(services=SimpleNamespace(client=client))),
    }
    cases = [
        ("GET, public reads (default)", public, _scope("GET", "/users/1/recommendations", headers[:2]), calls),
        ("GET, keyed reads, valid key", keyed, _scope("GET", "/users/1/recommendations", headers), calls),
        ("POST events, valid write key, no rate limit", public, write_scope, calls),
        ("POST events, valid write key, rate limit in Redis", limited, limited_scope, max(calls // 100, 100)),
    ]
    rows = []
    for label, guarded, scope, n in cases:
        bare, with_guard = [], []
        for _ in range(rounds):
            bare.append(await _time(_inner, scope, n))
            with_guard.append(await _time(guarded, scope, n))
        rows.append(
            {
                "case": label,
                "bare app µs": round(min(bare), 3),
                "behind the guard µs": round(min(with_guard), 3),
                "guard adds µs": round(min(with_guard) - min(bare), 3),
            }
        )
    await client.delete(*[k async for k in client.scan_iter(match=f"{keys.prefix}:*")] or ["-"])
    await client.aclose()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    rows = asyncio.run(run(args.calls, args.rounds, args.redis_url))
    emit(f"Access guard cost per request ({args.calls:,} calls, best of {args.rounds} rounds)", rows, args.out)


if __name__ == "__main__":
    main()
