"""Beyond one process, in one run on this machine: the refresh job's engines, and the service on a Redis Cluster.

Rows, part 1 (the refresh, the same tiny random artifact and users, each run a full refresh into a private Redis):
the single-process job (`--engine local`, torch on 1 thread), then Ray (`--engine ray`, a local Ray started once)
with 1 and with 2 actors of 1 CPU each. Each row gives users/s over the whole run (actor start-up included) and over
the steady part (from the first shard's result to the last: what a long run approaches), and both as ratios to the
single-process row. Part 2 (the cached path): `genrec serve` over the same lists in a single private Redis and in a
private 3-master Redis Cluster, under wrk (`-c64`, alternating rounds), with the ratio cluster/single. Every server it
uses is its own (`redis-server` on free ports), removed at the end. Needs `wrk` and the `ray` extra.

    python -m tools.benchmarks.bench_scale --users 2000 --out runs/bench/scale.json
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from model.artifact import load_artifact
from model.cache.client import Client, sync_client
from model.cache.history import HistoryStore
from model.cache.keys import KeySchema
from model.cache.store import CacheStore
from model.recommender import Recommender
from offline.refresh.job import GeneratorOptions, RefreshConfig, RefreshJob, Shard, ShardResult
from offline.refresh.lock import RefreshLock
from offline.refresh.ray_engine import RayOptions, RayRefreshJob, connect_ray
from tests.cluster.procs import OwnCluster
from tests.faults.procs import OwnRedis, free_port
from tests.tiny_artifact import save_random_artifact
from tools.benchmarks.bench_service import fill, row, start, stop, wrk
from tools.benchmarks.report import emit

ROOT = Path(__file__).resolve().parents[2]


class Timed:
    """Wraps a job's `run_shards` to note when each shard's result reached the driver."""

    def __init__(self, job: RefreshJob) -> None:
        self.job, self.marks = job, []  # type: ignore[var-annotated]
        inner = job.run_shards

        def run_shards(version: str, shards: Sequence[Shard], lock: RefreshLock) -> Iterator[ShardResult]:
            for result in inner(version, shards, lock):
                self.marks.append((time.perf_counter(), result.written + result.skipped))
                yield result

        job.run_shards = run_shards  # type: ignore[method-assign]

    def steady_users_per_s(self) -> float:
        if len(self.marks) < 2:
            return float("nan")
        users = sum(n for _, n in self.marks[1:])
        return users / (self.marks[-1][0] - self.marks[0][0])


def refresh_row(name: str, job: RefreshJob, users: int, base: dict[str, float] | None) -> dict[str, Any]:
    timed = Timed(job)
    t0 = time.perf_counter()
    result = job.run()
    total = time.perf_counter() - t0
    assert result.users_written == users, result
    out: dict[str, Any] = {
        "engine": name,
        "users": users,
        "seconds": round(total, 2),
        "users_per_s": round(users / total, 1),
        "steady_users_per_s": round(timed.steady_users_per_s(), 1),
    }
    if base is not None:
        out["x_single"] = round(out["users_per_s"] / base["users_per_s"], 2)
        out["steady_x_single"] = round(out["steady_users_per_s"] / base["steady_users_per_s"], 2)
    else:
        out["x_single"] = out["steady_x_single"] = 1.0
    out["load1"] = round(os.getloadavg()[0], 2)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--users", type=int, default=2000)
    p.add_argument("--items", type=int, default=500)
    p.add_argument("--k", type=int, default=20)
    p.add_argument("--shard-size", type=int, default=64)
    p.add_argument("--beam-width", type=int, default=100, help="wider beams: more generation per user")
    p.add_argument("--workers", type=int, default=1, help="uvicorn workers of the service rows")
    p.add_argument("--duration", type=int, default=10)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install -y wrk")
    os.environ["PYTHONPATH"] = os.pathsep.join(x for x in (str(ROOT), os.environ.get("PYTHONPATH", "")) if x)
    torch.set_num_threads(1)
    tmp = Path(tempfile.mkdtemp(prefix="bench_scale_"))
    single = OwnRedis(tmp / "redis", port=free_port(), persist=False)
    cluster = OwnCluster(tmp / "cluster", persist=False)
    procs: list[Any] = []
    try:
        single.start().close()
        cluster.start()
        data = save_random_artifact(tmp / "artifact", args.users, args.items, seed=0)
        artifact = load_artifact(tmp / "artifact")
        client: Client = sync_client(single.url)
        config = RefreshConfig(k=args.k, shard_size=args.shard_size, grace_s=0.0)
        rows: list[dict[str, Any]] = []

        def stores(prefix: str) -> tuple[CacheStore, HistoryStore]:
            keys = KeySchema(prefix)
            return CacheStore(client, keys), HistoryStore(client, keys)

        store, history = stores("local")
        local = RefreshJob(
            Recommender(artifact, backend="transformers", beam_width=args.beam_width), store, history, config
        )
        base = refresh_row("single process (--engine local)", local, args.users, None)
        rows.append(base)
        connect_ray(None)
        for actors in (1, 2):
            store, history = stores(f"ray{actors}")
            job = RayRefreshJob(
                tmp / "artifact",
                store,
                history,
                config,
                single.url,
                RayOptions(None, actors, 1.0, 0.0),
                GeneratorOptions(backend="transformers", beam_width=args.beam_width),
            )
            rows.append(refresh_row(f"ray, {actors} actor{'s' * (actors > 1)} x 1 CPU", job, args.users, base))

        # part 2: the cached path on one Redis and on the cluster, same lists
        users_file = tmp / "users.txt"
        users_file.write_text("\n".join(data.user_ids) + "\n")
        targets = {"single Redis": single.url, "Redis Cluster (3 masters)": cluster.url}
        for url in targets.values():
            fill(sync_client(url), KeySchema("svc"), artifact.version, args.users, args.items)  # type: ignore[arg-type]
        cmd = [sys.executable, "-m", "offline", "--work-dir", str(tmp / "work"), "--log-level", "WARNING", "serve"]
        cmd += ["--artifact", str(tmp / "artifact"), "--workers", str(args.workers)]
        runs: dict[str, list[dict[str, Any]]] = {name: [] for name in targets}
        for _ in range(args.rounds):
            for name, url in targets.items():
                env = {**os.environ, "GENREC_REDIS_URL": url, "GENREC_CACHE_PREFIX": "svc", "GENREC_LIVE_THREADS": "1"}
                port = free_port()
                proc = start([*cmd, "--port", str(port)], env, port, tmp / "svc.log")
                procs.append(proc)
                wrk(port, "loadtest/users.lua", [str(users_file)], 2, 64, 2)  # warm-up
                stats = wrk(port, "loadtest/users.lua", [str(users_file)], 2, 64, args.duration)
                runs[name].append(stats)
                stop(proc)
                procs.remove(proc)
        service_rows = []
        for name, stats_list in runs.items():
            r = row(f"cached GET, {name}", {k: float(np.mean([s[k] for s in stats_list])) for k in stats_list[0]})
            service_rows.append(r)
        mean = {n: {k: float(np.mean([s[k] for s in rs])) for k in ("rps", "p99_us")} for n, rs in runs.items()}
        names = list(targets)
        service_rows.append(
            {
                "endpoint": "ratio cluster/single (mean of rounds)",
                "req_per_s": round(mean[names[1]]["rps"] / mean[names[0]]["rps"], 3),
                "p99_ms": round(mean[names[1]]["p99_us"] / mean[names[0]]["p99_us"], 3),
            }
        )
        emit(
            f"Refresh engines: {args.users} users, K={args.k}, beam {args.beam_width}, shards of {args.shard_size}, "
            f"tiny LM ({args.items} items); ratios to the single process",
            rows,
            args.out,
        )
        service_out = args.out.with_name(args.out.stem + "_service.json") if args.out else None
        emit(
            f"Service cached path: {args.workers} uvicorn worker(s), wrk -c64, {args.duration}s x {args.rounds} "
            "rounds, single Redis vs a 3-master Redis Cluster",
            service_rows,
            service_out,
        )
    finally:
        for proc in procs:
            stop(proc)
        try:
            import ray

            ray.shutdown()
        except ImportError:
            pass
        cluster.stop()
        single.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
