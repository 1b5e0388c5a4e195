"""The product's routes: GET recommendations (the hot path) and POST feedback events.

Contract: routes validate what FastAPI cannot (user id format, raw item ids) and raise `ApiError`s naming the field
and value; the recommend route hands the rest to `RecommendPath` and returns its `Answer` as pre-assembled JSON bytes
with an `x-genrec-source` header (read by the metrics middleware). The OpenAPI document still describes the body
(`Recommendations`). They know nothing about Redis keys or the model.
"""

from __future__ import annotations

import re
import time
from typing import Annotated
from urllib.parse import unquote_plus

import anyio
from fastapi import APIRouter, Body, Request, Response
from pydantic import Field
from starlette.routing import Route

from service.answer import render
from service.catalogue import Catalogue
from service.deps import ServicesDep, get_generator, get_services, resolve
from service.errors import ApiError
from service.live import ItemGenerator
from service.metrics import SOURCE_HEADER
from service.recommend import UnknownUserError
from service.schemas import ErrorBody, EventIn, EventsAccepted, Recommendations
from service.state import Services

router = APIRouter()
INT_ID_PATTERN = r"[0-9]{1,20}"
TOKEN_ID_PATTERN = r"[A-Za-z0-9_.:@\-]{1,128}"
_INT_ID = re.compile(INT_ID_PATTERN)
_TOKEN_ID = re.compile(TOKEN_ID_PATTERN)
_ERRORS: dict[int | str, dict[str, object]] = {
    404: {"model": ErrorBody, "description": "Unknown user or item"},
    422: {"model": ErrorBody, "description": "A parameter is invalid; the body names it and its value"},
}


class JSONBytes(Response):
    media_type = "application/json"


def check_user_id(user_id: str, fmt: str) -> str:
    if fmt == "int":
        if not _INT_ID.fullmatch(user_id):
            raise ApiError(422, "user_id", user_id, f"user_id must be a non-negative integer (got {user_id!r})")
    elif not _TOKEN_ID.fullmatch(user_id):
        raise ApiError(
            422, "user_id", user_id, f"user_id must be 1-128 of letters, digits, _ . : @ - (got {user_id!r})"
        )
    return user_id


def _item_indices(raw_ids: list[str], catalogue: Catalogue, field: str) -> frozenset[int]:
    """Item ids (repeated and/or comma-separated; empty parts skipped) -> indices; an unknown id is 404, as in
    events (a well-formed request naming a missing resource)."""
    out = set()
    for raw in raw_ids:
        for part in raw.split(","):
            if not part:
                continue
            index = catalogue.item_index.get(part)
            if index is None:
                raise ApiError(404, field, part, f"{field}: item id {part!r} is not in the catalogue", ["query", field])
            out.add(index)
    return frozenset(out)


def parse_query(raw: bytes) -> dict[str, list[str]]:
    """The query string as name -> values (repeated names kept in order); percent/plus-decoding only when needed.
    Cheaper than Starlette's QueryParams (parse_qsl + a multidict) for the hot route's two or three parameters."""
    out: dict[str, list[str]] = {}
    if not raw:
        return out
    text = raw.decode("latin-1")
    for pair in text.split("&"):
        if not pair:
            continue
        name, _, value = pair.partition("=")
        if "%" in pair or "+" in pair:
            name, value = unquote_plus(name, errors="replace"), unquote_plus(value, errors="replace")
        out.setdefault(name, []).append(value)
    return out


def _int_param(query: dict[str, list[str]], name: str, default: int, low: int, high: int) -> int:
    values = query.get(name)
    if not values:
        return default
    raw = values[-1]
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(422, name, raw, f"{name} must be an integer (got {raw!r})", ["query", name]) from None
    if not low <= value <= high:
        raise ApiError(422, name, value, f"{name} must be in [{low}, {high}] (got {value})", ["query", name])
    return value


