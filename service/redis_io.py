"""The service's Redis access: the one-round-trip read of the hot path, write-back, and the active-version poller.

Contract:
- `HotReader.fetch(version, user)` sends the user's cached-list GET and their events LRANGE as ONE pipelined write on
  one connection (both keys carry the user's hash tag, so they share a slot) and reads both replies: one round trip per
  request. It keeps its own stack of idle `redis.asyncio` connections instead of going through
  `ConnectionPool.get_connection`, whose per-acquire bookkeeping and liveness probe cost more than the command here; the
  commands are packed by `model.cache.resp`. A connection that saw any error or cancellation is disconnected, never
  reused. One deadline (`timeout_s`) covers the whole call, connecting included. Redis failures raise
  `redis.RedisError`. On a Redis Cluster the service uses `service.cluster_io.ClusterHotReader` instead, which has
  the same interface and routes each request to the node owning the user's slot (`make_reader` chooses).
- `ActiveVersion` holds the served cache version (and its model version) in memory; `run()` re-reads it every
  `refresh_s` seconds, so requests pay no round trip for it. On a Redis error it keeps the last value.
This module knows nothing about HTTP or the model.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import redis
import redis.asyncio as aioredis
from redis.asyncio.connection import AbstractConnection

from model.cache.client import AsyncClient
from model.cache.keys import KeySchema
from model.cache.resp import command, template
from model.logs import get_logger
from model.redis_url import is_cluster_url
from service.cluster_io import ClusterHotReader

log = get_logger(__name__)
_PING = command(b"PING")
_GET = template(b"GET", None)
_LRANGE_ALL = template(b"LRANGE", None, b"0", b"-1")


class HotReader:
    def __init__(self, url: str, keys: KeySchema, timeout_s: float, max_idle: int = 256) -> None:
        # no per-read socket timeout: one deadline covers the whole round trip (one timer instead of one per reply)
        self._pool = aioredis.ConnectionPool.from_url(url, socket_timeout=None, socket_connect_timeout=timeout_s)
        self._timeout_s = timeout_s
        self._keys = keys
        self._idle: list[AbstractConnection] = []
        self._max_idle = max_idle

    async def fetch(self, version: str | None, user: str) -> tuple[bytes | None, list[bytes]]:
        """(the user's cached list in `version` or None, their raw events newest first)."""
        history = _LRANGE_ALL(self._keys.history(user).encode())
        if version is None:
            (events,) = await self._roundtrip(history, 1)
            return None, events
        blob, events = await self._roundtrip(_GET(self._keys.recs(version, user).encode()) + history, 2)
        return blob, events

    async def ping(self) -> bool:
        (reply,) = await self._roundtrip(_PING, 1)
        return bool(reply)

    async def coverage(self) -> str | None:
        """Why some users cannot be served though Redis answers: never, on a single Redis (see ClusterHotReader)."""
        return None

    async def _roundtrip(self, payload: bytes, replies: int) -> list[Any]:
        conn = self._idle.pop() if self._idle else self._pool.make_connection()
        try:
            # the deadline covers connecting too: redis-py's connect sends its own commands (CLIENT SETINFO) and
            # reads their replies with no timeout here, so a Redis that accepts but does not answer (CLIENT PAUSE,
            # a stalled server) would otherwise hold the request until it answers again
            async with asyncio.timeout(self._timeout_s):
                if not conn.is_connected:
                    await conn.connect()
                await conn.send_packed_command(payload, check_health=False)
                out = [await conn.read_response() for _ in range(replies)]
        except TimeoutError:
            with contextlib.suppress(Exception):
                await conn.disconnect()
            raise redis.TimeoutError(f"redis round trip took over {self._timeout_s:.3f}s") from None
        except BaseException:
            with contextlib.suppress(Exception):
                await conn.disconnect()
            raise
        if len(self._idle) < self._max_idle:
            self._idle.append(conn)
        else:
            await conn.disconnect()
        return out

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for conn in idle:
            with contextlib.suppress(Exception):
                await conn.disconnect()
        await self._pool.disconnect()


def make_reader(url: str, keys: KeySchema, timeout_s: float) -> HotReader | ClusterHotReader:
    """The hot-path reader for the cache's URL: by slot on a `redis+cluster://` URL, else one server's."""
    return ClusterHotReader(url, keys, timeout_s) if is_cluster_url(url) else HotReader(url, keys, timeout_s)


@dataclass(slots=True)
class VersionState:
    version: str | None = None  # the cache version named by rec:active
    model_version: str | None = None  # that version's model_version (from its metadata), if any


class ActiveVersion:
    def __init__(
        self, client: AsyncClient, keys: KeySchema, refresh_s: float, on_error: Callable[[], None] | None = None
    ) -> None:
        self.client = client
        self.on_error = on_error
        self.keys = keys
        self.refresh_s = refresh_s
        self.state = VersionState()
        self.errors = 0

    async def refresh(self) -> VersionState:
        """Read rec:active (and the version's model_version when it changed); raises redis.RedisError."""
        raw = await self.client.get(self.keys.active())
        version = raw.decode() if isinstance(raw, bytes) else raw
        if version != self.state.version:
            model_version = None
            if version is not None:
                mv = await self.client.hget(self.keys.meta(version), "model_version")
                model_version = mv.decode() if isinstance(mv, bytes) else mv
            self.state = VersionState(version, model_version)
            log.info("active cache version", version=version, model_version=model_version)
        return self.state

    async def run(self, stop: asyncio.Event) -> None:
        """Re-read the version every `refresh_s` until `stop` is set. Stopped by an event, not by cancellation:
        redis-py can absorb a CancelledError delivered inside a command, which would leave the loop running."""
        while not stop.is_set():
            try:
                await self.refresh()
            except (redis.RedisError, OSError) as exc:
                self.errors += 1
                if self.on_error is not None:
                    self.on_error()
                log.warning("active version read failed", error=str(exc))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.refresh_s)
