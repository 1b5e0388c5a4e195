"""Versioned per-user recommendation lists in Redis: write a version, flip the pointer, read, remove.

Contract:
- A version is written user by user (`writer()`, pipelined, buffered) while `rec:active` still names the old one;
  `activate()` marks the new version complete and only then moves the pointer, so a reader that resolves the
  pointer first always finds a complete version. `remove_version()` deletes an old version with SCAN + UNLINK in
  batches (never KEYS), after the caller has waited long enough for readers holding the old pointer.
- Every command touches one key, or keys of one user, so the same code runs against Redis Cluster.
- Values are opaque bytes here (`model.cache.codec` encodes them); this module knows nothing about models.
Redis errors propagate as `redis.RedisError`; callers decide whether to retry, fall back or fail.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from types import TracebackType

import redis

from model.cache.client import Client
from model.cache.keys import KeySchema, check_version
from model.cache.resp import template


@dataclass(frozen=True, slots=True)
class VersionMeta:
    """What a cache version holds; stored as a Redis hash at `keys.meta(version)`."""

    version: str
    model_version: str  # the model artifact's content hash
    dataset_hash: str  # the processed dataset's content hash
    k: int  # list length written per user
    created_at: int  # unix seconds
    users: int = 0  # users written (set when the version is completed)
    state: str = "building"  # building -> complete

    @classmethod
    def from_redis(cls, raw: dict[bytes | str, bytes | str]) -> VersionMeta:
        """A hash missing fields (written before `create_version` became one atomic step, by a run killed between
        its two writes) reads as a version still building with unknown identity: never resumed, removed by the
        next full refresh."""
        text = {_text(k): _text(v) for k, v in raw.items()}
        return cls(
            version=text.get("version", ""),
            model_version=text.get("model_version", ""),
            dataset_hash=text.get("dataset_hash", ""),
            k=int(text.get("k", 0)),
            created_at=int(text.get("created_at", 0)),
            users=int(text.get("users", 0)),
            state=text.get("state", "building"),
        )


def _text(value: bytes | str) -> str:
    """redis-py returns bytes (decode_responses=False, as here) but is typed for both."""
    return value.decode() if isinstance(value, bytes) else value


_SET = template(b"SET", None, None)
# one key: runs unchanged on Redis Cluster
_CREATE = "if redis.call('exists', KEYS[1]) == 1 then return 0 end redis.call('hset', KEYS[1], unpack(ARGV)) return 1"


class BufferedWriter:
    """Collects (user, value) pairs and writes them in pipelined batches of `batch_size` SETs.

    Against a single Redis the batch goes out as one buffer of hand-packed RESP on one pooled connection and the
    replies are read back one by one (any error reply raises, and the connection is dropped rather than reused);
    this writes ~2.3x faster than redis-py's pipeline, whose per-command packing dominates. A `RedisCluster`
    client takes redis-py's cluster pipeline, which routes each SET to its slot's node.
    """

    def __init__(self, client: Client, keys: KeySchema, version: str, batch_size: int = 2000) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self._client = client
        self._keys = keys
        self._version = check_version(version)
        self._batch_size = batch_size
        self._buffer: list[tuple[str, bytes]] = []
        self.written = 0

    def add(self, user: str, value: bytes) -> None:
        self.add_many([(user, value)])

    def add_many(self, pairs: Iterable[tuple[str, bytes]]) -> None:
        items = list(pairs)
        keys = self._keys.recs_many(self._version, [user for user, _ in items])
        self._buffer.extend(zip(keys, (value for _, value in items), strict=True))
        if len(self._buffer) >= self._batch_size:
            self.flush()

    def flush(self) -> None:
        """Write everything buffered, `batch_size` SETs per round trip."""
        for lo in range(0, len(self._buffer), self._batch_size):
            chunk = self._buffer[lo : lo + self._batch_size]
            if isinstance(self._client, redis.Redis):
                self._send_packed(self._client, chunk)
            else:
                pipe = self._client.pipeline(transaction=False)
                for key, value in chunk:
                    pipe.execute_command("SET", key, value)
                pipe.execute()
            self.written += len(chunk)
        self._buffer.clear()

    @staticmethod
    def _send_packed(client: redis.Redis, chunk: list[tuple[str, bytes]]) -> None:
        payload = b"".join(_SET(key.encode(), value) for key, value in chunk)
        pool = client.connection_pool
        conn = pool.get_connection()
        try:
            conn.send_packed_command([payload])
            for _ in chunk:
                conn.read_response()
        except BaseException:
            conn.disconnect()  # replies may be left unread: never hand this connection to anyone else
            raise
        finally:
            pool.release(conn)

    def __enter__(self) -> BufferedWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.flush()


class CacheStore:
    def __init__(self, client: Client, keys: KeySchema | None = None) -> None:
        self.client = client
        self.keys = keys or KeySchema()

    # versions ------------------------------------------------------------------------------------------------
    def active_version(self) -> str | None:
        raw = self.client.get(self.keys.active())
        return _text(raw) if raw is not None else None

    def version_meta(self, version: str) -> VersionMeta | None:
        raw = self.client.hgetall(self.keys.meta(version))
        return VersionMeta.from_redis(raw) if raw else None

    def create_version(self, meta: VersionMeta) -> None:
        """Register a new version being built, in one atomic step (a process killed here leaves either no metadata
        or all of it); refuses a version id that exists (active, complete or building)."""
        fields = [part for k, v in asdict(meta).items() for part in (k, str(v))]
        if not self.client.eval(_CREATE, 1, self.keys.meta(meta.version), *fields):
            state = "active" if self.active_version() == meta.version else "in use"
            raise ValueError(f"cache version {meta.version!r} is {state}; a new build needs a new version")

    def writer(self, version: str, batch_size: int = 2000) -> BufferedWriter:
        return BufferedWriter(self.client, self.keys, version, batch_size)

    def activate(self, version: str, users: int) -> str | None:
        """Mark `version` complete, then point `rec:active` at it; returns the version it replaced."""
        if self.version_meta(version) is None:
            raise ValueError(f"cache version {version!r} has no metadata; create_version() it first")
        self.client.hset(self.keys.meta(version), mapping={"state": "complete", "users": str(users)})
        previous = self.client.set(self.keys.active(), version, get=True)
        return _text(previous) if isinstance(previous, bytes | str) else None

    def remove_version(self, version: str, batch: int = 1000) -> int:
        """Delete every list of `version`, its metadata and checkpoint; returns how many lists were removed."""
        if self.active_version() == check_version(version):
            raise ValueError(f"cache version {version!r} is active and cannot be removed")
        removed = 0
        pending: list[bytes] = []
        for key in self.client.scan_iter(match=self.keys.recs_pattern(version), count=batch):
            pending.append(key)
            if len(pending) >= batch:
                removed += self._unlink(pending)
        removed += self._unlink(pending)
        self.client.unlink(self.keys.meta(version))
        self.client.unlink(self.keys.checkpoint(version))
        return removed

    def _unlink(self, keys: list[bytes]) -> int:
        if not keys:
            return 0
        pipe = self.client.pipeline(transaction=False)
        for key in keys:  # one key per command: cluster-safe
            pipe.unlink(key)
        count = sum(int(n) for n in pipe.execute())
        keys.clear()
        return count

    def versions(self) -> list[str]:
        """Every version with metadata (building, complete or stale)."""
        versions = []
        for key in self.client.scan_iter(match=self.keys.meta_pattern(), count=1000):
            try:
                versions.append(self.keys.version_of_meta(_text(key)))
            except ValueError:  # a key that matches the pattern but names no valid version: not ours
                continue
        return sorted(versions)

    # per-user lists ------------------------------------------------------------------------------------------
    def get_raw(self, version: str, user: str) -> bytes | None:
        value = self.client.get(self.keys.recs(version, user))
        return value.encode() if isinstance(value, str) else value

    def put_raw(self, version: str, user: str, value: bytes, ttl_s: int | None = None) -> None:
        self.client.set(self.keys.recs(version, user), value, ex=ttl_s)


def new_version_id(model_version: str, now: float | None = None) -> str:
    """A sortable version id: UTC time to the millisecond plus the first 8 hex of the model hash.

    Two builds of one model in the same millisecond would share an id; `create_version` refuses the second."""
    t = now if now is not None else time.time()
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(t)) + f".{int(t * 1000) % 1000:03d}"
    return check_version(f"{stamp}-{model_version[:8]}")
