"""Versioned cache store against a real Redis: write, flip, read, remove; the pointer only names complete versions."""

import pytest
import redis

from model.cache.codec import decode, encode
from model.cache.keys import KeySchema
from model.cache.store import CacheStore, VersionMeta, new_version_id
from tests.redis_fixtures import REDIS_URL


def _meta(version: str) -> VersionMeta:
    return VersionMeta(version=version, model_version="m" * 16, dataset_hash="d" * 16, k=3, created_at=1_700_000_000)


def _fill(store: CacheStore, version: str, users: range, batch_size: int = 7) -> int:
    store.create_version(_meta(version))
    with store.writer(version, batch_size=batch_size) as writer:
        for u in users:
            writer.add(str(u), encode([u, u + 1, u + 2], [-0.5, -1.0, -2.0], 1_700_000_000))
    return writer.written


def test_write_activate_read(redis_client: redis.Redis, keys: KeySchema) -> None:
    store = CacheStore(redis_client, keys)
    assert store.active_version() is None
    assert _fill(store, "v1", range(50)) == 50
    assert store.active_version() is None  # written but not yet served
    assert store.activate("v1", users=50) is None
    assert store.active_version() == "v1"
    meta = store.version_meta("v1")
    assert meta is not None and meta.state == "complete" and meta.users == 50
    blob = store.get_raw("v1", "7")
    assert blob is not None and decode(blob).items.tolist() == [7, 8, 9]
    assert store.get_raw("v1", "999") is None


def test_flip_then_remove_old_version(redis_client: redis.Redis, keys: KeySchema) -> None:
    store = CacheStore(redis_client, keys)
    _fill(store, "v1", range(30))
    store.activate("v1", 30)
    _fill(store, "v2", range(30))
    assert store.activate("v2", 30) == "v1"
    assert store.remove_version("v1", batch=4) == 30
    assert store.versions() == ["v2"]
    assert store.get_raw("v1", "3") is None and store.get_raw("v2", "3") is not None


def test_active_version_cannot_be_removed_or_rebuilt(redis_client: redis.Redis, keys: KeySchema) -> None:
    store = CacheStore(redis_client, keys)
    _fill(store, "v1", range(3))
    store.activate("v1", 3)
    with pytest.raises(ValueError, match="'v1' is active"):
        store.remove_version("v1")
    with pytest.raises(ValueError, match="'v1' is active"):
        store.create_version(_meta("v1"))
    _fill(store, "v2", range(3))
    with pytest.raises(ValueError, match="'v2' is in use"):
        store.create_version(_meta("v2"))


def test_writer_unflushed_on_error_writes_nothing_more(redis_client: redis.Redis, keys: KeySchema) -> None:
    store = CacheStore(redis_client, keys)
    store.create_version(_meta("v1"))
    with pytest.raises(RuntimeError), store.writer("v1", batch_size=10) as writer:
        for u in range(15):
            writer.add(str(u), b"x")
        raise RuntimeError("generator died")
    assert writer.written == 10  # the full batch reached Redis; the partial one was not flushed


def test_activate_unknown_version_refused(redis_client: redis.Redis, keys: KeySchema) -> None:
    store = CacheStore(redis_client, keys)
    with pytest.raises(ValueError, match="'nope' has no metadata"):
        store.activate("nope", 1)
    assert store.active_version() is None


def test_version_ids_sort_by_time() -> None:
    a = new_version_id("abcdef0123", now=1_700_000_000.0)
    b = new_version_id("abcdef0123", now=1_700_000_000.002)
    c = new_version_id("0123456789", now=1_700_000_001)
    assert a < b < c and a.endswith("-abcdef01") and a != b


def test_error_reply_mid_batch_raises_and_connection_is_not_reused(redis_client: redis.Redis, keys: KeySchema) -> None:
    """A temporary ACL user may write users 0-4 only: the batch's NOPERM reply must raise, and the next batch
    must run on a clean connection (no unread replies left over)."""
    user, password = keys.prefix + "-acl", "pw-" + keys.prefix
    allowed = keys.recs("v1", "0").replace("{u:0}", "{u:[0-4]}")
    redis_client.execute_command("ACL", "SETUSER", user, "on", ">" + password, "~" + allowed, "+@all")
    try:
        limited = redis.Redis.from_url(REDIS_URL, username=user, password=password)
        writer = CacheStore(limited, keys).writer("v1", batch_size=100)
        writer.add_many((str(u), b"ok") for u in range(10))
        with pytest.raises(redis.exceptions.NoPermissionError):
            writer.flush()
        writer2 = CacheStore(limited, keys).writer("v1", batch_size=100)
        writer2.add_many((str(u), b"again") for u in range(5))
        writer2.flush()
        assert [redis_client.get(keys.recs("v1", str(u))) for u in range(5)] == [b"again"] * 5
        limited.close()
    finally:
        redis_client.execute_command("ACL", "DELUSER", user)
