"""Operations routes: liveness, readiness and Prometheus metrics.

Contract: `/healthz` answers 200 while the process serves requests (it touches nothing else). `/readyz` answers 200 only
when Redis answers (on a Redis Cluster: every hash slot is served), a cache version is active and the model is loaded
(the artifact always is, the LM when live generation is enabled); otherwise 503 with every reason. `/metrics` is the
Prometheus text exposition (merged over worker processes in multiprocess mode). They know nothing about the recommend
path.
"""

from __future__ import annotations

import redis
from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST

from service.deps import ServicesDep
from service.errors import json_response
from service.schemas import Readiness

router = APIRouter()


@router.get("/healthz", summary="Liveness")
async def healthz() -> dict[str, bool]:
    return {"alive": True}


@router.get("/readyz", response_model=Readiness, responses={503: {"model": Readiness}}, summary="Readiness")
async def readyz(services: ServicesDep) -> Response:
    reasons = []
    version = None
    try:
        await services.reader.ping()
        uncovered = await services.reader.coverage()
        if uncovered is not None:
            reasons.append(uncovered)
        state = await services.version.refresh()
        version = state.version
        if version is None:
            reasons.append(f"no active cache version ({services.keys.active()} is not set)")
    except (redis.RedisError, OSError) as exc:
        services.metrics.redis_errors.labels("readyz").inc()
        reasons.append(f"redis unreachable: {exc}")
    if services.settings.live_enabled and services.generator is None:
        reasons.append(f"model not loaded: {services.generator_error}")
    body = Readiness(
        ready=not reasons, reasons=reasons, active_version=version, model_version=services.catalogue.model_version
    )
    return json_response(body.model_dump(), 200 if not reasons else 503)


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics(services: ServicesDep) -> Response:
    return Response(services.metrics.exposition(), media_type=CONTENT_TYPE_LATEST)
