"""The product's routes: GET recommendations (the hot path) and POST feedback events.

Contract: each route declares its parameters and dependencies in its signature (FastAPI validates them and documents
them in OpenAPI; `service.fastroute.LeanRoute` answers the GET without FastAPI's per-request solver, alike). Routes
check what a signature cannot (the user-id rule in force, raw item ids against the catalogue) and raise `ApiError`s
naming the field and value; the recommend route hands the rest to `RecommendPath` and returns its `Answer` as
pre-assembled JSON bytes with an `x-genrec-source` header (read by the metrics middleware); the OpenAPI document
describes that body (`Recommendations`). They know nothing about Redis keys or the model.
"""

from __future__ import annotations

import time
from typing import Annotated

import anyio
from fastapi import APIRouter, Body, Query, Response
from pydantic import Field

from model.ids import InvalidIdError
from service.answer import render
from service.catalogue import Catalogue
from service.deps import GeneratorDep, ServicesDep
from service.errors import ApiError
from service.fastroute import LeanRoute
from service.metrics import SOURCE_HEADER
from service.schemas import ErrorBody, EventIn, EventsAccepted, Recommendations
from service.state import Services

router = APIRouter(route_class=LeanRoute)
MAX_EXCLUDE = 200
_ERRORS: dict[int | str, dict[str, object]] = {
    404: {"model": ErrorBody, "description": "Unknown item, or a user id above GENREC_USER_ID_MAX"},
    422: {"model": ErrorBody, "description": "A parameter is invalid; the body names it and its value"},
}


class JSONBytes(Response):
    media_type = "application/json"


def check_user_id(user_id: str, services: Services) -> str:
    """The id under the rule in force (422 when malformed), refused with 404 when it is above GENREC_USER_ID_MAX and
    not a user of the model's table; a user the model has never seen is otherwise served (popular, then live)."""
    rule = services.user_ids
    try:
        user = rule.check(user_id)
    except InvalidIdError as exc:
        raise ApiError(422, "user_id", user_id, str(exc), ["path", "user_id"]) from None
    if rule.max_id is not None and not rule.admits_new(user) and user not in services.catalogue.user_sequences:
        message = f"user {user!r} is unknown: not in the model's user table and above the highest new id, {rule.max_id}"
        raise ApiError(404, "user_id", user_id, message, ["path", "user_id"])
    return user


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


@router.get(
    "/users/{user_id}/recommendations",
    response_class=JSONBytes,
    responses={200: {"model": Recommendations, "description": "The user's page of recommendations"}, **_ERRORS},
    summary="A user's top-k recommendations (cache, then live generation, then popularity)",
)
async def recommendations(
    user_id: str,
    services: ServicesDep,
    generator: GeneratorDep,
    k: Annotated[int, Query(ge=1, le=100, description="How many items (1..100)")] = 10,
    offset: Annotated[int, Query(ge=0, le=10_000, description="Skip this many of the user's list")] = 0,
    exclude: Annotated[
        list[str],
        Query(
            max_length=MAX_EXCLUDE,
            description="Raw item ids not to show (repeatable, or comma-separated); an unknown id is 404",
        ),
    ] = [],  # noqa: B006  (FastAPI copies a default for every request)
) -> Response:
    user = check_user_id(user_id, services)
    hidden = _item_indices(exclude, services.catalogue, "exclude") if exclude else frozenset()
    answer = await services.path.answer(user, k, offset, hidden, generator)
    return JSONBytes(render(answer, services.catalogue), headers={_SOURCE: answer.source})


_SOURCE = SOURCE_HEADER.decode()


EventsBody = EventIn | Annotated[list[EventIn], Field(min_length=1, max_length=1000)]


@router.post(
    "/users/{user_id}/events",
    status_code=202,
    response_model=EventsAccepted,
    responses={413: {"model": ErrorBody, "description": "Body too large"}, **_ERRORS},
    summary="Record what the user consumed (one event or a list, oldest first)",
)
async def post_events(user_id: str, services: ServicesDep, body: Annotated[EventsBody, Body()]) -> EventsAccepted:
    user = check_user_id(user_id, services)
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