_QUERY_DOC = [
    {
        "name": "k",
        "in": "query",
        "required": False,
        "description": "How many items (1..100)",
        "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 10},
    },
    {
        "name": "offset",
        "in": "query",
        "required": False,
        "description": "Skip this many of the user's list",
        "schema": {"type": "integer", "minimum": 0, "maximum": 10_000, "default": 0},
    },
    {
        "name": "exclude",
        "in": "query",
        "required": False,
        "description": "Raw item ids not to show (repeatable, or comma-separated); an unknown id is 404",
        "schema": {"type": "array", "items": {"type": "string"}, "maxItems": 200},
    },
]


@router.get(
    "/users/{user_id}/recommendations",
    response_class=JSONBytes,
    responses={200: {"model": Recommendations, "description": "The user's page of recommendations"}, **_ERRORS},
    summary="A user's top-k recommendations (cache, then live generation, then popularity)",
    openapi_extra={"parameters": _QUERY_DOC},
)
async def recommendations(user_id: str, request: Request) -> Response:
    """The documented route; with `plain_route` (the default) `fast_route` answers the same path first."""
    return await serve_recommendations(request, user_id)


async def _fast_endpoint(request: Request) -> Response:
    request.scope["route"] = fast_route  # FastAPI's router records only its own routes; the metrics label needs it
    return await serve_recommendations(request, request.path_params["user_id"])


# The same endpoint as a plain Starlette route: FastAPI's per-request handling (dependency solving, exit stacks,
# parameter validation) measured ~95 µs CPU here against ~25 µs for a Starlette route, more than the rest of the
# cached path. Errors still go through the app's exception handlers; the APIRoute above documents it.
fast_route = Route("/users/{user_id}/recommendations", _fast_endpoint, methods=["GET"], include_in_schema=False)


async def serve_recommendations(request: Request, user_id: str) -> Response:
    # Query parameters are parsed here, not declared: FastAPI's parameter/dependency solver costs more per request
    # than the rest of this path (see service.deps); they are documented in OpenAPI through openapi_extra.
    services: Services = await resolve(request, get_services)
    generator: ItemGenerator | None = await resolve(request, get_generator)
    user = check_user_id(user_id, services.settings.user_id_format)
    query = parse_query(request.scope["query_string"])
    k = _int_param(query, "k", 10, 1, 100)
    offset = _int_param(query, "offset", 0, 0, 10_000)
    exclude = query.get("exclude", [])
    if len(exclude) > 200:
        raise ApiError(422, "exclude", len(exclude), "at most 200 exclude values", ["query", "exclude"])
    hidden = _item_indices(exclude, services.catalogue, "exclude") if exclude else frozenset()
    try:
        answer = await services.path.answer(user, k, offset, hidden, generator)
    except UnknownUserError as exc:
        raise ApiError(404, "user_id", user_id, str(exc), ["path", "user_id"]) from None
    return JSONBytes(render(answer, services.catalogue), headers={SOURCE_HEADER.decode(): answer.source})


EventsBody = EventIn | Annotated[list[EventIn], Field(min_length=1, max_length=1000)]


@router.post(
    "/users/{user_id}/events",
    status_code=202,
    response_model=EventsAccepted,
    responses={413: {"model": ErrorBody, "description": "Body too large"}, **_ERRORS},
    summary="Record what the user consumed (one event or a list, oldest first)",
)
async def post_events(user_id: str, services: ServicesDep, body: Annotated[EventsBody, Body()]) -> EventsAccepted:
    user = check_user_id(user_id, services.settings.user_id_format)
    events = body if isinstance(body, list) else [body]
    cap = services.settings.max_events_per_post
    if len(events) > cap:
        raise ApiError(413, "body", len(events), f"at most {cap} events per request (got {len(events)})", ["body"])
    now = int(time.time())
    items, stamps = [], []
    for i, event in enumerate(events):
        raw = str(event.item)
        index = services.catalogue.item_index.get(raw)
        if index is None:
            loc: list[str | int] = ["body", i, "item"] if isinstance(body, list) else ["body", "item"]
            raise ApiError(404, "item", raw, f"item id {raw!r} is not in the catalogue", loc)
        items.append(index)
        stamps.append(event.ts if event.ts is not None else now)
    await anyio.to_thread.run_sync(services.history.record, user, items, stamps)
    return EventsAccepted(user_id=user, recorded=len(items))
