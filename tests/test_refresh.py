"""The refresh job against a real Redis and a real tiny model: atomic flips, resume after a real kill, incremental
updates, the lock, and bad inputs rejected before any write."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import redis
from typer.testing import CliRunner

from model.artifact import load_artifact
from model.cache.codec import decode, encode
from model.cache.history import HistoryStore
from model.cache.keys import KeySchema
from model.cache.store import CacheStore
from model.errors import UserError
from model.recommender import Recommender
from offline.cli import _register, app
from offline.refresh.job import RefreshConfig, RefreshJob
from offline.refresh.lock import LockBusyError, RefreshLock
from tests.paths import REPO_ROOT
from tests.redis_fixtures import REDIS_URL
from tests.tiny_artifact import save_tiny_artifact


@pytest.fixture(scope="module")
def artifact_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("art") / "tiny"
    save_tiny_artifact(folder)
    return folder


@pytest.fixture(scope="module")
def recommender(artifact_dir: Path) -> Recommender:
    return Recommender(load_artifact(artifact_dir), backend="transformers")


def _job(rec: Recommender, client: redis.Redis, keys: KeySchema, **cfg: object) -> RefreshJob:
    config = RefreshConfig(**{"k": 10, "shard_size": 8, "grace_s": 0.0, **cfg})  # type: ignore[arg-type]
    return RefreshJob(rec, CacheStore(client, keys), HistoryStore(client, keys), config)


def test_full_refresh_writes_every_user_and_flips(
    recommender: Recommender, redis_client: redis.Redis, keys: KeySchema
) -> None:
    result = _job(recommender, redis_client, keys).run()
    store = CacheStore(redis_client, keys)
    assert store.active_version() == result.version and result.users_written == 40
    meta = store.version_meta(result.version)
    assert meta is not None and meta.state == "complete" and meta.model_version == recommender.version
    expected = recommender.recommend([list(s) for s in recommender.artifact.dataset.sequences[:5]], 10)
    for user in range(5):
        blob = store.get_raw(result.version, str(user))
        assert blob is not None
        assert decode(blob).items.tolist() == [s.item for s in expected[user]]


def test_reader_never_sees_a_missing_user_or_mixed_version_and_old_version_goes(
    recommender: Recommender, redis_client: redis.Redis, keys: KeySchema
) -> None:
    first = _job(recommender, redis_client, keys).run()
    store = CacheStore(redis_client, keys)
    seen_versions: set[str] = set()
    misses: list[tuple[str, str]] = []
    stop = threading.Event()

    def poll() -> None:
        reader = redis.Redis.from_url(REDIS_URL)
        while not stop.is_set():
            for user in ("0", "17", "39"):
                version = reader.get(keys.active()).decode()  # type: ignore[union-attr]
                seen_versions.add(version)
                if reader.get(keys.recs(version, user)) is None:
                    misses.append((version, user))

    thread = threading.Thread(target=poll, daemon=True)
    thread.start()
    try:
        second = _job(recommender, redis_client, keys, grace_s=0.3).run()
        time.sleep(0.1)
    finally:
        stop.set()
        thread.join()
    assert misses == []
    assert seen_versions <= {first.version, second.version} and second.version in seen_versions
    assert second.removed_versions == (first.version,)
    assert store.versions() == [second.version]
    assert store.get_raw(first.version, "0") is None


def _cli(artifact: Path, keys: KeySchema, *args: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "GENREC_REDIS_URL": REDIS_URL, "GENREC_CACHE_PREFIX": keys.prefix, "GENREC_PROGRESS": "0"}
    cmd = [sys.executable, "-m", "offline", "refresh", "--artifact", str(artifact), "--k", "10", *args]
    return subprocess.Popen(cmd, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_killed_run_leaves_old_version_serving_and_rerun_resumes(
    artifact_dir: Path, recommender: Recommender, redis_client: redis.Redis, keys: KeySchema
) -> None:
    old = _job(recommender, redis_client, keys).run()
    store = CacheStore(redis_client, keys)
    before = {u: store.get_raw(old.version, str(u)) for u in range(40)}
    proc = _cli(artifact_dir, keys, "--shard-size", "1", "--lock-ttl", "1", "--grace", "0")
    deadline = time.monotonic() + 120
    building: list[str] = []
    while time.monotonic() < deadline and proc.poll() is None:
        building = [v for v in store.versions() if v != old.version]
        if building and len(redis_client.hkeys(keys.checkpoint(building[0]))) >= 4 + 5:  # identity + 5 shards
            break
        time.sleep(0.05)
    assert proc.poll() is None, proc.communicate()[1].decode()[-2000:]
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert store.active_version() == old.version
    assert {u: store.get_raw(old.version, str(u)) for u in range(40)} == before

    rerun = _cli(artifact_dir, keys, "--shard-size", "1", "--wait-lock", "10", "--grace", "0")
    out, err = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, err.decode()[-2000:]
    assert b"resuming refresh" in err and building[0].encode() in out
    assert store.active_version() == building[0]
    assert all(store.get_raw(building[0], str(u)) is not None for u in range(40))
    assert store.versions() == [building[0]]


def test_incremental_touches_only_users_with_events(
    recommender: Recommender, redis_client: redis.Redis, keys: KeySchema
) -> None:
    full = _job(recommender, redis_client, keys).run()
    store = CacheStore(redis_client, keys)
    marker = encode([1, 2, 3], [-1.0, -2.0, -3.0], generated_at=1)
    for user in range(40):
        store.put_raw(full.version, str(user), marker)
    HistoryStore(redis_client, keys).record("5", [7, 8], [int(time.time())] * 2)
    HistoryStore(redis_client, keys).record("12", [9], [int(time.time())])
    result = _job(recommender, redis_client, keys, mode="incremental").run()
    assert result.users_written == 2 and result.version == full.version
    changed = {u for u in range(40) if store.get_raw(full.version, str(u)) != marker}
    assert changed == {5, 12}
    history = [*recommender.artifact.dataset.sequences[5], 7, 8]
    blob = store.get_raw(full.version, "5")
    assert blob is not None
    assert decode(blob).items.tolist() == [s.item for s in recommender.recommend([history], 10)[0]]
    assert _job(recommender, redis_client, keys, mode="incremental").run().users_written == 0


def test_in_place_refresh_needs_an_active_version_and_known_users(
    recommender: Recommender, redis_client: redis.Redis, keys: KeySchema
) -> None:
    with pytest.raises(UserError, match="run a full refresh first"):
        _job(recommender, redis_client, keys, mode="incremental").run()
    _job(recommender, redis_client, keys).run()
    with pytest.raises(UserError, match="unknown user ids"):
        _job(recommender, redis_client, keys, mode="users", users=("3", "nobody")).run()
    assert _job(recommender, redis_client, keys, mode="users", users=("3",)).run().users_written == 1


def test_second_run_is_refused_while_the_lock_is_held(
    recommender: Recommender, redis_client: redis.Redis, keys: KeySchema
) -> None:
    holder = RefreshLock(redis_client, keys.lock(), ttl_s=30)
    holder.acquire()
    with pytest.raises(LockBusyError, match="another refresh holds the lock"):
        _job(recommender, redis_client, keys).run()
    holder.release()
    assert CacheStore(redis_client, keys).versions() == []


def test_bad_inputs_fail_before_any_write(
    tmp_path: Path, artifact_dir: Path, redis_client: redis.Redis, keys: KeySchema, monkeypatch: pytest.MonkeyPatch
) -> None:
    _register()
    runner = CliRunner()
    monkeypatch.setenv("GENREC_CACHE_PREFIX", keys.prefix)
    monkeypatch.setenv("GENREC_REDIS_URL", REDIS_URL)
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "meta.json").write_text("{not json")
    result = runner.invoke(app, ["refresh", "--artifact", str(tmp_path / "broken")])
    assert isinstance(result.exception, UserError) and "not a valid artifact meta" in str(result.exception)
    result = runner.invoke(app, ["refresh", "--artifact", str(tmp_path / "missing")])
    assert isinstance(result.exception, UserError) and "meta.json is missing" in str(result.exception)
    result = runner.invoke(app, ["refresh", "--artifact", str(artifact_dir), "--mode", "sometimes"])
    assert result.exit_code == 2 and "--mode must be full, users or incremental" in result.output
    result = runner.invoke(app, ["refresh", "--artifact", str(artifact_dir), "--k", "0"])
    assert isinstance(result.exception, UserError) and "k must be in 1..1000" in str(result.exception)
    result = runner.invoke(app, ["refresh", "--artifact", str(artifact_dir), "--mode", "users"])
    assert isinstance(result.exception, UserError) and "needs at least one user id" in str(result.exception)
    monkeypatch.setenv("GENREC_REDIS_URL", "redis://127.0.0.1:1/0")
    result = runner.invoke(app, ["refresh", "--artifact", str(artifact_dir)])
    assert isinstance(result.exception, UserError) and "cannot reach Redis" in str(result.exception)
    monkeypatch.setenv("GENREC_REDIS_URL", "http://example")
    result = runner.invoke(app, ["refresh", "--artifact", str(artifact_dir)])
    assert result.exit_code == 2 and "redis_url" in result.output
    assert list(redis_client.scan_iter(match=keys.prefix + ":*")) == []
