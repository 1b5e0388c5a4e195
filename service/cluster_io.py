"""The hot path's one-round-trip read against a Redis Cluster: the same `fetch` as `HotReader`, routed by slot.

Contract: `ClusterHotReader(url, keys, timeout_s)` has `HotReader`'s interface (`fetch`, `ping`, `coverage`,
`close`). `fetch(version, user)` packs the user's cached-list GET and events LRANGE (both keys carry the user's hash
tag `{u:<user>}`, so one slot: `model.cache.keys`) and sends them as ONE write to the master that owns that slot, then
reads both replies: one round trip per request, as on a single Redis. The slot map (CLUSTER SLOTS) is read from any
reachable node on first use and again after a MOVED reply (the new owner is used at once), after a connection error to
a node (at most once per `_REMAP_EVERY_S`), or when a slot has no owner. While a slot migrates, the commands answered
ASK (their key has moved already) are sent once more, each after ASKING, to the node it names: a second round trip
only then. At most `_MAX_REDIRECTS` MOVED redirections per request; a node that does not answer, a slot no master
serves (CLUSTERDOWN) or too many redirections raise `redis.RedisError` (the caller falls back). One deadline
(`timeout_s`) covers each round trip, connecting included; a connection that saw an error is dropped. `coverage()`
returns None when every slot is served, else a sentence saying how many are not (CLUSTER INFO of a reachable node).
This module knows nothing about HTTP or the model, nor about any key other than the two it reads.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import redis
from redis.asyncio.connection import Connection
from redis.crc import REDIS_CLUSTER_HASH_SLOTS, key_slot

from model.cache.keys import KeySchema
from model.cache.resp import command, template
from model.logs import get_logger
from model.redis_url import parse_cluster_url

log = get_logger(__name__)
_GET = template(b"GET", None)
_LRANGE_ALL = template(b"LRANGE", None, b"0", b"-1")
_ASKING = command(b"ASKING")
_SLOTS = command(b"CLUSTER", b"SLOTS")
_INFO = command(b"CLUSTER", b"INFO")
_PING = command(b"PING")
_MAX_REDIRECTS = 3
_REMAP_EVERY_S = 1.0

Address = tuple[str, int]


class ClusterHotReader:
    def __init__(self, url: str, keys: KeySchema, timeout_s: float, max_idle: int = 128) -> None:
        parsed = parse_cluster_url(url)
        self._seeds: list[Address] = list(parsed.nodes)
        self._username, self._password = parsed.username, parsed.password
        self._keys = keys
        self._timeout_s = timeout_s
        self._max_idle = max_idle
        self._slots: list[Address | None] = [None] * REDIS_CLUSTER_HASH_SLOTS
        self._mapped = False
        self._last_map = 0.0
        self._map_lock = asyncio.Lock()
        self._idle: dict[Address, list[Connection]] = {}

    # the hot path --------------------------------------------------------------------------------------------
    async def fetch(self, version: str | None, user: str) -> tuple[bytes | None, list[bytes]]:
        """(the user's cached list in `version` or None, their raw events newest first)."""
        history_key = self._keys.history(user).encode()
        slot = key_slot(history_key)
        history = _LRANGE_ALL(history_key)
        if version is None:
            (events,) = await self._routed(slot, [history])
            return None, events
        blob, events = await self._routed(slot, [_GET(self._keys.recs(version, user).encode()), history])
        return blob, events

    async def _routed(self, slot: int, commands: list[bytes]) -> list[Any]:
        address = await self._owner(slot)
        for _ in range(_MAX_REDIRECTS + 1):
            out = await self._roundtrip(address, b"".join(commands), len(commands))
            moved = next((r for r in out if isinstance(r, redis.exceptions.MovedError)), None)
            if moved is not None:  # the slot moved for good: use the new owner now, re-read the whole map soon
                address = (moved.host, int(moved.port))
                self._slots[slot] = address
                self._mapped = False
                continue
            asked = [i for i, r in enumerate(out) if isinstance(r, redis.exceptions.AskError)]
            if asked:  # mid-migration: the keys already moved live on the importing node; ASKING covers one command
                target = (out[asked[0]].host, int(out[asked[0]].port))
                again = await self._roundtrip(target, b"".join(_ASKING + commands[i] for i in asked), 2 * len(asked))
                for i, reply in zip(asked, again[1::2], strict=True):
                    out[i] = reply
            error = next((r for r in out if isinstance(r, redis.RedisError)), None)
            if error is not None:
                raise error
            return out
        raise redis.exceptions.ClusterError(f"slot {slot}: more than {_MAX_REDIRECTS} MOVED redirections")

    async def _owner(self, slot: int) -> Address:
        if not self._mapped or self._slots[slot] is None:
            await self._remap()
        address = self._slots[slot]
        if address is None:
            raise redis.exceptions.ClusterDownError(f"hash slot {slot} is not served by any master")
        return address

    # the slot map --------------------------------------------------------------------------------------------
    async def _remap(self) -> None:
        async with self._map_lock:
            if self._mapped:
                return
            if time.monotonic() - self._last_map < _REMAP_EVERY_S and any(self._slots):
                return  # read very recently: keep the map we have rather than hammer the nodes
            self._last_map = time.monotonic()
            ranges = await self._ask_any(_SLOTS)
            slots: list[Address | None] = [None] * REDIS_CLUSTER_HASH_SLOTS
            for entry in ranges:
                start, end, master = int(entry[0]), int(entry[1]), entry[2]
                host = master[0].decode() if isinstance(master[0], bytes) else str(master[0])
                address = (host or self._seeds[0][0], int(master[1]))
                for s in range(start, end + 1):
                    slots[s] = address
            self._slots = slots
            self._mapped = True
            known = {a for a in slots if a is not None}
            self._seeds = list(dict.fromkeys([*self._seeds, *sorted(known)]))

    async def _ask_any(self, payload: bytes) -> Any:
        """One command's reply from the first node (seeds, then every node seen) that answers."""
        last: BaseException | None = None
        for address in list(self._seeds):
            try:
                (reply,) = await self._roundtrip(address, payload, 1)
            except (redis.RedisError, OSError) as exc:
                last = exc
                continue
            if isinstance(reply, redis.RedisError):
                last = reply
                continue
            return reply
        raise redis.ConnectionError(f"no Redis Cluster node answered ({len(self._seeds)} tried): {last}")

    # health --------------------------------------------------------------------------------------------------
    async def ping(self) -> bool:
        reply = await self._ask_any(_PING)
        return bool(reply)

    async def coverage(self) -> str | None:
        raw = await self._ask_any(_INFO)
        text = raw.decode() if isinstance(raw, bytes) else str(raw)
        info = dict(line.split(":", 1) for line in text.split("\r\n") if ":" in line)
        assigned = int(info.get("cluster_slots_assigned", 0))
        failing = int(info.get("cluster_slots_fail", 0))
        state = info.get("cluster_state", "unknown")
        missing = REDIS_CLUSTER_HASH_SLOTS - assigned + failing
        if state == "ok" and missing == 0:
            return None
        return (
            f"redis cluster: {missing} of {REDIS_CLUSTER_HASH_SLOTS} hash slots not covered "
            f"({REDIS_CLUSTER_HASH_SLOTS - assigned} unassigned, {failing} on failed nodes; cluster_state:{state})"
        )

    # connections ---------------------------------------------------------------------------------------------
    async def _roundtrip(self, address: Address, payload: bytes, replies: int) -> list[Any]:
        """Send `payload` to one node and read `replies` replies; an error reply comes back as its exception
        (MOVED and ASK among them), a dead or slow node raises and marks the map for re-reading."""
        idle = self._idle.setdefault(address, [])
        conn = (
            idle.pop()
            if idle
            else Connection(
                host=address[0],
                port=address[1],
                socket_timeout=None,
                socket_connect_timeout=self._timeout_s,
                username=self._username,
                password=self._password,
            )
        )
        out: list[Any] = []
        try:
            async with asyncio.timeout(self._timeout_s):  # connecting included (see service.redis_io)
                if not conn.is_connected:
                    await conn.connect()
                await conn.send_packed_command(payload, check_health=False)
                for _ in range(replies):
                    try:
                        out.append(await conn.read_response())
                    except redis.ResponseError as exc:  # an error reply: the connection is still in step
                        out.append(exc)
        except TimeoutError:
            await self._drop(conn)
            raise redis.TimeoutError(f"redis node {address[0]}:{address[1]} took over {self._timeout_s:.3f}s") from None
        except (redis.ConnectionError, OSError):
            await self._drop(conn)
            self._mapped = False  # the node may have failed over or left: re-read the map (rate limited)
            raise
        except BaseException:
            await self._drop(conn)
            raise
        if len(idle) < self._max_idle:
            idle.append(conn)
        else:
            await conn.disconnect()
        return out

    @staticmethod
    async def _drop(conn: Connection) -> None:
        with contextlib.suppress(Exception):
            await conn.disconnect()

    async def close(self) -> None:
        idle, self._idle = self._idle, {}
        for conns in idle.values():
            for conn in conns:
                await self._drop(conn)
