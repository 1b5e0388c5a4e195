"""The `redis+cluster://` URL (model/redis_url.py) and the client factory (model/cache/client.py): which URLs are
accepted, what a bad one's message names, and which client each kind of URL builds. No cluster is needed here: the
tests that run one are in tests/cluster/ (marker `cluster`)."""

from __future__ import annotations

import asyncio
import re

import pytest
import redis
import redis.asyncio as aioredis
from pydantic import ValidationError

from model.cache.client import CONNECT_ERRORS, async_client, sync_client
from model.cache.keys import KeySchema
from model.redis_url import ClusterUrl, check_redis_url, is_cluster_url, mask_url, parse_cluster_url
from model.settings import Settings
from tests.faults.procs import free_port
from tests.service_fixtures import running, save_toy_artifact, settings_for


def test_cluster_url_names_its_seed_nodes_and_credentials() -> None:
    assert parse_cluster_url("redis+cluster://10.0.0.1:7000,10.0.0.2:7001") == ClusterUrl(
        (("10.0.0.1", 7000), ("10.0.0.2", 7001))
    )
    parsed = parse_cluster_url("redis+cluster://app:s%40cret@node-a:7000/")
    assert parsed == ClusterUrl((("node-a", 7000),), "app", "s@cret")
    assert is_cluster_url("redis+cluster://a:1") and not is_cluster_url("redis://a:1/0")


@pytest.mark.parametrize(
    ("url", "names"),
    [
        ("redis+cluster://", "node ''"),
        ("redis+cluster://host", "node 'host'"),
        ("redis+cluster://a:7000,b:notaport", "node 'b:notaport'"),
        ("redis+cluster://a:70000", "node 'a:70000'"),
        ("redis+cluster://a:7000/2", "no database number"),
        ("redis+cluster://a:7000?ssl=true", "no query"),
    ],
)
def test_a_bad_cluster_url_is_refused_naming_the_part(url: str, names: str) -> None:
    with pytest.raises(ValueError, match=names):
        check_redis_url(url)
    with pytest.raises(ValidationError, match=names):
        Settings(redis_url=url)


def test_a_cluster_url_password_never_shows() -> None:
    assert mask_url("redis+cluster://app:hunter2@a:7000,b:7001") == "redis+cluster://app:***@a:7000,b:7001"
    with pytest.raises(ValueError) as err:
        check_redis_url("redis+cluster://app:hunter2@a:7000/5")
    assert "hunter2" not in str(err.value)


def test_the_factory_builds_a_single_client_for_a_single_url() -> None:
    client = sync_client("redis://127.0.0.1:6399/0")
    assert isinstance(client, redis.Redis)
    client.close()
    assert isinstance(async_client("redis://127.0.0.1:6399/0"), aioredis.Redis)


def test_an_unreachable_cluster_fails_when_the_client_is_built() -> None:
    port = free_port()  # nothing listens there
    with pytest.raises(CONNECT_ERRORS):
        sync_client(f"redis+cluster://127.0.0.1:{port}", socket_connect_timeout=1)


def test_the_service_refuses_to_start_on_a_cluster_none_of_whose_nodes_answers(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    url = f"redis+cluster://127.0.0.1:{free_port()}"
    settings = settings_for(save_toy_artifact(tmp_path_factory), KeySchema("unused"), redis_url=url, live_enabled=False)

    async def start() -> None:
        async with running(settings):
            pass

    with pytest.raises(RuntimeError, match=re.escape(f"cannot reach the Redis Cluster at {url}")):
        asyncio.run(start())
