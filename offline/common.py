"""What every command needs from its context: the validated settings, a dataset by name, the torch thread count.

Contract: `settings_of(ctx)` is the `Settings` the CLI callback validated (or, for a command function called
directly, one read from the environment). `load_dataset(settings, name)` returns a dataset and its content hash:
the processed folder when `genrec prepare` wrote one, else the built-in dataset's source files (same hash as
`prepare` would record); anything else is a `UserError` saying what to run. `connect_redis(settings)` returns a
client of the cache's Redis (or Redis Cluster, `model.cache.client`) that has answered a PING, or raises a
`UserError` naming the (masked) URL and how to start one. It knows nothing about models.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import typer

from model.data.processed import content_hash, load_processed, serialize
from model.data.records import InteractionDataset
from model.data.registry import BUILTINS, load_builtin
from model.errors import UserError
from model.redis_url import mask_url
from model.settings import Settings
from model.workdir import META_FILE

if TYPE_CHECKING:
    from model.cache.client import Client


def settings_of(ctx: typer.Context) -> Settings:
    return ctx.obj if isinstance(ctx.obj, Settings) else Settings()


def load_dataset(settings: Settings, name: str) -> tuple[InteractionDataset, str]:
    folder = settings.workdir.dataset(name)
    if (folder / META_FILE).is_file():
        dataset, meta = load_processed(folder)
        return dataset, meta.content_hash
    if name not in BUILTINS:
        raise UserError(
            f"no processed dataset {name!r} in {folder} and it is not a built-in dataset ({', '.join(BUILTINS)}); "
            f"run `genrec prepare {name} --path ...` first"
        )
    dataset = load_builtin(name, settings.data_dir, download_dir=settings.workdir.download(name))
    return dataset, content_hash(*serialize(dataset))


def apply_threads(settings: Settings) -> None:
    if settings.threads:
        torch.set_num_threads(settings.threads)


def connect_redis(settings: Settings, timeout_s: float = 30.0) -> Client:
    from model.cache.client import CONNECT_ERRORS, sync_client  # heavy imports stay out of `genrec --help`

    client = None
    try:
        client = sync_client(settings.redis_url, socket_timeout=timeout_s, socket_connect_timeout=5)
        client.ping()
    except CONNECT_ERRORS as exc:
        if client is not None:
            client.close()
        raise UserError(
            f"cannot reach Redis at {mask_url(settings.redis_url)}: {exc}; start one (`redis-server --daemonize yes`) "
            "or point --redis-url / GENREC_REDIS_URL at yours"
        ) from None
    return client
