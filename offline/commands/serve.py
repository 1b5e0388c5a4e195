"""`genrec serve --artifact PATH`: run the online service (service.app) under uvicorn.

Contract: validates the service settings once here (GENREC_* variables plus these flags; a bad value exits 2 with a
message naming it), then starts uvicorn with the app factory. With more than one worker it prepares Prometheus
multiprocess mode: PROMETHEUS_MULTIPROC_DIR (kept if set, else a fresh folder under the work dir) is emptied before
the workers start, so /metrics merges every worker's counters. It knows nothing about the routes.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from model.errors import UserError
from model.settings import Settings


def serve(
    ctx: typer.Context,
    artifact: Annotated[Path, typer.Option(help="Model artifact folder (env GENREC_ARTIFACT).")],
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to bind.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, max=64, help="uvicorn worker processes.")] = 1,
    redis_url: Annotated[str | None, typer.Option(help="Redis URL (env GENREC_REDIS_URL).")] = None,
    access_log: Annotated[bool, typer.Option(help="Log every request (costs throughput).")] = False,
) -> None:
    """Serve GET /users/{id}/recommendations, POST /users/{id}/events, /healthz, /readyz and /metrics."""
    import uvicorn

    from service.settings import ServiceSettings

    settings: Settings = ctx.obj
    os.environ["GENREC_ARTIFACT"] = str(artifact.resolve())
    if redis_url is not None:
        os.environ["GENREC_REDIS_URL"] = redis_url
    try:
        ServiceSettings()  # type: ignore[call-arg]  # fail here, once, rather than in every worker
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise UserError(f"service settings are invalid: {problems}") from None
    if workers > 1:
        folder = Path(os.environ.get("PROMETHEUS_MULTIPROC_DIR") or settings.work_dir / "prometheus")
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)
    uvicorn.run(
        "service.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=access_log,
        log_level=settings.log_level.lower(),
    )
