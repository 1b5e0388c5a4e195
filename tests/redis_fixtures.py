"""A real Redis for tests: each test gets its own random key prefix and everything under it is removed afterwards.

Uses GENREC_REDIS_URL (default redis://127.0.0.1:6379/0); `.ci/run` starts a server when none answers. Tests never
depend on what else is in that Redis and never touch keys outside their prefix.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
import redis

from model.cache.keys import KeySchema

REDIS_URL = os.environ.get("GENREC_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture
def redis_client() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.ConnectionError as exc:  # pragma: no cover - CI always has one
        pytest.fail(f"no Redis at {REDIS_URL}: {exc}")
    yield client
    client.close()


@pytest.fixture
def keys(redis_client: redis.Redis) -> Iterator[KeySchema]:
    schema = KeySchema(prefix="t" + uuid.uuid4().hex[:12])
    yield schema
    stale = list(redis_client.scan_iter(match=schema.prefix + ":*", count=1000))
    if stale:
        redis_client.unlink(*stale)
