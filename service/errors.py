"""Error answers: every validation problem is a 4xx JSON body naming the field and the value; Redis trouble is 503.

Contract: `ApiError(status, field, value, message)` is what routes raise for problems they detect themselves
(non-numeric or unknown user ids, unknown item ids, oversized bodies). `install(app)` registers handlers that turn
`ApiError`, FastAPI's `RequestValidationError`, Starlette's `HTTPException` (unknown path 404, wrong method 405; a
body that cannot even be decoded becomes 422 like any other malformed JSON) and `redis.RedisError` into `ErrorBody`
JSON (`{"detail": [{"field", "value", "message", "loc"}]}`). It knows nothing about the recommend path.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
import redis
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from model.logs import get_logger

log = get_logger(__name__)


class ApiError(Exception):
    def __init__(self, status: int, field: str, value: Any, message: str, loc: list[str | int] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.problem = {"field": field, "value": value, "message": message, "loc": loc or [field]}


def json_response(content: Any, status: int) -> Response:
    try:
        body = orjson.dumps(content)
    except TypeError:  # an echoed input orjson cannot write (an integer beyond 64 bits): the stdlib can
        body = json.dumps(content, default=repr).encode()
    return Response(body, status_code=status, media_type="application/json")


def _json_safe(value: Any) -> Any:
    return value if isinstance(value, str | int | float | bool | type(None) | list | dict) else repr(value)


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return json_response({"detail": [exc.problem]}, exc.status)


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    problems = []
    for err in exc.errors():
        loc = [p for p in err.get("loc", ()) if isinstance(p, str | int)]
        named = [p for p in loc if isinstance(p, str) and p not in ("query", "path", "body", "header")]
        field = ".".join(str(p) for p in loc[1:]) or (named[-1] if named else "request")
        value = _json_safe(err.get("input"))
        problems.append(
            {"field": field, "value": value, "message": f"{field}: {err.get('msg')} (got {value!r})", "loc": loc}
        )
    return json_response({"detail": problems}, 422)


async def _redis_error(request: Request, exc: Exception) -> Response:
    log.warning("redis unavailable", path=request.url.path, error=repr(exc))
    metrics = getattr(request.app.state, "metrics", None)
    if metrics is not None:
        metrics.redis_errors.labels("request").inc()
    problem = {"field": "redis", "value": None, "message": f"the cache is unavailable: {exc}", "loc": ["redis"]}
    return json_response({"detail": [problem]}, 503)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    status, message = exc.status_code, str(exc.detail)
    field, value = {404: ("path", request.url.path), 405: ("method", request.method)}.get(status, ("request", None))
    if status == 400 and "parsing the body" in message:  # FastAPI's answer to bytes json.loads cannot decode
        status, field, message = 422, "body", "body: not valid JSON (the bytes could not be decoded)"
    problem = {"field": field, "value": value, "message": message, "loc": [field]}
    return Response(orjson.dumps({"detail": [problem]}), status, exc.headers, media_type="application/json")


def install(app: FastAPI) -> None:
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(redis.RedisError, _redis_error)
    app.add_exception_handler(ConnectionError, _redis_error)
