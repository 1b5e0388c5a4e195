"""`genrec refresh --engine ray`: the refresh job's shards generated and written by Ray actors (Ray Data).

Contract: `RayRefreshJob` is `RefreshJob` with another `run_shards`: every step before the loop (input checks, the
lock, the version and its checkpoint, the shards not yet done) and after it (the single flip, removing old versions)
runs in this driver process, unchanged. The shards become a Ray dataset of one row per block, mapped with
`map_batches(ShardActor, batch_size=1, compute=ActorPoolStrategy(size=actors), num_cpus=, num_gpus=)`; each actor loads
the artifact and builds its Recommender once (`backend="vllm"` when given GPUs and the backend is `auto`), then for
every shard runs a `ShardWorker` (generate, write its lists, mark a full run's shard done in the checkpoint) and returns
the counts. The driver renews the lock as results stream in. A killed actor costs its shard: Ray restarts the actor and
retries the shard (rewriting a shard is idempotent), and a run killed as a whole resumes from the checkpoint like the
local job. The driver needs the artifact's metadata and dataset, never its LM.
`RayOptions` is what the CLI passes; `connect_ray(address)` starts a local Ray in this process (address None) or
joins a running cluster, and raises `UserError` naming the address when it does not answer. It knows nothing about
HTTP, and nothing about how the generator works.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from model.artifact import load_artifact
from model.cache.history import HistoryStore
from model.cache.store import CacheStore
from model.errors import UserError
from model.logs import get_logger
from offline.refresh.job import GeneratorOptions, RefreshConfig, RefreshJob, Shard, ShardResult, ShardWorker
from offline.refresh.lock import RefreshLock

log = get_logger(__name__)
_LOCAL_OBJECT_STORE_BYTES = 256 * 1024**2  # shard rows and counts are tiny; leave the memory to the generators


@dataclass(frozen=True, slots=True)
class RayOptions:
    address: str | None = None  # None: a local Ray started in this process; else a running cluster's address
    actors: int = 2  # generator replicas (Ray actors)
    cpus_per_actor: float = 1.0
    gpus_per_actor: float = 0.0

    def __post_init__(self) -> None:
        if self.actors < 1:
            raise UserError(f"--actors must be >= 1; got {self.actors}")
        if self.cpus_per_actor <= 0 or self.gpus_per_actor < 0:
            raise UserError(
                f"--cpus-per-actor must be > 0 and --gpus-per-actor >= 0; got {self.cpus_per_actor} and "
                f"{self.gpus_per_actor}"
            )


def connect_ray(address: str | None, timeout_s: float = 5.0) -> bool:
    """Join the Ray cluster at `address`, or start a local one (None). Returns whether this call started Ray (the
    caller then shuts it down)."""
    import ray

    if ray.is_initialized():
        return False
    if address is None:
        ray.init(
            include_dashboard=False,
            object_store_memory=_LOCAL_OBJECT_STORE_BYTES,
            configure_logging=False,
            log_to_driver=False,
        )
        return True
    if address != "auto":
        host, port = _host_port(address)
        try:
            socket.create_connection((host, port), timeout=timeout_s).close()
        except OSError as exc:
            raise UserError(
                f"cannot reach the Ray cluster at --ray-address {address!r}: {exc}; start one (`ray start --head`) "
                "or leave --ray-address unset for a local Ray"
            ) from None
    try:
        ray.init(address=address, configure_logging=False, log_to_driver=False)
    except (ConnectionError, RuntimeError) as exc:
        raise UserError(f"cannot join the Ray cluster at --ray-address {address!r}: {exc}") from None
    return True


def _host_port(address: str) -> tuple[str, int]:
    rest = address.removeprefix("ray://")
    host, sep, port = rest.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise UserError(f"--ray-address {address!r} is not host:port, ray://host:port or auto")
    return host, int(port)


class ShardActor:
    """A Ray Data callable class: one artifact load and one Recommender per actor, one ShardWorker run per row."""

    def __init__(
        self,
        artifact: str,
        version: str,
        redis_url: str,
        cache_prefix: str,
        k: int,
        write_batch: int,
        generator: dict[str, Any],
        threads: int,
    ) -> None:
        import torch

        from model.cache.client import sync_client
        from model.cache.keys import KeySchema
        from model.recommender import Recommender

        torch.set_num_threads(max(1, threads))
        options = GeneratorOptions(**generator)
        client = sync_client(redis_url, socket_timeout=30, socket_connect_timeout=5)
        keys = KeySchema(cache_prefix)
        recommender = Recommender(
            load_artifact(Path(artifact)),
            backend=options.backend,  # type: ignore[arg-type]
            dtype=options.dtype,
            beam_width=options.beam_width,
            batch_size=options.batch_size,
            exclude_seen=options.exclude_seen,
        )
        self.version = version
        self.worker = ShardWorker(recommender, CacheStore(client, keys), HistoryStore(client, keys), k, write_batch)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        out: dict[str, list[float]] = {k: [] for k in ("index", "written", "skipped", "generate_s", "write_s")}
        for index, users in zip(batch["index"], batch["users"], strict=True):
            shard = Shard(None if int(index) < 0 else int(index), tuple(str(users).split(",")) if users else ())
            result = self.worker.run(self.version, shard)
            out["index"].append(int(index))
            for name in ("written", "skipped", "generate_s", "write_s"):
                out[name].append(getattr(result, name))
        return {k: np.asarray(v) for k, v in out.items()}


class RayRefreshJob(RefreshJob):
    def __init__(
        self,
        artifact: Path,
        store: CacheStore,
        history: HistoryStore,
        config: RefreshConfig,
        redis_url: str,
        ray_options: RayOptions,
        generator: GeneratorOptions,
    ) -> None:
        self._setup(load_artifact(artifact), store, history, config)
        self.artifact_dir, self.redis_url, self.ray_options = artifact, redis_url, ray_options
        backend = generator.backend
        if ray_options.gpus_per_actor > 0 and backend == "auto":
            backend = "vllm"  # one vLLM engine per GPU actor: the replicas
        self.generator = GeneratorOptions(**{**asdict(generator), "backend": backend})

    def run_shards(self, version: str, shards: Sequence[Shard], lock: RefreshLock) -> Iterator[ShardResult]:
        if not shards:
            return
        import ray
        import ray.data

        ctx = ray.data.DataContext.get_current()
        ctx.enable_progress_bars = False
        ctx.print_on_execution_start = False
        rows = [{"index": -1 if s.index is None else s.index, "users": ",".join(s.users)} for s in shards]
        opts = self.ray_options
        items = ray.data.from_items(rows, override_num_blocks=len(rows))  # one shard per block: spread over actors
        ds = items.map_batches(
            ShardActor,
            batch_size=1,
            compute=ray.data.ActorPoolStrategy(size=min(opts.actors, len(rows))),
            num_cpus=opts.cpus_per_actor,
            num_gpus=opts.gpus_per_actor,
            fn_constructor_kwargs={
                "artifact": str(self.artifact_dir.resolve()),
                "version": version,
                "redis_url": self.redis_url,
                "cache_prefix": self.store.keys.prefix,
                "k": self.config.k,
                "write_batch": self.config.write_batch,
                "generator": asdict(self.generator),
                "threads": max(1, int(opts.cpus_per_actor)),
            },
        )
        started = time.perf_counter()
        for row in ds.iter_rows():
            index = int(row["index"])
            lock.renew()
            yield ShardResult(
                None if index < 0 else index,
                int(row["written"]),
                int(row["skipped"]),
                float(row["generate_s"]),
                float(row["write_s"]),
            )
        log.info(
            "ray shards done", shards=len(rows), actors=opts.actors, seconds=round(time.perf_counter() - started, 2)
        )
