"""What the access guard (service/auth.py) adds per request, measured on the guard alone.

Each row times N calls of an ASGI app that does nothing (the baseline) and of the same app behind `AccessGuard`,
in alternating rounds in one process, and reports the best round's µs per call and the difference: a GET with
public reads (the default: the plain route's case), a GET with keyed reads and a valid key (hmac over 3 keys),
and a keyed write with the rate limit off (the limiter's cost is its one Redis round trip). Compare with the
cached GET path's ~25 µs of CPU (service/routes.py). No Redis, no network.

    python -m benchmarks.bench_guard --calls 200000 --rounds 5 --out runs/bench/guard.json
"""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path
from typing import Any

from benchmarks.report import emit
from service.auth import AccessGuard, Keyring
from service.metrics import Message, Metrics

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


async def run(calls: int, rounds: int) -> list[dict[str, object]]:
    metrics = Metrics()
    keyring = Keyring(KEYS, [READ_KEY])
    public = AccessGuard(_inner, keyring, read_keyed=False, limiter=None, metrics=metrics)
    keyed = AccessGuard(_inner, keyring, read_keyed=True, limiter=None, metrics=metrics)
    headers = [(b"host", b"x"), (b"accept", b"*/*"), (b"x-api-key", READ_KEY.encode())]
    write_headers = [(b"host", b"x"), (b"authorization", f"Bearer {KEYS[1]}".encode())]
    cases = [
        ("GET, public reads (default)", public, _scope("GET", "/users/1/recommendations", headers[:2])),
        ("GET, keyed reads, valid key", keyed, _scope("GET", "/users/1/recommendations", headers)),
        ("POST events, valid write key, no rate limit", public, _scope("POST", "/users/1/events", write_headers)),
    ]
    rows = []
    for label, guarded, scope in cases:
        bare, with_guard = [], []
        for _ in range(rounds):
            bare.append(await _time(_inner, scope, calls))
            with_guard.append(await _time(guarded, scope, calls))
        rows.append(
            {
                "case": label,
                "bare app µs": round(min(bare), 3),
                "behind the guard µs": round(min(with_guard), 3),
                "guard adds µs": round(min(with_guard) - min(bare), 3),
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    rows = asyncio.run(run(args.calls, args.rounds))
    emit(f"Access guard cost per request ({args.calls:,} calls, best of {args.rounds} rounds)", rows, args.out)


if __name__ == "__main__":
    main()
