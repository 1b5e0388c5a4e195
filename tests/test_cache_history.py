"""Event history and the dirty-user handoff against a real Redis."""

import pytest
import redis

from model.cache.history import Event, HistoryStore, full_history
from model.cache.keys import KeySchema


def test_record_and_read_oldest_first_capped(redis_client: redis.Redis, keys: KeySchema) -> None:
    store = HistoryStore(redis_client, keys, max_events=3)
    store.record("7", [10, 11], [100, 101])
    store.record("7", [12, 13], [102, 103])
    assert store.events("7") == [Event(11, 101), Event(12, 102), Event(13, 103)]
    assert store.events_many(["7", "8"]) == [store.events("7"), []]
    assert full_history([1, 2], store.events("7")) == [1, 2, 11, 12, 13]


def test_dirty_handoff_keeps_events_that_arrive_during_a_refresh(redis_client: redis.Redis, keys: KeySchema) -> None:
    store = HistoryStore(redis_client, keys)
    store.record("1", [5], [1])
    store.record("2", [6], [2])
    assert store.take_dirty() == ["1", "2"]
    store.record("3", [7], [3])  # arrives while the refresh runs
    store.finish_dirty()
    assert store.take_dirty() == ["3"]


def test_a_dead_refresh_leaves_its_users_for_the_next_one(redis_client: redis.Redis, keys: KeySchema) -> None:
    store = HistoryStore(redis_client, keys)
    store.record("1", [5], [1])
    assert store.take_dirty() == ["1"]  # ... and the refresh dies without finish_dirty()
    store.record("2", [6], [2])
    assert store.take_dirty() == ["1", "2"]
    store.finish_dirty()
    assert store.take_dirty() == [] and store.dirty_count() == 0


def test_empty_record_is_a_no_op_and_mismatch_is_refused(redis_client: redis.Redis, keys: KeySchema) -> None:
    store = HistoryStore(redis_client, keys)
    store.record("1", [], [])
    assert store.dirty_count() == 0
    with pytest.raises(ValueError, match="2 items but 1 timestamps"):
        store.record("1", [1, 2], [1])
