"""`genrec refresh`: fill the Redis cache with every user's top-K from a model artifact (see offline/refresh/job.py).

`--engine local` (default) generates in this process; `--engine ray` hands the shards to Ray actors
(offline/refresh/ray_engine.py, the `ray` extra), on a local Ray or the cluster at `--ray-address`.
Exit codes: 0 done; 2 bad input (options, artifact, unreachable Redis or Ray, lock held), reported before any write;
1 the run failed midway (the previous cache version keeps serving; rerun to resume).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from model.errors import UserError
from model.logs import get_logger
from offline.common import connect_redis, settings_of
from offline.refresh.job import Mode, RefreshConfig

log = get_logger(__name__)


def refresh(
    ctx: typer.Context,
    artifact: Annotated[Path, typer.Option(help="Model artifact folder (written by `genrec train`).")],
    mode: Annotated[
        str, typer.Option(help="full (new version), users (listed users), incremental (dirty users).")
    ] = "full",
    users: Annotated[str | None, typer.Option(help="Comma-separated user ids, for --mode users.")] = None,
    users_file: Annotated[Path | None, typer.Option(help="File with one user id per line, for --mode users.")] = None,
    k: Annotated[int, typer.Option(help="List length cached per user.")] = 50,
    shard_size: Annotated[int, typer.Option(help="Users per generation step and checkpoint entry.")] = 256,
    backend: Annotated[str, typer.Option(help="Generator: auto, transformers or vllm.")] = "auto",
    dtype: Annotated[str, typer.Option(help="auto (bf16 only on bf16-native hardware), float32 or bfloat16.")] = "auto",
    beam_width: Annotated[int | None, typer.Option(help="Beam width W >= k (default: k).")] = None,
    batch_size: Annotated[int, typer.Option(help="Prompts per generator batch.")] = 32,
    lock_ttl: Annotated[float, typer.Option(help="Seconds before a dead run's lock expires.")] = 120.0,
    wait_lock: Annotated[float, typer.Option(help="Seconds to wait for another run's lock.")] = 0.0,
    grace: Annotated[float, typer.Option(help="Seconds between the flip and removing old versions.")] = 2.0,
    engine: Annotated[str, typer.Option(help="local (this process) or ray (Ray actors; the `ray` extra).")] = "local",
    actors: Annotated[int, typer.Option(help="--engine ray: generator actors.")] = 2,
    cpus_per_actor: Annotated[float, typer.Option(help="--engine ray: CPUs per actor (its torch threads).")] = 1.0,
    gpus_per_actor: Annotated[float, typer.Option(help="--engine ray: GPUs per actor (backend auto -> vllm).")] = 0.0,
    ray_address: Annotated[
        str | None, typer.Option(help="--engine ray: a running Ray cluster (host:port, ray://host:port, auto).")
    ] = None,
) -> None:
    """Generate top-K lists and write them to Redis; a full run flips to a new version only when complete."""

    from model.artifact import load_artifact
    from model.cache.history import HistoryStore
    from model.cache.store import CacheStore
    from model.recommender import Recommender
    from offline.refresh.job import GeneratorOptions, RefreshJob
    from offline.refresh.metrics import RunMetrics

    settings = settings_of(ctx)
    if mode not in ("full", "users", "incremental"):
        raise typer.BadParameter(f"--mode must be full, users or incremental; got {mode!r}")
    if backend not in ("auto", "transformers", "vllm"):
        raise typer.BadParameter(f"--backend must be auto, transformers or vllm; got {backend!r}")
    if engine not in ("local", "ray"):
        raise typer.BadParameter(f"--engine must be local or ray; got {engine!r}")
    listed = _read_users(users, users_file)
    config = RefreshConfig(
        mode=_mode(mode),
        k=k,
        shard_size=shard_size,
        users=tuple(listed),
        lock_ttl_s=lock_ttl,
        wait_lock_s=wait_lock,
        grace_s=grace,
    )
    keys = settings.keys
    client = connect_redis(settings)
    store, history = CacheStore(client, keys), HistoryStore(client, keys)
    generator = GeneratorOptions(backend, dtype, beam_width, batch_size, settings.exclude_seen)
    started_ray = False
    job: RefreshJob
    if engine == "ray":
        try:
            import ray  # the `ray` extra
        except ImportError as exc:
            raise UserError(f"--engine ray needs the `ray` extra (pip install -e '.[ray]'): {exc}") from None
        from offline.refresh.ray_engine import RayOptions, RayRefreshJob, connect_ray

        options = RayOptions(ray_address, actors, cpus_per_actor, gpus_per_actor)
        load_artifact(artifact)  # a bad artifact fails here, before Ray starts
        started_ray = connect_ray(ray_address)
        job = RayRefreshJob(artifact, store, history, config, settings.redis_url, options, generator)
    else:
        recommender = Recommender(
            load_artifact(artifact),
            backend=backend,  # type: ignore[arg-type]
            dtype=dtype,
            beam_width=beam_width,
            batch_size=batch_size,
            exclude_seen=settings.exclude_seen,
        )
        job = RefreshJob(recommender, store, history, config)
    metrics = RunMetrics(mode, settings.pushgateway_url)
    try:
        result = job.run()
    except UserError:
        raise
    except Exception:
        metrics.push_failure()
        log.exception("refresh failed; the previous cache version keeps serving", mode=mode, engine=engine)
        raise typer.Exit(1) from None
    finally:
        if started_ray:
            import ray

            ray.shutdown()
    metrics.push_success(result.users_written)
    log.info(
        "refresh done",
        mode=mode,
        engine=engine,
        version=result.version,
        users=result.users_written,
        skipped=result.users_skipped,
        resumed_shards=result.shards_resumed,
        generate_s=round(result.generate_s, 2),
        write_s=round(result.write_s, 2),
        total_s=round(result.total_s, 2),
    )
    typer.echo(f"{result.mode} refresh wrote {result.users_written} users into version {result.version}")


def _mode(mode: str) -> Mode:
    return "full" if mode == "full" else "users" if mode == "users" else "incremental"


def _read_users(users: str | None, users_file: Path | None) -> list[str]:
    listed = [u.strip() for u in users.split(",") if u.strip()] if users else []
    if users_file is not None:
        if not users_file.is_file():
            raise typer.BadParameter(f"--users-file {str(users_file)!r} does not exist")
        listed += [line.strip() for line in users_file.read_text().splitlines() if line.strip()]
    return listed
