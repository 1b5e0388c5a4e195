"""`genrec serve --artifact PATH`: run the online service under uvicorn, started by its import string.

Contract: the global options (`genrec --redis-url URL --work-dir ... serve`) mean here what they mean to every other
command: they are exported as GENREC_* variables (`Settings.as_env`) together with GENREC_ARTIFACT, so every worker
process builds the same `ServiceSettings` from its environment. Those settings are validated once here first (a bad
value exits 2 with a message naming it), then uvicorn starts `service.app:create_app`. With more than one worker it
prepares Prometheus multiprocess mode: PROMETHEUS_MULTIPROC_DIR (kept if set, else `WorkDir.prometheus()`) is
emptied before the workers start, so /metrics merges every worker's counters. It imports nothing from the service
and knows nothing about the routes.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from model.errors import UserError
from model.settings import ServiceSettings
from offline.common import settings_of

APP_FACTORY = "service.app:create_app"


def service_env(ctx: typer.Context, artifact: Path) -> dict[str, str]:
    """The GENREC_* variables a service started by this command runs with: the shared settings and the artifact."""
    return {**settings_of(ctx).as_env(), "GENREC_ARTIFACT": str(artifact.resolve())}


def serve(
    ctx: typer.Context,
    artifact: Annotated[Path, typer.Option(help="Model artifact folder (env GENREC_ARTIFACT).")],
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to bind.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, max=64, help="uvicorn worker processes.")] = 1,
    access_log: Annotated[bool, typer.Option(help="Log every request (costs throughput).")] = False,
) -> None:
    """Serve GET /users/{id}/recommendations, POST /users/{id}/events, /healthz, /readyz and /metrics."""
    import uvicorn

    settings = settings_of(ctx)
    os.environ.update(service_env(ctx, artifact))
    try:
        ServiceSettings()  # type: ignore[call-arg]  # fail here, once, rather than in every worker
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise UserError(f"service settings are invalid: {problems}") from None
    if workers > 1:
        folder = Path(os.environ.get("PROMETHEUS_MULTIPROC_DIR") or settings.workdir.prometheus())
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)
    uvicorn.run(
        APP_FACTORY,
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=access_log,
        log_level=settings.log_level.lower(),
    )
