"""One refresh run: generate top-K lists with a Recommender and write them to the versioned Redis cache.

Contract:
- `full`: every dataset user (plus users known only from recorded events) gets a list in a NEW version; the
  pointer flips only after every shard is written, then every other version (the replaced complete ones and any
  building one a killed run left) is removed after `grace_s` (readers holding the old pointer finish first). A
  killed run leaves the old version serving; rerunning with the same artifact, K and shard size resumes the
  building version from its checkpoint, skipping finished shards.
- `users` / `incremental`: the listed users, or those with events since the last incremental run (the dirty set,
  taken atomically), are regenerated in place in the ACTIVE version; the active version must come from the same
  model version, else the run refuses (a full refresh is needed).
- Every input is checked before the first write: the Redis connection, every user id, the active version's model.
- Two runs never overlap (RefreshLock); losing the lock stops the run before it flips anything.
- The per-shard work (read events, generate, encode, write; mark a full run's shard done in the checkpoint) is
  `ShardWorker`'s, whichever engine runs it. `RefreshJob` runs the shards itself, one after another (`--engine
  local`); `offline.refresh.ray_engine.RayRefreshJob` keeps every step before and after the loop and hands the shards
  to ShardWorkers inside Ray actors instead (`--engine ray`).
A user's history is the dataset sequence followed by their recorded events. Users with no history get no list
(the service answers them from popularity). This module knows nothing about HTTP or how the generator works.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Literal

import numpy as np
import redis

from model.cache.codec import encode, encode_batch
from model.cache.history import HistoryStore, full_history
from model.cache.keys import check_user_id
from model.cache.store import CacheStore, VersionMeta, new_version_id
from model.errors import UserError
from model.logs import get_logger
from model.progress import progress
from offline.refresh.checkpoint import Checkpoint, find_resumable
from offline.refresh.lock import RefreshLock

if TYPE_CHECKING:
    from model.artifact import ModelArtifact
    from model.recommender import Recommender

Mode = Literal["full", "users", "incremental"]
log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class RefreshConfig:
    mode: Mode = "full"
    k: int = 50  # list length written per user
    shard_size: int = 256  # users generated and written per step (and per checkpoint entry)
    users: tuple[str, ...] = ()  # for mode="users"
    lock_ttl_s: float = 120.0  # lock expiry; renewed after every shard
    wait_lock_s: float = 0.0  # how long to wait for another run's lock
    grace_s: float = 2.0  # wait between flipping the pointer and removing old versions
    write_batch: int = 2000  # SETs per pipelined write

    def __post_init__(self) -> None:
        if not 1 <= self.k <= 1000:
            raise UserError(f"k must be in 1..1000; got {self.k}")
        if self.shard_size < 1:
            raise UserError(f"shard_size must be >= 1; got {self.shard_size}")
        if self.mode == "users" and not self.users:
            raise UserError("mode 'users' needs at least one user id (--users)")
        if self.lock_ttl_s <= 0 or self.wait_lock_s < 0 or self.grace_s < 0:
            raise UserError("lock_ttl_s must be > 0; wait_lock_s and grace_s must be >= 0")


@dataclass(frozen=True, slots=True)
class GeneratorOptions:
    """How each actor builds its Recommender (the CLI's generator options)."""

    backend: str = "auto"  # auto, transformers or vllm ("auto" with GPUs per actor means vllm)
    dtype: str = "auto"
    beam_width: int | None = None
    batch_size: int = 32
    exclude_seen: bool = True


@dataclass(frozen=True, slots=True)
class RefreshResult:
    mode: Mode
    version: str  # the version written (full) or updated (users/incremental)
    users_written: int
    users_skipped: int  # users with no history: no list written
    shards_resumed: int  # shards a previous killed run had finished
    previous_version: str | None
    removed_versions: tuple[str, ...] = ()
    generate_s: float = 0.0
    write_s: float = 0.0
    total_s: float = 0.0


@dataclass(frozen=True, slots=True)
class Shard:
    """One unit of work: users whose lists are generated and written together."""

    index: int | None  # the full run's shard number (checkpointed when done); None: not checkpointed
    users: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ShardResult:
    index: int | None
    written: int
    skipped: int  # users with no history: no list written
    generate_s: float
    write_s: float


def base_sequences(artifact: ModelArtifact) -> dict[str, Sequence[int]]:
    """Each dataset user's sequence, by user id: the start of every history."""
    dataset = artifact.dataset
    return {str(u): seq for u, seq in zip(dataset.user_ids, dataset.sequences, strict=True)}


class ShardWorker:
    """Generates one shard's lists with a Recommender and writes them into a version (and, for a full run's
    numbered shard, records it done in the version's checkpoint, only after its lists were written)."""

    def __init__(
        self, recommender: Recommender, store: CacheStore, history: HistoryStore, k: int, write_batch: int = 2000
    ) -> None:
        self.rec, self.store, self.history, self.k, self.write_batch = recommender, store, history, k, write_batch
        self._base = base_sequences(recommender.artifact)

    def run(self, version: str, shard: Shard) -> ShardResult:
        users = shard.users
        events = self.history.events_many(users)
        histories = [full_history(self._base.get(u, ()), ev) for u, ev in zip(users, events, strict=True)]
        t0 = time.perf_counter()
        ranked = self.rec.recommend(histories, self.k)
        t1 = time.perf_counter()
        now = int(time.time())
        keep = [i for i, r in enumerate(ranked) if r]
        lengths = {len(ranked[i]) for i in keep}
        if len(lengths) == 1:
            items = np.array([[s.item for s in ranked[i]] for i in keep], dtype=np.int64)
            scores = np.array([[s.score for s in ranked[i]] for i in keep], dtype=np.float32)
            blobs = encode_batch(items, scores, now)
        else:
            blobs = [encode([s.item for s in ranked[i]], [s.score for s in ranked[i]], now) for i in keep]
        with self.store.writer(version, self.write_batch) as writer:
            writer.add_many(zip((users[i] for i in keep), blobs, strict=True))
        if shard.index is not None:
            Checkpoint(self.store.client, self.store.keys, version).mark_done(shard.index)
        return ShardResult(shard.index, len(keep), len(users) - len(keep), t1 - t0, time.perf_counter() - t1)


class RefreshJob:
    """The driver: checks, lock, version, checkpoint, the shards (`run_shards`), the flip and the clean-up."""

    def __init__(
        self, recommender: Recommender, store: CacheStore, history: HistoryStore, config: RefreshConfig
    ) -> None:
        self._setup(recommender.artifact, store, history, config)
        self.worker = ShardWorker(recommender, store, history, config.k, config.write_batch)

    def _setup(self, artifact: ModelArtifact, store: CacheStore, history: HistoryStore, config: RefreshConfig) -> None:
        self.artifact, self.store, self.history, self.config = artifact, store, history, config
        self._base = base_sequences(artifact)
        self._generate_s = 0.0
        self._write_s = 0.0

    def run_shards(self, version: str, shards: Sequence[Shard], lock: RefreshLock) -> Iterator[ShardResult]:
        """Run `shards` (in any order), yielding each one's result once it is written; the lock is renewed after
        each. This engine runs them here, one after another."""
        for shard in shards:
            result = self.worker.run(version, shard)
            lock.renew()
            yield result

    # entry point ---------------------------------------------------------------------------------------------
    def run(self) -> RefreshResult:
        started = time.perf_counter()
        try:
            self.store.client.ping()
        except redis.RedisError as exc:
            raise UserError(f"cannot reach Redis: {exc}") from None
        for user in self._base:
            _check_user(user)
        lock = RefreshLock(self.store.client, self.store.keys.lock(), self.config.lock_ttl_s, self.config.wait_lock_s)
        lock.acquire()
        try:
            result = self._full(lock) if self.config.mode == "full" else self._in_place(lock)
        finally:
            lock.release()
        return replace(
            result, generate_s=self._generate_s, write_s=self._write_s, total_s=time.perf_counter() - started
        )

    # full refresh --------------------------------------------------------------------------------------------
    def _full(self, lock: RefreshLock) -> RefreshResult:
        cfg, model_version = self.config, self.artifact.version
        users = list(self._base)
        n_shards = (len(users) + cfg.shard_size - 1) // cfg.shard_size
        version = find_resumable(self.store, model_version, cfg.k, len(users), cfg.shard_size)
        if version is None:
            version = new_version_id(model_version)
            meta = VersionMeta(version, model_version, self.artifact.meta.dataset_hash, cfg.k, int(time.time()))
            self.store.create_version(meta)
            checkpoint = Checkpoint(self.store.client, self.store.keys, version)
            checkpoint.start(model_version, cfg.k, len(users), cfg.shard_size)
            done: set[int] = set()
        else:
            checkpoint = Checkpoint(self.store.client, self.store.keys, version)
            done = checkpoint.done_shards()
            log.info("resuming refresh", version=version, shards_done=len(done), shards=n_shards)
        extra_users = [u for u in self.history.take_dirty() if u not in self._base]
        todo = [
            Shard(i, tuple(users[i * cfg.shard_size : (i + 1) * cfg.shard_size]))
            for i in range(n_shards)
            if i not in done
        ]
        # users known only from recorded events: not part of the checkpointed identity, regenerated by every run
        todo += [
            Shard(None, tuple(extra_users[lo : lo + cfg.shard_size]))
            for lo in range(0, len(extra_users), cfg.shard_size)
        ]
        written, skipped = self._drive(version, todo, lock, f"refresh {version}")
        lock.renew()
        previous = self.store.activate(version, users=len(users) + len(extra_users) - skipped)
        self.history.finish_dirty()
        log.info("cache version active", version=version, previous=previous, users=written)
        removed = self._remove_old(version)
        return RefreshResult("full", version, written, skipped, len(done), previous, removed)

    def _drive(self, version: str, todo: list[Shard], lock: RefreshLock, title: str) -> tuple[int, int]:
        """Run the shards through the engine, with a progress bar; returns (written, skipped)."""
        written = skipped = 0
        with progress() as bar:
            task = bar.add_task(title, total=sum(len(s.users) for s in todo))
            for result in self.run_shards(version, todo, lock):
                written, skipped = written + result.written, skipped + result.skipped
                self._generate_s += result.generate_s
                self._write_s += result.write_s
                bar.advance(task, result.written + result.skipped)
        return written, skipped

    def _remove_old(self, keep: str) -> tuple[str, ...]:
        """Remove every other version: complete ones the flip replaced, and building ones killed runs left behind
        (we hold the lock, so no live run is writing them; one built with other settings would never be resumed)."""
        time.sleep(self.config.grace_s)
        removed = []
        for version in self.store.versions():
            meta = self.store.version_meta(version)
            if version != keep and meta is not None and meta.state in ("complete", "building"):
                n = self.store.remove_version(version)
                log.info("old cache version removed", version=version, state=meta.state, lists=n)
                removed.append(version)
        return tuple(removed)

    # in-place refresh (listed users or incremental) ----------------------------------------------------------
    def _in_place(self, lock: RefreshLock) -> RefreshResult:
        cfg = self.config
        version = self.store.active_version()
        meta = self.store.version_meta(version) if version else None
        if version is None or meta is None:
            raise UserError("no active cache version: run a full refresh first")
        if meta.model_version != self.artifact.version:
            raise UserError(
                f"the active cache version {version} was built by model {meta.model_version[:12]}, not by this "
                f"artifact ({self.artifact.version[:12]}): run a full refresh to change models"
            )
        if cfg.mode == "users":
            users = [_check_user(u) for u in cfg.users]
            unknown = [
                u
                for u, ev in zip(users, self.history.events_many(users), strict=True)
                if u not in self._base and not ev
            ]
            if unknown:
                raise UserError(f"unknown user ids (not in the dataset, no recorded events): {unknown[:10]}")
        else:
            users = self.history.take_dirty()
        todo = [Shard(None, tuple(users[lo : lo + cfg.shard_size])) for lo in range(0, len(users), cfg.shard_size)]
        written, skipped = self._drive(version, todo, lock, f"{cfg.mode} refresh {version}")
        if cfg.mode == "incremental":
            self.history.finish_dirty()
        return RefreshResult(cfg.mode, version, written, skipped, 0, version)


def _check_user(user: str) -> str:
    try:
        return check_user_id(user)
    except ValueError as exc:
        raise UserError(str(exc)) from None
