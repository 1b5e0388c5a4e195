"""The world a fault scenario runs in: a model artifact, a private Redis holding an active cache version, a service.

Contract: `build_world(folder, users, cached)` saves a tiny random-LM artifact
(`tests.tiny_artifact.save_random_artifact`) with `users` dataset users "1".."users", starts an `OwnRedis` in
`folder/redis` and writes a complete, active cache version "v1" (K=50) for users "1".."cached"; the others have a
dataset history but no list (live generation, or popularity when live is unavailable). `sweep(service, users)` asks the
service for each user once and counts the answers by source: the "nothing lost" figure (every cached user still answered
from the cache). It knows nothing about faults.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from model.artifact import read_artifact_meta
from model.cache.codec import encode_batch
from model.cache.keys import KeySchema
from model.cache.store import CacheStore, VersionMeta
from model.workdir import META_FILE
from tests.faults.procs import OwnRedis, Service, get
from tests.tiny_artifact import save_random_artifact

PREFIX = "rec"


@dataclass
class World:
    folder: Path
    artifact: Path
    redis: OwnRedis
    keys: KeySchema
    cached: list[str]
    uncached: list[str]

    def service(self, name: str, prefix: str | None = None, **env: str) -> Service:
        return Service(self.artifact, self.redis.url, prefix or self.keys.prefix, self.folder / name, env)

    def mix(self, uncached_share: float = 0.1, n: int = 200) -> list[tuple[str, str]]:
        """(user, kind) pairs: mostly cached users, `uncached_share` of them without a list."""
        n_unc = round(n * uncached_share)
        pairs = [(u, "cached") for u in self.cached[: n - n_unc]]
        pairs += [(u, "uncached") for u in self.uncached[:n_unc]]
        return pairs


def build_world(folder: Path, users: int = 400, cached: int = 200, n_items: int = 300) -> World:
    folder.mkdir(parents=True, exist_ok=True)
    artifact = folder / "artifact"
    if not (artifact / META_FILE).exists():
        save_random_artifact(artifact, users, n_items, seed=0)
    model_version = read_artifact_meta(artifact).version
    server = OwnRedis(folder / "redis")
    client = server.start()
    keys = KeySchema(prefix=PREFIX)
    store = CacheStore(client, keys)
    if store.active_version() is None:
        store.create_version(VersionMeta("v1", model_version, "faults", k=50, created_at=int(time.time())))
        rng = np.random.default_rng(1)
        items = np.stack([rng.permutation(n_items)[:50] for _ in range(cached)])
        scores = -np.sort(rng.uniform(0.1, 20.0, size=(cached, 50)), axis=1).astype(np.float32)
        blobs = encode_batch(items, scores, int(time.time()) - 60)
        with store.writer("v1") as writer:
            writer.add_many(zip((str(u) for u in range(1, cached + 1)), blobs, strict=True))
        store.activate("v1", cached)
    client.close()
    return World(
        folder,
        artifact,
        server,
        keys,
        [str(u) for u in range(1, cached + 1)],
        [str(u) for u in range(cached + 1, users + 1)],
    )


def sweep(service: Service, users: list[str], k: int = 5) -> dict[str, int]:
    """Ask for every user once; count answers by source ("error:<status>" for a non-200)."""
    counts: Counter[str] = Counter()
    for user in users:
        status, body = get(f"{service.base}/users/{user}/recommendations?k={k}", 10.0)
        if status != 200:
            counts[f"error:{status}"] += 1
            continue
        source = body.split(b'"source":"', 1)[1].split(b'"', 1)[0].decode()
        counts[source] += 1
    return dict(counts)
