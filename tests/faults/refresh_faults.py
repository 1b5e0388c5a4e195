"""The refresh job killed (SIGKILL) at random points, several times in a row, while the service answers.

Contract: `refresh_kills(world, runs, seed)` works under its own key prefix in the world's Redis. It runs one complete
`genrec refresh --mode full` (the version that must keep serving), then `runs` times starts another full refresh as a
subprocess and SIGKILLs it at a seeded random point of one of three phases — start-up (a random delay after the
spawn, often before any write), mid-run (after a random number of finished shards, read from the checkpoint), or
after the pointer flip (during the grace period, before old versions are removed) — and after each kill counts the
users the active version still holds. A final run without a kill must finish (resuming from the checkpoint, after
the dead run's lock expired) with every user present and exactly one version left. A service and a light client
load run throughout; the report says what they saw. Asserts nothing.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import redis

from model.artifact import load_artifact
from model.cache.keys import KeySchema
from model.cache.store import CacheStore
from tests.faults.load import Load
from tests.faults.redis_faults import FaultReport
from tests.faults.world import World, sweep
from tests.paths import REPO_ROOT

PHASES = ("startup", "mid-run", "after flip")


@dataclass
class Kill:
    phase: str
    at_s: float  # seconds after the spawn
    shards_done: int  # checkpoint entries of the building version when killed
    flipped: bool  # whether the active pointer had moved to the killed run's version
    users_served: int  # lists in the active version after the kill
    active_is_previous: bool
    versions_left: int
    resumed: bool  # the run had picked up (from its checkpoint) a version an earlier killed run left building
    extra: dict[str, Any] = field(default_factory=dict)


def count_lists(client: redis.Redis, keys: KeySchema, users: list[str]) -> tuple[str | None, int]:
    """(active version, how many of `users` have a list in it)."""
    version = CacheStore(client, keys).active_version()
    if version is None:
        return None, 0
    pipe = client.pipeline(transaction=False)
    for user in users:
        pipe.exists(keys.recs(version, user))
    return version, sum(int(n) for n in pipe.execute())


class RefreshRunner:
    def __init__(self, world: World, keys: KeySchema, k: int, shard_size: int, lock_ttl_s: float, grace_s: float):
        self.world, self.keys = world, keys
        self.args = ["--k", str(k), "--shard-size", str(shard_size), "--lock-ttl", str(lock_ttl_s)]
        self.args += ["--grace", str(grace_s), "--backend", "transformers"]
        self.env = {
            **os.environ,
            "PYTHONPATH": str(REPO_ROOT),
            "GENREC_REDIS_URL": world.redis.url,
            "GENREC_CACHE_PREFIX": keys.prefix,
            "GENREC_PROGRESS": "0",
            "OMP_NUM_THREADS": "1",
        }
        self.logs = world.folder / "refresh-logs"
        self.logs.mkdir(exist_ok=True)
        self.n = 0

    def spawn(self, *extra: str) -> subprocess.Popen[bytes]:
        self.n += 1
        cmd = [sys.executable, "-m", "offline", "refresh", "--artifact", str(self.world.artifact), *self.args, *extra]
        log = (self.logs / f"run{self.n}.log").open("wb")
        return subprocess.Popen(cmd, cwd=REPO_ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)

    def log_text(self) -> str:
        return (self.logs / f"run{self.n}.log").read_text(errors="replace")


def _building(store: CacheStore) -> str | None:
    """The newest version still being built (the one a new run writes or resumes), if any."""
    for version in reversed(store.versions()):
        meta = store.version_meta(version)
        if meta is not None and meta.state == "building":
            return version
    return None


def refresh_kills(
    world: World,
    runs: int = 5,
    seed: int = 0,
    k: int = 20,
    shard_size: int = 20,
    lock_ttl_s: float = 3.0,
    grace_s: float = 2.0,
    load_threads: int = 1,
) -> FaultReport:
    rng = random.Random(seed)
    keys = KeySchema(prefix="rk")
    client = world.redis.client()
    store = CacheStore(client, keys)
    users = list(load_artifact(world.artifact, verify=False).dataset.user_ids)
    n_shards = (len(users) + shard_size - 1) // shard_size
    runner = RefreshRunner(world, keys, k, shard_size, lock_ttl_s, grace_s)
    report = FaultReport(
        "refresh job killed", f"SIGKILL at {runs} seeded random points (seed {seed}), then a rerun", extra={}
    )
    t_first = time.monotonic()
    first = runner.spawn()
    if first.wait(timeout=600) != 0:
        raise RuntimeError(f"the first refresh failed: {runner.log_text()[-2000:]}")
    report.extra["full_run_s"] = round(time.monotonic() - t_first, 1)
    previous, served = count_lists(client, keys, users)
    report.served_before = {"users": served, "of": len(users)}
    service = world.service("svc-refresh", prefix=keys.prefix, GENREC_LIVE_ENABLED="false")
    service.start()
    kills: list[Kill] = []
    try:
        with Load(service.base, [(u, "cached") for u in users], threads=load_threads, pause_s=0.01) as load:
            t0 = time.monotonic()
            for _ in range(runs):
                phase = rng.choice(PHASES)
                active_before = store.active_version()
                proc = runner.spawn("--wait-lock", str(lock_ttl_s * 3))
                spawned = time.monotonic()
                left = _building(store)  # what a run with the same settings resumes
                base = len(client.hkeys(keys.checkpoint(left))) - 4 if left else 0
                target = base + rng.randrange(1, max(2, n_shards - base))  # at least one shard of its own
                delay = rng.uniform(0.0, 3.0)
                shards = base
                flipped = False
                building = left
                while proc.poll() is None:
                    building = _building(store) or building
                    if building is not None and not flipped:  # after the flip: keep the last count seen
                        shards = len(client.hkeys(keys.checkpoint(building))) - 4
                    flipped = store.active_version() != active_before
                    elapsed = time.monotonic() - spawned
                    if phase == "startup" and elapsed >= delay:
                        break
                    if phase == "mid-run" and shards >= target:
                        break
                    if phase == "after flip" and flipped:
                        break
                    time.sleep(0.01)
                finished = proc.poll() is not None
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                version, count = count_lists(client, keys, users)
                kills.append(
                    Kill(
                        phase,
                        round(time.monotonic() - spawned, 2),
                        max(0, shards),
                        flipped,
                        count,
                        version == active_before,
                        len(store.versions()),
                        "resuming refresh" in runner.log_text(),
                        {"finished_before_kill": finished} if finished else {},
                    )
                )
            t_rerun = time.monotonic()
            proc = runner.spawn("--wait-lock", str(lock_ttl_s * 3 + 30))
            code = proc.wait(timeout=600)
            report.extra["rerun_s"] = round(time.monotonic() - t_rerun, 1)
            report.extra["rerun_exit"] = code
            report.extra["rerun_resumed"] = "resuming refresh" in runner.log_text()
            time.sleep(0.5)
            load.stop()
            report.phases = {"during kills and rerun": load.window(t0)}
        version, count = count_lists(client, keys, users)
        report.served_after = {"users": count, "of": len(users)}
        report.extra["final_version_changed"] = version != previous
        report.extra["versions_left"] = store.versions()
        report.extra["lock_left"] = client.exists(keys.lock()) == 1
        report.extra["service_sweep_after"] = sweep(service, users)
        report.extra["kills"] = kill_rows(kills)
    finally:
        service.stop()
        client.close()
    return report


def kill_rows(kills: list[Kill]) -> list[dict[str, Any]]:
    return [
        {
            "kill": i + 1,
            "phase": k.phase,
            "at_s": k.at_s,
            "resumed": "yes" if k.resumed else "no",
            "shards_done": k.shards_done,
            "flipped": "yes" if k.flipped else "no",
            "users_served_after": k.users_served,
            "previous_version_serving": "yes" if k.active_is_previous else "no (new one, complete)",
            "versions_in_redis": k.versions_left,
        }
        for i, k in enumerate(kills)
    ]
