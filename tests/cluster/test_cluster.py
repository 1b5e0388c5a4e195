"""The refresh on Ray and the cache on a real 3-master Redis Cluster, end to end: a Ray refresh with 2 actors fills the
cluster and the service (a real `genrec serve` over HTTP) reads every user's list from it; an actor SIGKILLed mid-run
costs only a retry; a node restarted under load gives no 5xx; /readyz names slots no master serves; bad addresses fail
at start-up naming them. Opt in with -m cluster (tests/cluster/conftest.py)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from redis.crc import key_slot

from model.artifact import load_artifact
from model.cache.client import Client
from model.cache.codec import decode
from model.cache.history import HistoryStore
from model.cache.keys import KeySchema
from model.cache.store import CacheStore, VersionMeta
from service.cluster_io import ClusterHotReader
from tests.cluster.conftest import USERS
from tests.cluster.procs import OwnCluster
from tests.faults.load import Load
from tests.faults.procs import Service, free_port, get
from tests.faults.redis_faults import post_event, wait_until
from tests.paths import REPO_ROOT

pytestmark = pytest.mark.cluster


def refresh_cmd(url: str, keys: KeySchema, artifact: Path, *extra: str) -> list[str]:
    cmd = [sys.executable, "-m", "offline", "--redis-url", url, "--log-level", "WARNING", "refresh"]
    return [*cmd, "--artifact", str(artifact), "--k", "10", "--grace", "0", *extra]


def env_for(keys: KeySchema) -> dict[str, str]:
    return {**os.environ, "GENREC_PROGRESS": "0", "GENREC_CACHE_PREFIX": keys.prefix}


def run_refresh(url: str, keys: KeySchema, artifact: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    env = env_for(keys)
    cmd = refresh_cmd(url, keys, artifact, *extra)
    return subprocess.run(cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300)


def ray_args(shard_size: int = 32) -> list[str]:
    return ["--engine", "ray", "--actors", "2", "--cpus-per-actor", "0.5", "--shard-size", str(shard_size)]


def every_list(store: CacheStore, version: str) -> dict[str, bytes | None]:
    return {str(u): store.get_raw(version, str(u)) for u in range(USERS)}


def test_a_ray_refresh_fills_the_cluster_and_the_service_reads_every_user_from_it(
    cluster: OwnCluster, cluster_client: Client, cluster_keys: KeySchema, artifact_300: Path, tmp_path: Path
) -> None:
    proc = run_refresh(cluster.url, cluster_keys, artifact_300, *ray_args())
    assert proc.returncode == 0, proc.stderr[-3000:]
    store = CacheStore(cluster_client, cluster_keys)
    version = store.active_version()
    assert version is not None and f"full refresh wrote {USERS} users into version {version}" in proc.stdout
    meta = store.version_meta(version)
    assert meta is not None and meta.state == "complete" and meta.users == USERS
    lists = every_list(store, version)
    assert all(blob is not None for blob in lists.values())
    per_node = [n.client().dbsize() for n in cluster.nodes]
    assert all(n > 0 for n in per_node), per_node  # the users' slots spread over all three masters
    # incremental mode on Ray too: a user with a new event (on whichever node owns them) is regenerated in place
    HistoryStore(cluster_client, cluster_keys).record("7", [3], [int(time.time())])
    proc = run_refresh(cluster.url, cluster_keys, artifact_300, *ray_args(), "--mode", "incremental")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"incremental refresh wrote 1 users into version {version}" in proc.stdout
    assert store.active_version() == version and store.get_raw(version, "7") != lists["7"]
    lists["7"] = store.get_raw(version, "7")

    artifact = load_artifact(artifact_300)
    limits = {"GENREC_RATE_LIMIT_EVENTS": "2", "GENREC_RATE_LIMIT_WINDOW_S": "600"}
    service = Service(artifact_300, cluster.url, cluster_keys.prefix, tmp_path / "svc", env=limits)
    service.start()
    try:
        assert service.ready() == 200
        for user, blob in lists.items():
            status, body = get(f"{service.base}/users/{user}/recommendations?k=10")
            assert status == 200, (user, body)
            answer = json.loads(body)
            assert answer["source"] == "cache" and answer["model_version"] == artifact.version
            assert blob is not None
            cached = [artifact.dataset.items[i].raw_id for i in decode(blob).items[:10]]
            assert [item["id"] for item in answer["items"]] == cached, user
        # events, the rate limit and the live write-back on the cluster
        item = artifact.dataset.items[5].raw_id
        assert [post_event(service, "11", item) for _ in range(3)] == [202, 202, 429]
        assert [e.item for e in HistoryStore(cluster_client, cluster_keys).events("11")] == [5, 5]
        status, body = get(f"{service.base}/users/11/recommendations?k=10")
        assert status == 200 and json.loads(body)["source"] == "live"
        assert wait_until(lambda: store.get_raw(version, "11") != lists["11"], 30) is not None  # written back
    finally:
        service.stop()


def _actor_pids() -> list[int]:
    """The processes of this test's Ray actors (their title names the callable class)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if b"ShardActor" in cmdline:
            pids.append(int(entry.name))
    return pids


