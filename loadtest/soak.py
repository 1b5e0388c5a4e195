"""Soak: the service under a fixed request rate for a long time (default 10 minutes), on cached and uncached users.

    python -m loadtest.soak --rate 100 --duration 600 --out runs/soak/soak.json

Open loop: request i is due at start + i / rate whatever happened to the earlier ones, and its latency is measured
from when it was due (a stalled server cannot hide its stall by slowing the client down). Each request goes out on
an idle keep-alive connection or a new one. A share of the requests (`--uncached-share`) asks for users without a
cached list, each such user once (every one a real miss: live generation, written back), the rest for users with a
list. The service (`genrec serve`, one worker unless told) and a private redis-server (no persistence, a free port)
are started here with a tiny random-LM artifact; the service's resident memory is sampled every `--rss-every`
seconds. Printed (and written as JSON): one row per minute — requests, errors (non-200 or no answer), p50/p95/p99,
answers by source, RSS — and a summary: total errors, p99 per minute (min/max), RSS first/last/max and its slope over
the second half (MB/min), the load average. Not part of the test run (a 20-second smoke is, with `-m soak`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import shutil
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from tests.faults.procs import Service, rss_bytes
from tests.faults.world import build_world
from tools.benchmarks.report import emit, markdown_table


@dataclass(slots=True)
class Result:
    due: float  # seconds from the start when the request was due
    latency: float  # from due to the last byte of the answer
    status: int  # 0 = no answer
    source: str
    kind: str


class Client:
    """Minimal HTTP/1.1 keep-alive client on asyncio streams: little CPU per request on a shared machine. A connection
    idle longer than `max_idle_s` is closed rather than reused (uvicorn closes idle keep-alive connections after 5 s;
    a request written into one the server is closing would be lost through no fault of the service)."""

    def __init__(self, host: str, port: int, timeout_s: float, max_idle_s: float = 2.0) -> None:
        self.host, self.port, self.timeout_s, self.max_idle_s = host, port, timeout_s, max_idle_s
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter, float]] = []
        self.opened = 0
        self.failures: Counter[str] = Counter()

    def _take(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        now = time.monotonic()
        while self.idle:
            reader, writer, since = self.idle.pop()
            if now - since <= self.max_idle_s and not reader.at_eof():
                return reader, writer
            writer.close()
        return None

    async def get(self, path: str) -> tuple[int, str]:
        conn = self._take()
        try:
            async with asyncio.timeout(self.timeout_s):
                if conn is None:
                    conn = await asyncio.open_connection(self.host, self.port)
                    self.opened += 1
                reader, writer = conn
                writer.write(b"GET %b HTTP/1.1\r\nHost: soak\r\n\r\n" % path.encode())
                head = await reader.readuntil(b"\r\n\r\n")
                status = int(head[9:12])
                length, source = 0, ""
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    lname = name.lower()
                    if lname == b"content-length":
                        length = int(value)
                    elif lname == b"x-genrec-source":
                        source = value.strip().decode()
                await reader.readexactly(length)
        except (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError) as exc:
            self.failures[type(exc).__name__] += 1
            if conn is not None:
                conn[1].close()
            return 0, ""
        self.idle.append((reader, writer, time.monotonic()))
        return status, source


async def drive(
    base_port: int, rate: float, duration: float, cached: list[str], uncached: list[str], share: float, seed: int
) -> tuple[list[Result], dict[str, Any]]:
    """The results, and the client's own figures (connections opened, failures by exception)."""
    rng = random.Random(seed)
    client = Client("127.0.0.1", base_port, timeout_s=10.0)
    results: list[Result] = []
    pending: set[asyncio.Task[None]] = set()
    fresh = iter(uncached)
    loop = asyncio.get_running_loop()
    start = loop.time()

    async def one(due: float, user: str, kind: str) -> None:
        status, source = await client.get(f"/users/{user}/recommendations?k=10")
        results.append(Result(due, loop.time() - start - due, status, source, kind))

    n = int(rate * duration)
    for i in range(n):
        due = i / rate
        delay = start + due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        user, kind = rng.choice(cached), "cached"
        if rng.random() < share:
            user, kind = next(fresh, user), "uncached"
        task = asyncio.create_task(one(due, user, kind))
        pending.add(task)
        task.add_done_callback(pending.discard)
    if pending:
        await asyncio.wait(pending, timeout=15)
    return results, {"connections_opened": client.opened, "failures": dict(client.failures)}


