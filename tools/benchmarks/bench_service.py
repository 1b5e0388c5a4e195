"""The online service under wrk, side by side with a minimal FastAPI endpoint, in one run on this machine.

Rows: (1) the cached path — our GET /users/{id}/recommendations (validation, one pipelined Redis round trip for the
list and the user's events, decode, filter, JSON body, metrics) against `tools/benchmarks/baseline_app.py` (one redis-py
GET, the raw bytes returned), both under uvicorn with the same worker count, `wrk -c64`, alternating runs;
(2) the ratios (throughput ours/baseline, p99 ours/baseline); (3) the live path with the tiny model: every request a
miss (no active version, write-back off), its latency percentiles, throughput and the share answered live, with the
LM alone and with the fused ranking (a random SASRec; the union of both models' top 50 re-scored by the LM), and
their ratio.
It builds a tiny artifact, fills Redis under its own key prefix and removes what it wrote. Needs `wrk`
(`apt-get install -y wrk`).

    python -m tools.benchmarks.bench_service --duration 15 --out runs/bench/service.json
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import redis

from model.artifact import read_artifact_meta, set_ranking
from model.cache.codec import encode_batch
from model.cache.keys import KeySchema
from model.cache.store import CacheStore, VersionMeta
from model.rank.config import Fusion, RankingConfig
from tests.faults.procs import free_port
from tests.tiny_artifact import save_random_artifact, save_random_sasrec
from tools.benchmarks.report import emit

ROOT = Path(__file__).resolve().parents[2]


def fill(client: redis.Redis, keys: KeySchema, model_version: str, users: int, n_items: int) -> None:
    store = CacheStore(client, keys)
    store.create_version(VersionMeta("v1", model_version, "bench", k=50, created_at=int(time.time())))
    rng = np.random.default_rng(1)
    with store.writer("v1") as writer:
        for lo in range(0, users, 2000):
            n = min(2000, users - lo)
            items = np.stack([rng.permutation(n_items)[:50] for _ in range(n)])
            scores = -np.sort(rng.uniform(0.1, 20.0, size=(n, 50)), axis=1).astype(np.float32)
            blobs = encode_batch(items, scores, int(time.time()))
            writer.add_many(zip((str(lo + j + 1) for j in range(n)), blobs, strict=True))
    store.activate("v1", users)


def start(cmd: list[str], env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    out = log.open("wb")
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    for _ in range(600):
        if proc.poll() is not None:
            raise RuntimeError(f"server exited ({proc.returncode}); see {log}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/users/1/recommendations", timeout=2) as r:
                if r.status == 200:
                    return proc
        except OSError:
            time.sleep(0.25)
    stop(proc)
    raise RuntimeError(f"server on port {port} did not answer; see {log}")


def stop(proc: subprocess.Popen[bytes]) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def wrk(port: int, script: str, args: list[str], threads: int, conns: int, duration: int) -> dict[str, Any]:
    cmd = ["wrk", f"-t{threads}", f"-c{conns}", f"-d{duration}s", "-s", script, f"http://127.0.0.1:{port}", "--"]
    res = subprocess.run(cmd + args, cwd=ROOT, capture_output=True, text=True, check=True)
    line = next(ln for ln in res.stdout.splitlines() if ln.startswith("WRKJSON "))
    stats: dict[str, Any] = orjson.loads(line[len("WRKJSON ") :])
    stats["rps"] = stats["requests"] / (stats["duration_us"] / 1e6)
    return stats


def sources(port: int) -> dict[str, float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        text = r.read().decode()
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("genrec_requests_total{") and 'route="/users/{user_id}/recommendations"' in line:
            source = line.split('source="', 1)[1].split('"', 1)[0]
            out[source] = out.get(source, 0.0) + float(line.rsplit(" ", 1)[1])
    return out


def row(name: str, s: dict[str, Any]) -> dict[str, Any]:
    return {
        "endpoint": name,
        "req_per_s": round(s["rps"], 1),
        "p50_ms": s["p50_us"] / 1000,
        "p90_ms": s["p90_us"] / 1000,
        "p95_ms": s["p95_us"] / 1000,
        "p99_ms": s["p99_us"] / 1000,
        "errors": s["socket_errors"] + s["non2xx"],
        "load1": round(os.getloadavg()[0], 2),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--redis-url", default=os.environ.get("GENREC_REDIS_URL", "redis://127.0.0.1:6379/0"))
    p.add_argument("--users", type=int, default=20_000)
    p.add_argument("--items", type=int, default=500)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--connections", type=int, default=64)
    p.add_argument("--duration", type=int, default=15)
    p.add_argument("--rounds", type=int, default=2, help="alternating baseline/ours pairs")
    p.add_argument("--live-connections", type=int, default=2)
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install -y wrk")
    client = redis.Redis.from_url(args.redis_url)
    keys = KeySchema(prefix="bench" + uuid.uuid4().hex[:8])
    tmp = Path(tempfile.mkdtemp(prefix="bench_service_"))
    procs: list[subprocess.Popen[bytes]] = []
    try:
        data = save_random_artifact(tmp / "artifact", args.users, args.items, seed=0)
        fill(client, keys, read_artifact_meta(tmp / "artifact").version, args.users, args.items)
        users_file = tmp / "users.txt"
        users_file.write_text("\n".join(data.user_ids) + "\n")
        py = sys.executable
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        base_env = {
            **env,
            "BASELINE_REDIS_URL": args.redis_url,
            "BASELINE_KEY": keys.recs("v1", "USER").replace("{", "{{").replace("}", "}}").replace("USER", "{user}"),
        }
        ours_env = {
            **env,
            "GENREC_REDIS_URL": args.redis_url,
            "GENREC_CACHE_PREFIX": keys.prefix,
            "GENREC_LIVE_THREADS": "1",
            "GENREC_LOG_LEVEL": "WARNING",
        }
        workers = str(args.workers)
        base_cmd = [
            py,
            "-m",
            "uvicorn",
            "tools.benchmarks.baseline_app:app",
            "--workers",
            workers,
            "--log-level",
            "warning",
            "--no-access-log",
        ]
        ours_cmd = [
            py,
            "-m",
            "offline",
            "--work-dir",
            str(tmp / "work"),
            "--log-level",
            "WARNING",
            "serve",
            "--artifact",
            str(tmp / "artifact"),
            "--workers",
            workers,
        ]
        rows: list[dict[str, Any]] = []
        runs: dict[str, list[dict[str, Any]]] = {"baseline": [], "ours": []}
        for _ in range(args.rounds):
            for name, cmd, e in (("baseline", base_cmd, base_env), ("ours", ours_cmd, ours_env)):
                port = free_port()
                proc = start([*cmd, "--port", str(port)], e, port, tmp / f"{name}.log")
                procs.append(proc)
                wrk(port, "loadtest/users.lua", [str(users_file)], 2, args.connections, 3)  # warm-up
                stats = wrk(port, "loadtest/users.lua", [str(users_file)], 2, args.connections, args.duration)
                if name == "ours":
                    stats["sources"] = sources(port)
                runs[name].append(stats)
                rows.append(
                    row(f"{name} cached (FastAPI baseline: 1 GET)" if name == "baseline" else f"{name} cached", stats)
                )
                stop(proc)
                procs.remove(proc)
        mean = {n: {k: float(np.mean([r[k] for r in rs])) for k in ("rps", "p99_us")} for n, rs in runs.items()}
        rows.append(
            {
                "endpoint": "ratio ours/baseline (mean of rounds)",
                "req_per_s": round(mean["ours"]["rps"] / mean["baseline"]["rps"], 3),
                "p99_ms": round(mean["ours"]["p99_us"] / mean["baseline"]["p99_us"], 3),
            }
        )

        # live path: no active version under this prefix, write-back off: every request is a miss. Once with the LM
        # alone, once with the fused ranking (LM top-50 + SASRec top-50, the union scored by teacher forcing)
        fused = tmp / "artifact-fused"
        shutil.copytree(tmp / "artifact", fused)
        both = Fusion("sum", 1.0)
        set_ranking(fused, RankingConfig(seen_removed=both, seen_kept=both), save_random_sasrec(tmp / "sasrec", data))
        live_env = {
            **ours_env,
            "GENREC_CACHE_PREFIX": keys.prefix + "x",
            "GENREC_LIVE_WRITE_BACK": "false",
            "GENREC_LIVE_DEADLINE_MS": "30000",
            "GENREC_LIVE_QUEUE": "64",
        }
        live_runs: dict[str, dict[str, Any]] = {}
        for name, artifact in (("LM alone", tmp / "artifact"), ("fused with SASRec", fused)):
            cmd = [
                *ours_cmd[: ours_cmd.index("--artifact") + 1],
                str(artifact),
                *ours_cmd[ours_cmd.index("--workers") :],
            ]
            port = free_port()
            proc = start([*cmd, "--port", str(port)], live_env, port, tmp / "live.log")
            procs.append(proc)
            wrk(port, "loadtest/users.lua", [str(users_file)], 1, args.live_connections, 3)
            stats = wrk(port, "loadtest/users.lua", [str(users_file)], 1, args.live_connections, args.duration)
            src = sources(port)
            stats["sources"] = src
            live_row = row(f"ours live, {name} (tiny model, -c{args.live_connections})", stats)
            live_row["live_share"] = round(src.get("live", 0.0) / max(1.0, sum(src.values())), 3)
            rows.append(live_row)
            live_runs[name] = stats
            stop(proc)
            procs.remove(proc)
        alone, fusion = live_runs["LM alone"], live_runs["fused with SASRec"]
        rows.append(
            {
                "endpoint": "ratio live fused/LM alone",
                "req_per_s": round(fusion["rps"] / alone["rps"], 3),
                "p99_ms": round(fusion["p99_us"] / alone["p99_us"], 3),
            }
        )
        title = (
            f"Service: cached path vs a 1-GET FastAPI endpoint ({args.workers} uvicorn workers, wrk -c"
            f"{args.connections}, {args.duration}s x {args.rounds}), and the live path; "
            f"load average {os.getloadavg()[0]:.2f}"
        )
        emit(title, rows, args.out)
        if args.out is not None:
            raw = orjson.loads(args.out.read_bytes())
            raw["runs"] = {**runs, "live": live_runs}
            args.out.write_bytes(orjson.dumps(raw, option=orjson.OPT_INDENT_2))
    finally:
        for proc in procs:
            stop(proc)
        stale = list(client.scan_iter(match=keys.prefix + ":*", count=1000))
        if stale:
            client.unlink(*stale)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
