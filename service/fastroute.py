"""`LeanRoute`: a FastAPI route that answers simple endpoints without FastAPI's per-request dependency solver.

Contract: a route declared with `route_class=LeanRoute` is an ordinary FastAPI route: its signature declares its path
and query parameters and its `Depends`, and the OpenAPI document is FastAPI's own. When the endpoint is *simple* — a
coroutine taking path and query parameters only (no body, header, cookie, form or security parameters) and dependencies
that are coroutines of the `Request` alone (no parameters of their own, no yield) — requests are answered by a handler
compiled at start-up: it parses the query string once, validates each parameter with FastAPI's own field
(`ModelField.validate`: the same coercions, constraints and error records), calls each dependency once, and awaits the
endpoint, which must return a `Response`. The commonest values skip even that: a plain ASCII-digit string for an `int`
within its `ge`/`gt`/`le`/`lt` bounds, a `str` without constraints, a list of strings within its length bounds are taken
as they are (what the field would return); anything else, every error included, goes through the field. Errors raise
`RequestValidationError` with the records FastAPI would raise, so the app's handlers answer them alike. While
`app.dependency_overrides` names one of the route's dependencies, the route takes FastAPI's standard path, so parts can
be swapped in tests as with any route. An endpoint that is not simple gets the standard path always.
`tests/test_fastroute.py` checks both paths answer every request alike.

Why: FastAPI's solver re-inspects every parameter's annotation on every request. For the recommendations route's
signature (a path parameter, three query parameters, two dependencies) it measured ~170 µs of CPU per request on
FastAPI 0.136 against ~33 µs for this handler and ~22 µs for a bare Starlette route that parses nothing, while the
cached answer itself costs ~25 µs (`python tools/benchmarks/bench_route.py`, 2026-12-02, 2-core Intel Xeon).
It knows nothing about what the endpoints do.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from copy import deepcopy
from dataclasses import dataclass
from typing import Any, get_origin
from urllib.parse import unquote_plus

import annotated_types as at
from fastapi.dependencies.models import Dependant
from fastapi.dependencies.utils import _get_multidict_value, get_missing_field_error
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import request_response
from starlette.types import ASGIApp, Receive, Scope, Send


def parse_query(raw: bytes) -> dict[str, list[str]]:
    """The query string as name -> values in order, decoded as Starlette decodes it (latin-1 text, then percent and
    plus decoding as UTF-8 with replacement), with decoding skipped for parts that need none."""
    out: dict[str, list[str]] = {}
    if not raw:
        return out
    for pair in raw.decode("latin-1").split("&"):
        if not pair:
            continue
        name, _, value = pair.partition("=")
        if "%" in pair or "+" in pair:
            name, value = unquote_plus(name, errors="replace"), unquote_plus(value, errors="replace")
        out.setdefault(name, []).append(value)
    return out


_SLOW = object()  # a fast check's answer when the value must go through the field
_IMMUTABLE = (int, float, str, bool, bytes, tuple, frozenset, type(None))
_BOUNDS = {at.Ge: lambda v, b: v >= b.ge, at.Gt: lambda v, b: v > b.gt, at.Le: lambda v, b: v <= b.le}
_BOUNDS[at.Lt] = lambda v, b: v < b.lt
FastCheck = Callable[[Any], Any]


@dataclass(frozen=True, slots=True)
class _Param:
    name: str  # the endpoint's keyword
    alias: str  # the name in the query string or path
    field: Any  # FastAPI's ModelField for it
    sequence: bool  # a list parameter: every value, not the last
    fast: FastCheck | None  # the value for the commonest inputs without the field, or _SLOW
    default: Callable[[], Any]  # a fresh copy of the default, as FastAPI gives each request


def _fast_check(field: Any) -> FastCheck | None:
    """A check that returns what `field.validate` would for the commonest raw values, else `_SLOW`; None when the
    field's type has none."""
    annotation, metadata = field.field_info.annotation, list(field.field_info.metadata)
    if annotation is int and all(type(m) in _BOUNDS for m in metadata):
        tests = [(_BOUNDS[type(m)], m) for m in metadata]

        def integer(raw: Any) -> Any:
            if not (isinstance(raw, str) and raw.isascii() and raw.isdigit() and len(raw) <= 18):
                return _SLOW
            value = int(raw)
            return value if all(test(value, bound) for test, bound in tests) else _SLOW

        return integer
    if annotation is str and not metadata:
        return lambda raw: raw if type(raw) is str else _SLOW
    if get_origin(annotation) is list and annotation.__args__ == (str,):
        if not all(isinstance(m, at.MaxLen | at.MinLen) for m in metadata):
            return None
        low = max((m.min_length for m in metadata if isinstance(m, at.MinLen)), default=0)
        high = min((m.max_length for m in metadata if isinstance(m, at.MaxLen)), default=1 << 62)

        def strings(raw: Any) -> Any:
            if type(raw) is list and low <= len(raw) <= high and all(type(v) is str for v in raw):
                return raw
            return _SLOW

        return strings
    return None


