"""Progress of a full refresh in Redis, so a killed run continues with the same version instead of starting over.

Contract: a checkpoint is a hash at `keys.checkpoint(version)` holding the run's identity (model version, K, user
count, shard size) and one field per finished shard. `find_resumable(model_version, k, users, shard_size)`
returns the newest building version whose identity matches, so a rerun with other settings starts fresh rather
than mixing lists. A shard is marked done only after its lists were written. It knows nothing about generation.
"""

from __future__ import annotations

from model.cache.client import Client
from model.cache.keys import KeySchema
from model.cache.store import CacheStore

_IDENTITY = ("model_version", "k", "users", "shard_size")


class Checkpoint:
    def __init__(self, client: Client, keys: KeySchema, version: str) -> None:
        self.client, self.key, self.version = client, keys.checkpoint(version), version

    def start(self, model_version: str, k: int, users: int, shard_size: int) -> None:
        identity = {"model_version": model_version, "k": k, "users": users, "shard_size": shard_size}
        self.client.hset(self.key, mapping={name: str(value) for name, value in identity.items()})

    def done_shards(self) -> set[int]:
        fields = self.client.hkeys(self.key)
        names = (f.decode() if isinstance(f, bytes) else f for f in fields)
        return {int(n[6:]) for n in names if n.startswith("shard:")}

    def mark_done(self, shard: int) -> None:
        self.client.hset(self.key, f"shard:{shard}", "1")


def find_resumable(store: CacheStore, model_version: str, k: int, users: int, shard_size: int) -> str | None:
    """The newest version still building with the same identity, or None."""
    wanted = {"model_version": model_version, "k": str(k), "users": str(users), "shard_size": str(shard_size)}
    active = store.active_version()
    for version in sorted(store.versions(), reverse=True):
        meta = store.version_meta(version)
        if meta is None or meta.state != "building" or version == active:
            continue
        raw = store.client.hmget(store.keys.checkpoint(version), list(_IDENTITY))
        found = {name: (v.decode() if isinstance(v, bytes) else v) for name, v in zip(_IDENTITY, raw, strict=True)}
        if found == wanted:
            return version
    return None
