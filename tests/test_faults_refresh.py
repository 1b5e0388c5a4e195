"""The refresh job killed at any point: what a killed run leaves in Redis never blocks the next full refresh, and the
next one removes it. The seeded SIGKILL runs with real subprocesses and a serving service are opt-in (`-m faults`).

- A run killed between the two writes `create_version` used to make left a metadata hash with only its `version`
  field; reading it raised KeyError, so every later full refresh crashed. It now reads as an abandoned building
  version, and creation is one atomic step.
- A killed run's building version that no rerun resumes (other K or shard size) used to stay in Redis forever; the
  next full refresh now removes it with the replaced version."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from model.artifact import load_artifact
from model.cache.history import HistoryStore
from model.cache.keys import KeySchema
from model.cache.store import CacheStore, VersionMeta
from model.recommender import Recommender
from offline.refresh.checkpoint import Checkpoint
from offline.refresh.job import RefreshConfig, RefreshJob
from tests.faults.refresh_faults import refresh_kills
from tests.faults.world import World, build_world
from tests.tiny_artifact import save_tiny_artifact


def _opted_in(request: pytest.FixtureRequest) -> None:
    marks = request.config.getoption("markexpr") or ""
    if "faults" not in marks or "not faults" in marks:
        pytest.skip("fault runs with real subprocesses (a minute or more): opt in with -m faults")


@pytest.fixture(scope="module")
def recommender(tmp_path_factory: pytest.TempPathFactory) -> Recommender:
    folder = tmp_path_factory.mktemp("art") / "tiny"
    save_tiny_artifact(folder, n_users=20)
    return Recommender(load_artifact(folder), backend="transformers")


def _job(rec: Recommender, client: redis.Redis, keys: KeySchema, **cfg: object) -> RefreshJob:
    config = RefreshConfig(**{"k": 10, "shard_size": 8, "grace_s": 0.0, **cfg})  # type: ignore[arg-type]
    return RefreshJob(rec, CacheStore(client, keys), HistoryStore(client, keys), config)


def test_leftovers_of_killed_runs_do_not_block_and_are_removed(
    recommender: Recommender, redis_client: redis.Redis, keys: KeySchema
) -> None:
    store = CacheStore(redis_client, keys)
    first = _job(recommender, redis_client, keys).run()
    # killed between the two writes of the old create_version: a hash holding only its id
    half = "20200101T000000.000-deadbeef"
    redis_client.hsetnx(keys.meta(half), "version", half)
    # killed mid-run with another K: a building version with a checkpoint no rerun with K=10 will resume
    other = "20200101T000000.001-deadbeef"
    store.create_version(VersionMeta(other, recommender.version, "dh", k=20, created_at=1))
    Checkpoint(redis_client, keys, other).start(recommender.version, 20, 20, 8)
    store.put_raw(other, "0", b"partial")
    meta = store.version_meta(half)
    assert meta is not None and meta.state == "building" and meta.k == 0

    second = _job(recommender, redis_client, keys).run()
    assert second.shards_resumed == 0 and second.previous_version == first.version
    assert set(second.removed_versions) == {first.version, half, other}
    assert store.versions() == [second.version]
    assert store.get_raw(other, "0") is None and not redis_client.exists(keys.checkpoint(other))
    assert all(store.get_raw(second.version, str(u)) is not None for u in range(20))


def test_create_version_writes_every_field_at_once(redis_client: redis.Redis, keys: KeySchema) -> None:
    store = CacheStore(redis_client, keys)
    meta = VersionMeta("20200101T000000.000-abcdef12", "mv", "dh", k=5, created_at=7)
    store.create_version(meta)
    assert store.version_meta(meta.version) == meta
    with pytest.raises(ValueError, match="a new build needs a new version"):
        store.create_version(meta)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    built = build_world(tmp_path_factory.mktemp("faults"), users=120, cached=60, n_items=120)
    yield built
    built.redis.kill()


@pytest.mark.faults
def test_refresh_killed_at_seeded_points_loses_nobody(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    _opted_in(request)
    world = request.getfixturevalue("world")
    report = refresh_kills(world, runs=3, seed=3, k=10, shard_size=10)
    kills = report.extra["kills"]
    users = report.served_before["of"]
    assert report.served_before == {"users": users, "of": users}
    assert all(k["users_served_after"] == users for k in kills), kills
    assert all(k["previous_version_serving"] == "yes" or k["flipped"] == "yes" for k in kills), kills
    assert report.extra["rerun_exit"] == 0
    assert len(report.extra["versions_left"]) == 1 and not report.extra["lock_left"]
    assert report.served_after == {"users": users, "of": users}
    phase = report.phases["during kills and rerun"]
    assert phase.server_errors == 0 and set(phase.sources) == {"cache"}
    assert report.extra["service_sweep_after"] == {"cache": users}
