"""Readiness follows Redis: a redis-server of our own (a free port, no persistence) is killed and restarted under a
running app; /readyz flips 200 -> 503 (naming Redis) -> 200, and recommendations degrade to popularity instead of
failing while Redis is away."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from model.cache.keys import KeySchema
from tests.faults.procs import free_port
from tests.service_fixtures import fill_cache, metric_value, running, save_toy_artifact, settings_for

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def artifact_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_toy_artifact(tmp_path_factory)


class OwnRedis:
    def __init__(self, port: int) -> None:
        self.port = port
        self.url = f"redis://127.0.0.1:{port}/0"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> redis.Redis:
        exe = shutil.which("redis-server")
        if exe is None:  # pragma: no cover - CI installs it
            pytest.fail("redis-server is not installed")
        self.proc = subprocess.Popen(
            [exe, "--port", str(self.port), "--save", "", "--appendonly", "no", "--bind", "127.0.0.1"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis.from_url(self.url)
        for _ in range(200):
            try:
                client.ping()
                return client
            except redis.ConnectionError:
                time.sleep(0.05)
        pytest.fail(f"redis-server on port {self.port} did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None


@pytest.fixture
def own_redis() -> Iterator[OwnRedis]:
    server = OwnRedis(free_port())
    yield server
    server.stop()


async def test_readiness_flips_with_redis(artifact_dir: Path, own_redis: OwnRedis) -> None:
    client = own_redis.start()
    keys = KeySchema(prefix="ready")
    settings = settings_for(artifact_dir, keys, redis_url=own_redis.url, redis_timeout_ms=300)
    async with running(settings) as (_, http):
        r = await http.get("/readyz")
        assert r.status_code == 503 and any("no active cache version" in x for x in r.json()["reasons"])
        fill_cache(client, keys, model_version="mv")
        r = await http.get("/readyz")
        assert r.status_code == 200, r.text
        assert r.json()["ready"] is True and r.json()["active_version"] == "v1"
        assert (await http.get("/users/1/recommendations")).json()["source"] == "cache"

        own_redis.stop()
        r = await http.get("/readyz")
        assert r.status_code == 503 and any("redis unreachable" in x for x in r.json()["reasons"])
        r = await http.get("/users/1/recommendations", params={"k": 4})
        assert r.status_code == 200 and r.json()["source"] == "popular"  # degraded, not a 500
        r = await http.post("/users/1/events", json={"item": "5001"})
        assert r.status_code == 503 and r.json()["detail"][0]["field"] == "redis"
        assert (await http.get("/healthz")).status_code == 200
        text = (await http.get("/metrics")).text
        assert metric_value(text, "genrec_redis_errors_total", op="fetch") >= 1.0

        client = own_redis.start()  # a fresh, empty server on the same port
        r = await http.get("/readyz")
        assert r.status_code == 503 and any("no active cache version" in x for x in r.json()["reasons"])
        fill_cache(client, keys, model_version="mv")
        r = await http.get("/readyz")
        assert r.status_code == 200, r.text
        assert (await http.get("/users/1/recommendations")).json()["source"] == "cache"
    client.close()