async def sample_rss(pid: int, every: float, stop: asyncio.Event, out: list[tuple[float, int]]) -> None:
    start = time.monotonic()
    while not stop.is_set():
        out.append((time.monotonic() - start, rss_bytes(pid)))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every)


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def minute_rows(results: list[Result], rss: list[tuple[float, int]], window: float) -> list[dict[str, Any]]:
    rows = []
    end = max((r.due for r in results), default=0.0)
    for lo in np.arange(0.0, end + 1e-9, window):
        chunk = [r for r in results if lo <= r.due < lo + window]
        if not chunk:
            continue
        lat = [r.latency * 1000 for r in chunk]
        ok = [r for r in chunk if r.status == 200]
        sources: dict[str, int] = {}
        for r in ok:
            sources[r.source] = sources.get(r.source, 0) + 1
        in_window = [b for t, b in rss if lo <= t < lo + window]
        rows.append(
            {
                "from_s": int(lo),
                "requests": len(chunk),
                "errors": len(chunk) - len(ok),
                "p50_ms": round(pct(lat, 50), 2),
                "p95_ms": round(pct(lat, 95), 2),
                "p99_ms": round(pct(lat, 99), 2),
                "max_ms": round(max(lat), 1),
                "sources": ", ".join(f"{k} {v}" for k, v in sorted(sources.items())),
                "rss_mb": round(in_window[-1] / 2**20, 1) if in_window else float("nan"),
            }
        )
    return rows


def rss_summary(rss: list[tuple[float, int]]) -> dict[str, float]:
    mb = [(t, b / 2**20) for t, b in rss if b]
    if len(mb) < 2:
        return {}
    half = [(t, m) for t, m in mb if t >= mb[-1][0] / 2]
    slope = np.polyfit([t / 60 for t, _ in half], [m for _, m in half], 1)[0] if len(half) >= 2 else float("nan")
    return {
        "rss_first_mb": round(mb[0][1], 1),
        "rss_last_mb": round(mb[-1][1], 1),
        "rss_max_mb": round(max(m for _, m in mb), 1),
        "rss_slope_2nd_half_mb_per_min": round(float(slope), 3),
        "rss_samples": len(mb),
    }


def by_source(results: list[Result], kind: str) -> str:
    counts = Counter(r.source or f"status {r.status}" for r in results if r.kind == kind)
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))