def test_an_actor_killed_mid_run_costs_only_a_retry_and_the_old_version_serves_until_the_flip(
    cluster: OwnCluster, cluster_client: Client, cluster_keys: KeySchema, artifact_300: Path
) -> None:
    store = CacheStore(cluster_client, cluster_keys)
    first = run_refresh(cluster.url, cluster_keys, artifact_300, "--shard-size", "64")  # local engine, on the cluster
    assert first.returncode == 0, first.stderr[-3000:]
    old = store.active_version()
    assert old is not None
    env = env_for(cluster_keys)
    # small shards and a wide beam: the run lasts long enough to be killed in the middle
    cmd = refresh_cmd(cluster.url, cluster_keys, artifact_300, *ray_args(shard_size=4), "--beam-width", "48")
    driver = subprocess.Popen(cmd, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        building: list[str] = []

        def some_shards_done() -> bool:
            building[:] = [v for v in store.versions() if v != old]
            ckpt = cluster_keys.checkpoint(building[0]) if building else None
            return ckpt is not None and len(cluster_client.hkeys(ckpt)) > 6 and bool(_actor_pids())

        assert wait_until(some_shards_done, 180, 0.05) is not None, "no shard was checkpointed"
        victim = _actor_pids()[0]
        assert store.active_version() == old  # mid-run: the old version is what readers get
        meta = store.version_meta(building[0])
        assert meta is not None and meta.state == "building"
        os.kill(victim, signal.SIGKILL)
        assert store.active_version() == old
        out, err = driver.communicate(timeout=240)
    finally:
        if driver.poll() is None:
            driver.kill()
            driver.wait()
    print(f"killed actor {victim}: the run {'completed through Ray' if driver.returncode == 0 else 'failed; rerun'}")
    if driver.returncode != 0:  # Ray gave up on the shard: a rerun resumes from the checkpoint
        rerun = run_refresh(cluster.url, cluster_keys, artifact_300, *ray_args(shard_size=4), "--beam-width", "48")
        assert rerun.returncode == 0, rerun.stderr[-3000:]
    else:
        assert f"full refresh wrote {USERS} users" in out, err[-3000:]
    new = store.active_version()
    assert new is not None and new != old and new == building[0]
    assert all(blob is not None for blob in every_list(store, new).values())  # nothing lost
    assert store.versions() == [new]  # the old version was removed after the flip


def test_a_node_restarted_under_load_gives_no_5xx_and_its_users_come_back_to_the_cache(
    cluster: OwnCluster, cluster_client: Client, cluster_keys: KeySchema, artifact_300: Path, tmp_path: Path
) -> None:
    filled = run_refresh(cluster.url, cluster_keys, artifact_300, "--shard-size", "100")
    assert filled.returncode == 0, filled.stderr[-3000:]
    service = Service(artifact_300, cluster.url, cluster_keys.prefix, tmp_path / "svc")
    service.start()
    users = [(str(u), "cached") for u in range(USERS)]
    try:
        with Load(service.base, users, threads=3, timeout_s=10) as load:
            time.sleep(2)
            t_kill = time.monotonic()
            cluster.restart(1, down_s=3)
            cluster.wait_ok()
            t_back = time.monotonic()
            time.sleep(3)
        before, during, after = load.window(0, t_kill), load.window(t_kill, t_back), load.window(t_back)
        for phase in (before, during, after):
            assert phase.requests > 0 and phase.server_errors == 0, phase
        assert set(before.sources) == {"cache"}
        assert during.sources.get("popular", 0) > 0, during  # the restart was seen: its users fell back to popularity
        # the restarted node kept its lists (append-only file): every user is answered from the cache again

        def all_cached() -> bool:
            return all(
                json.loads(get(f"{service.base}/users/{u}/recommendations?k=5")[1]).get("source") == "cache"
                for u, _ in users
            )

        assert wait_until(all_cached, 60, 0.5) is not None
    finally:
        service.stop()


def test_readyz_says_when_a_slot_is_not_covered(tmp_path: Path, cluster_keys: KeySchema, artifact_300: Path) -> None:
    own = OwnCluster(tmp_path / "cluster").start()
    service = Service(
        artifact_300, own.url, cluster_keys.prefix, tmp_path / "svc", env={"GENREC_LIVE_ENABLED": "false"}
    )
    try:
        filled = run_refresh(own.url, cluster_keys, artifact_300, "--shard-size", "150")
        assert filled.returncode == 0, filled.stderr[-3000:]
        service.start()
        assert service.ready() == 200
        own.nodes[2].kill()  # a master gone, no replica to take its slots

        def says_uncovered() -> bool:
            status, body = get(f"{service.base}/readyz")
            return status == 503 and any("hash slots not covered" in r for r in json.loads(body)["reasons"])

        assert wait_until(says_uncovered, 60, 0.2) is not None
        status, _ = get(f"{service.base}/users/1/recommendations?k=5")
        assert status == 200  # users keep getting answers (their node's list, or popularity)
    finally:
        service.stop()
        own.stop()


def test_an_unreachable_ray_address_or_cluster_fails_at_start_up_naming_it(
    cluster: OwnCluster, cluster_client: Client, cluster_keys: KeySchema, artifact_300: Path
) -> None:
    dead = f"127.0.0.1:{free_port()}"
    result = run_refresh(cluster.url, cluster_keys, artifact_300, "--engine", "ray", "--ray-address", dead)
    assert result.returncode == 2 and f"--ray-address {dead!r}" in result.stderr, result.stderr[-3000:]
    result = run_refresh(cluster.url, cluster_keys, artifact_300, "--engine", "ray", "--actors", "0")
    assert result.returncode == 2 and "--actors must be >= 1" in result.stderr, result.stderr[-3000:]
    result = run_refresh(f"redis+cluster://{dead}", cluster_keys, artifact_300)
    assert result.returncode == 2 and f"redis+cluster://{dead}" in result.stderr, result.stderr[-3000:]
    assert result.stderr.count("error:") == 1 and "Traceback" not in result.stderr
    assert CacheStore(cluster_client, cluster_keys).versions() == []  # nothing was written


def _node_of(cluster: OwnCluster, slot: int) -> int:
    """Index of the master that owns `slot` (by CLUSTER SLOTS of node 0)."""
    ranges = cluster.nodes[0].client().execute_command("CLUSTER", "SLOTS")
    port = next(int(r[2][1]) for r in ranges if int(r[0]) <= slot <= int(r[1]))
    return next(i for i, n in enumerate(cluster.nodes) if n.port == port)


def test_the_hot_path_follows_a_slot_through_a_migration_ask_then_moved(
    cluster: OwnCluster, cluster_client: Client, cluster_keys: KeySchema
) -> None:
    user = "migrating-user"
    store, history = CacheStore(cluster_client, cluster_keys), HistoryStore(cluster_client, cluster_keys)
    store.create_version(VersionMeta("v1", "m", "d", k=3, created_at=0))
    store.put_raw("v1", user, b"the list")
    history.record(user, [4, 2], [100, 200])
    slot = key_slot(cluster_keys.history(user).encode())
    src = _node_of(cluster, slot)
    dst = (src + 1) % len(cluster.nodes)
    s, d = cluster.nodes[src].client(), cluster.nodes[dst].client()
    src_id, dst_id = s.execute_command("CLUSTER", "MYID"), d.execute_command("CLUSTER", "MYID")

    async def fetch(reader: ClusterHotReader) -> tuple[bytes | None, list[bytes]]:
        return await reader.fetch("v1", user)

    async def scenario() -> list[tuple[bytes | None, list[bytes]]]:
        reader = ClusterHotReader(cluster.url, cluster_keys, 5.0)
        seen = [await fetch(reader)]  # the slot map is read: src owns the slot
        d.execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", src_id)
        s.execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", dst_id)
        # mid-migration: the list has moved, the events have not (src answers ASK for the list only)
        s.execute_command("MIGRATE", "127.0.0.1", cluster.nodes[dst].port, cluster_keys.recs("v1", user), 0, 5000)
        seen.append(await fetch(reader))
        for key in s.execute_command("CLUSTER", "GETKEYSINSLOT", slot, 10_000):
            s.execute_command("MIGRATE", "127.0.0.1", cluster.nodes[dst].port, key, 0, 5000)
        for node in cluster.nodes:
            node.client().execute_command("CLUSTER", "SETSLOT", slot, "NODE", dst_id)
        seen.append(await fetch(reader))  # src answers MOVED: the reader goes to dst
        seen.append(await fetch(reader))
        await reader.close()
        return seen

    expected = (b"the list", [b"2:200", b"4:100"])
    assert asyncio.run(scenario()) == [expected] * 4
    assert _node_of(cluster, slot) == dst