@dataclass(frozen=True, slots=True)
class _Plan:
    path: tuple[_Param, ...]
    query: tuple[_Param, ...]
    dependencies: tuple[tuple[str, Callable[[Request], Awaitable[Any]]], ...]  # (keyword, getter)
    request_name: str | None  # the endpoint's own `request: Request` parameter, if any


def _param(field: Any) -> _Param:
    # FastAPI's own rule for "every value" parameters, asked once here instead of per request
    probe = _get_multidict_value(field, QueryParams([(field.alias, "a"), (field.alias, "b")]))
    return _Param(field.name, field.alias, field, isinstance(probe, list), _fast_check(field), _copier(field.default))


def _copier(default: Any) -> Callable[[], Any]:
    """What `deepcopy(default)` returns, cheaply for the common defaults (immutables, lists of immutables)."""
    if isinstance(default, _IMMUTABLE):
        return lambda: default
    if type(default) is list and all(isinstance(v, _IMMUTABLE) for v in default):
        return lambda: list(default)
    return lambda: deepcopy(default)


def _simple_dependency(dep: Dependant) -> bool:
    call = dep.call
    own = (dep.path_params, dep.query_params, dep.header_params, dep.cookie_params, dep.body_params, dep.dependencies)
    return (
        call is not None
        and inspect.iscoroutinefunction(call)
        and not any(own)
        and dep.request_param_name is not None
        and len(inspect.signature(call).parameters) == 1
        and dep.name is not None
    )


def compile_plan(dependant: Dependant) -> _Plan | None:
    """The lean plan of an endpoint, or None when it is not simple (see the module contract)."""
    extra = (
        dependant.header_params,
        dependant.cookie_params,
        dependant.body_params,
        dependant.background_tasks_param_name,
        dependant.response_param_name,
        dependant.security_scopes_param_name,
        dependant.websocket_param_name,
        dependant.http_connection_param_name,
    )
    if dependant.call is None or not inspect.iscoroutinefunction(dependant.call) or any(extra):
        return None
    if not all(_simple_dependency(d) for d in dependant.dependencies):
        return None
    return _Plan(
        path=tuple(_param(f) for f in dependant.path_params),
        query=tuple(_param(f) for f in dependant.query_params),
        dependencies=tuple((d.name, d.call) for d in dependant.dependencies),  # type: ignore[misc]
        request_name=dependant.request_param_name,
    )


def _value(param: _Param, raw: Any, loc: str, errors: list[Any]) -> Any:
    """The parameter's value from its raw input (None: absent), appending FastAPI's error records to `errors`."""
    if raw is None or (param.sequence and not raw):
        if param.field.field_info.is_required():
            errors.append(get_missing_field_error(loc=(loc, param.alias)))
            return None
        return param.default()
    if param.fast is not None and (value := param.fast(raw)) is not _SLOW:
        return value
    value, problems = param.field.validate(raw, {}, loc=(loc, param.alias))
    errors.extend(problems)
    return value


class LeanRoute(APIRoute):
    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, endpoint, **kwargs)
        self.plan = compile_plan(self.dependant)
        if self.plan is not None:
            self._standard: ASGIApp = self.app
            self._lean: ASGIApp = request_response(self._answer)
            self._getters = {call for _, call in self.plan.dependencies}
            self.app = self._dispatch

    async def _dispatch(self, scope: Scope, receive: Receive, send: Send) -> None:
        overrides = scope["app"].dependency_overrides if "app" in scope else {}
        if overrides and not self._getters.isdisjoint(overrides):
            await self._standard(scope, receive, send)
        else:
            await self._lean(scope, receive, send)

    async def _answer(self, request: Request) -> Response:
        plan = self.plan
        assert plan is not None
        values: dict[str, Any] = {}
        errors: list[Any] = []
        for name, getter in plan.dependencies:
            values[name] = await getter(request)
        path_params = request.path_params
        for param in plan.path:
            values[param.name] = _value(param, path_params.get(param.alias), "path", errors)
        if plan.query:
            query = parse_query(request.scope["query_string"])
            for param in plan.query:
                given = query.get(param.alias)
                raw = given if param.sequence else (given[-1] if given else None)
                values[param.name] = _value(param, raw, "query", errors)
        if errors:
            raise RequestValidationError(errors)
        if plan.request_name is not None:
            values[plan.request_name] = request
        response = await self.dependant.call(**values)  # type: ignore[misc]
        if not isinstance(response, Response):
            raise TypeError(f"{self.path}: a LeanRoute endpoint returns a Response, got {type(response).__name__}")
        return response