def degraded_counts(metrics_text: str) -> str:
    """The service's own count of degraded answers (warm-up included): Redis errors by operation, live fallbacks
    by reason, from its /metrics."""
    out = []
    for line in metrics_text.splitlines():
        if line.startswith(("genrec_redis_errors_total{", "genrec_live_fallbacks_total{")):
            head, value = line.rsplit(" ", 1)
            if float(value):
                out.append(f"{head.replace('genrec_', '').replace('_total', '')} {float(value):g}")
    return ", ".join(out)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rate", type=float, default=100.0, help="requests per second (open loop)")
    p.add_argument("--duration", type=float, default=600.0, help="seconds")
    p.add_argument("--uncached-share", type=float, default=0.02, help="share of requests for users without a list")
    p.add_argument("--users", type=int, default=40_000, help="dataset users (half get a cached list)")
    p.add_argument("--items", type=int, default=500)
    p.add_argument("--workers", type=int, default=1, help="uvicorn workers of the service")
    p.add_argument("--window", type=float, default=60.0, help="seconds per table row")
    p.add_argument("--rss-every", type=float, default=5.0, help="seconds between RSS samples")
    p.add_argument("--warmup", type=float, default=5.0, help="seconds of load before the measured run")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args()
    if not 0 <= args.uncached_share <= 1 or args.rate <= 0 or args.duration <= 0:
        p.error("--uncached-share must be in [0, 1]; --rate and --duration must be > 0")
    need_uncached = int(args.rate * args.duration * args.uncached_share * 1.2) + 10
    if args.users // 2 < need_uncached:
        p.error(
            f"--users {args.users}: half of them ({args.users // 2}) is fewer than the ~{need_uncached} uncached "
            "users this run asks for once each; raise --users"
        )
    folder = Path(tempfile.mkdtemp(prefix="genrec_soak_"))
    world = build_world(folder, users=args.users, cached=args.users // 2, n_items=args.items)
    service: Service | None = None
    try:
        service = world.service("svc")
        service.start(workers=args.workers)
        port = int(service.base.rsplit(":", 1)[1])
        rng = random.Random(args.seed)
        uncached = list(world.uncached)
        rng.shuffle(uncached)
        warm, measured = uncached[: len(uncached) // 4], uncached[len(uncached) // 4 :]
        asyncio.run(drive(port, args.rate, args.warmup, world.cached, warm, args.uncached_share, args.seed + 1))

        async def run() -> tuple[list[Result], dict[str, Any], list[tuple[float, int]]]:
            rss: list[tuple[float, int]] = []
            stop = asyncio.Event()
            assert service is not None
            sampler = asyncio.create_task(sample_rss(service.pid, args.rss_every, stop, rss))
            results, client_stats = await drive(
                port, args.rate, args.duration, world.cached, measured, args.uncached_share, args.seed
            )
            stop.set()
            await sampler
            return results, client_stats, rss

        load_before = os.getloadavg()
        results, client_stats, rss = asyncio.run(run())
        load_after = os.getloadavg()
        service_counts = degraded_counts(service.metrics())
    finally:
        if service is not None:
            service.stop()
        world.redis.kill()
        shutil.rmtree(folder, ignore_errors=True)
    rows = minute_rows(results, rss, args.window)
    lat = [r.latency * 1000 for r in results]
    p99s = [r["p99_ms"] for r in rows]
    summary = {
        "rate_per_s": args.rate,
        "duration_s": args.duration,
        "requests": len(results),
        "expected": int(args.rate * args.duration),
        "errors": sum(1 for r in results if r.status != 200),
        "error_statuses": ", ".join(
            f"{k}: {v}" for k, v in sorted(Counter(r.status for r in results if r.status != 200).items())
        ),
        "p50_ms": round(pct(lat, 50), 2),
        "p99_ms": round(pct(lat, 99), 2),
        "p99_per_window_min_ms": round(min(p99s), 2) if p99s else float("nan"),
        "p99_per_window_max_ms": round(max(p99s), 2) if p99s else float("nan"),
        "uncached_requests": sum(1 for r in results if r.kind == "uncached"),
        "answered_live": sum(1 for r in results if r.source == "live"),
        **rss_summary(rss),
        "load_avg_1m_before_after": f"{load_before[0]:.2f} / {load_after[0]:.2f}",
        "load_avg_15m_after": round(load_after[2], 2),
        "cpus": os.cpu_count() or 0,
        "sources_cached_users": by_source(results, "cached"),
        "sources_uncached_users": by_source(results, "uncached"),
        "service_degraded_counters": service_counts or "none",
        "client_connections": client_stats["connections_opened"],
        "client_failures": ", ".join(f"{k}: {v}" for k, v in client_stats["failures"].items()) or "none",
    }
    title = (
        f"Soak: {args.rate:g} req/s open loop for {args.duration:g} s, {args.uncached_share:.0%} uncached users "
        f"(each once), {args.workers} worker(s)"
    )
    emit(title, rows, None)
    print("\n## Summary\n")
    print(markdown_table([summary]))
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        payload = {"title": title, "rows": rows, "summary": summary, "rss": rss, "argv": sys.argv[1:]}
        args.out.write_bytes(orjson.dumps(payload, option=orjson.OPT_INDENT_2))


if __name__ == "__main__":
    main()
