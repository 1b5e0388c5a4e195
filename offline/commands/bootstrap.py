"""`genrec bootstrap`: make a fresh deployment servable once: a model artifact on disk and an active cache version.

Contract: idempotent, for a one-shot container that runs before the service. With `--artifact PATH` holding a
finished artifact, it trains nothing; without it (or when PATH is the demo's own artifact path and not yet there) it
runs the demo's training steps on a built-in dataset (prepare, SASRec, tokenizer, LM), each skipped when its output
exists. Then it runs a full refresh only when the cache has no active version built from this artifact; otherwise
it exits 0 at once ("already bootstrapped"). An `--artifact` that is missing and is not the demo's path exits 2:
models are trained here or mounted, never fetched. It knows nothing about how the steps work (see demo.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from model.errors import UserError
from model.logs import get_logger
from model.redis_url import mask_url
from model.settings import Settings
from model.workdir import META_FILE
from offline.commands.demo import DemoOptions, training_steps
from offline.common import connect_redis, settings_of

log = get_logger(__name__)


def cache_serves(settings: Settings, model_version: str) -> bool:
    """Whether the cache's active version was built from the artifact with this model version."""
    import redis

    from model.cache.store import CacheStore

    client = connect_redis(settings)
    try:
        store = CacheStore(client, settings.keys)
        active = store.active_version()
        meta = store.version_meta(active) if active else None
    except redis.RedisError as exc:
        raise UserError(f"cannot reach Redis at {mask_url(settings.redis_url)}: {exc}") from None
    finally:
        client.close()
    return meta is not None and meta.model_version == model_version


def bootstrap(
    ctx: typer.Context,
    artifact: Annotated[
        Path | None,
        typer.Option(envvar="GENREC_ARTIFACT", help="Artifact to serve; default: the demo's, trained if missing."),
    ] = None,
    dataset: Annotated[str, typer.Option(help="Built-in dataset the demo model is trained on.")] = "movielens-100k",
    train_minutes: Annotated[float, typer.Option(min=0.5, help="Time cap of the LM fine-tuning.")] = 8.0,
) -> None:
    """Train (or load) the model and fill the cache, unless already done: the first-start job of a deployment."""
    from model.artifact import read_artifact_meta
    from offline.commands import refresh

    settings = settings_of(ctx)
    opt = DemoOptions(dataset, 20, 100, train_minutes, port=8000, keep_serving=False)
    demo_model = settings.workdir.demo_model(dataset)
    target = artifact or demo_model
    if not (target / META_FILE).is_file():
        if target.resolve() != demo_model.resolve():
            raise UserError(
                f"artifact {str(target)!r} does not exist; mount a trained artifact there, or leave --artifact "
                f"(GENREC_ARTIFACT) unset to train the demo model into {demo_model}"
            )
        for step in training_steps(ctx, opt):
            if step.done_when is not None and step.done_when.exists():
                log.info("step already done, skipped", step=step.name, output=str(step.done_when))
                continue
            typer.secho(f"bootstrap: {step.name}", err=True, bold=True)
            step.run()
    meta = read_artifact_meta(target)
    if cache_serves(settings, meta.version):
        typer.echo(f"already bootstrapped: the active cache version serves model {meta.version[:12]}")
        return
    typer.secho("bootstrap: refresh (full)", err=True, bold=True)
    refresh.refresh(ctx, artifact=target, mode="full", grace=0.5)
