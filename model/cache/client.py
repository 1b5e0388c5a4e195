"""The cache's Redis clients, built from its URL: a single Redis or a Redis Cluster, sync or asyncio.

Contract: `sync_client(url, **options)` / `async_client(url, **options)` return redis-py's `Redis` for
`redis://`, `rediss://` and `unix://` URLs and its `RedisCluster` for `redis+cluster://` URLs (seed nodes and
credentials from `model.redis_url.parse_cluster_url`); `options` are redis-py connection options (timeouts, retry)
and mean the same to both. A cluster client is built with `require_full_coverage=False`, so users whose slots are
served keep being served while another slot is down (callers see that slot's errors as `redis.RedisError`).
The sync cluster client connects while it is built (it reads the slot map): an unreachable cluster raises one of
`CONNECT_ERRORS` here; the asyncio one connects on its first command. `Client` / `AsyncClient` are the types every
caller of the cache accepts. Nothing else in the product chooses between the two kinds. It knows nothing about keys.
"""

from __future__ import annotations

from typing import Any

import redis
import redis.asyncio as aioredis
from redis.asyncio.cluster import ClusterNode as AsyncClusterNode
from redis.asyncio.cluster import RedisCluster as AsyncRedisCluster
from redis.cluster import ClusterNode, RedisCluster
from redis.exceptions import RedisClusterException

from model.redis_url import check_redis_url, is_cluster_url, parse_cluster_url

Client = redis.Redis | RedisCluster
# what building or first using a client raises when its Redis (or no node of its cluster) answers
CONNECT_ERRORS = (redis.RedisError, RedisClusterException, OSError)
AsyncClient = aioredis.Redis | AsyncRedisCluster


def sync_client(url: str, **options: Any) -> Client:
    check_redis_url(url)
    if not is_cluster_url(url):
        return redis.Redis.from_url(url, **options)
    nodes, common = _cluster_options(url)
    return RedisCluster(startup_nodes=[ClusterNode(h, p) for h, p in nodes], **common, **options)


def async_client(url: str, **options: Any) -> AsyncClient:
    check_redis_url(url)
    if not is_cluster_url(url):
        return aioredis.Redis.from_url(url, **options)
    nodes, common = _cluster_options(url)
    return AsyncRedisCluster(startup_nodes=[AsyncClusterNode(h, p) for h, p in nodes], **common, **options)


def _cluster_options(url: str) -> tuple[list[tuple[str, int]], dict[str, Any]]:
    """The seed nodes and the options both cluster clients are built with."""
    parsed = parse_cluster_url(url)
    return list(parsed.nodes), {
        "username": parsed.username,
        "password": parsed.password,
        "require_full_coverage": False,
    }
