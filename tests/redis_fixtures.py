"""A real Redis for tests: each test gets its own random key prefix and everything under it is removed afterwards.

Uses GENREC_REDIS_URL (default redis://127.0.0.1:6379/0). When nothing answers there, importing this module starts
a private `redis-server` (Debian's package) on a free port in a temporary folder, points GENREC_REDIS_URL at it (so
the subprocesses tests start use it too) and stops it when the test process exits: `make test` needs no Redis of
its own. Tests never depend on what else is in that Redis and never touch keys outside their prefix.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from model.cache.keys import KeySchema
from tests.faults.procs import OwnRedis


def _answers(url: str) -> bool:
    client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
    try:
        return bool(client.ping())
    except (redis.RedisError, OSError):
        return False
    finally:
        client.close()


def ensure_redis() -> str:
    """The URL of a Redis that answers: GENREC_REDIS_URL's, else a private server started for this process."""
    url = os.environ.get("GENREC_REDIS_URL", "redis://127.0.0.1:6379/0")
    if _answers(url):
        return url
    if shutil.which("redis-server") is None:
        raise RuntimeError(
            f"no Redis answers at {url} and redis-server is not installed (apt-get install redis-server)"
        )
    folder = Path(tempfile.mkdtemp(prefix="genrec-test-redis-"))
    server = OwnRedis(folder, persist=False)
    server.start()

    def stop() -> None:
        server.kill()
        shutil.rmtree(folder, ignore_errors=True)

    atexit.register(stop)
    os.environ["GENREC_REDIS_URL"] = server.url
    return server.url


REDIS_URL = ensure_redis()


@pytest.fixture
def redis_client() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(REDIS_URL)
    yield client
    client.close()


@pytest.fixture
def keys(redis_client: redis.Redis) -> Iterator[KeySchema]:
    schema = KeySchema(prefix="t" + uuid.uuid4().hex[:12])
    yield schema
    stale = list(redis_client.scan_iter(match=schema.prefix + ":*", count=1000))
    if stale:
        redis_client.unlink(*stale)
