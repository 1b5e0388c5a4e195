"""LeanRoute answers exactly like FastAPI's own handler: differential checks over many query strings, on a small app
of its own and on the product's recommendations route (real app, real Redis, real tiny LM)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated

import httpx
import pytest
import redis
from fastapi import APIRouter, Body, Depends, FastAPI, Query, Request, Response
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from model.cache.keys import KeySchema
from service.errors import install
from service.fastroute import LeanRoute, compile_plan, parse_query
from tests.service_fixtures import fill_cache, raw, running, save_toy_artifact, settings_for, standard_path


async def get_name(request: Request) -> str:
    return str(request.app.state.name)


pytestmark = pytest.mark.anyio
router = APIRouter(route_class=LeanRoute)


@router.get("/things/{thing}")
async def things(
    thing: str,
    name: Annotated[str, Depends(get_name)],
    n: Annotated[int, Query(ge=1, le=9)] = 3,
    ratio: Annotated[float | None, Query(gt=0)] = None,
    tags: Annotated[list[str], Query(max_length=3)] = [],  # noqa: B006
    flag: bool = False,
) -> Response:
    return Response(repr((thing, name, n, ratio, tags, flag)).encode())


@router.get("/needs")
async def needs(must: Annotated[int, Query()]) -> Response:
    return Response(str(must).encode())


@router.post("/body")
async def body(value: Annotated[int, Body(embed=True)]) -> Response:
    return Response(str(value).encode())


def small_app(lean: bool) -> FastAPI:
    app = FastAPI()
    app.state.name = "n1"
    install(app)
    app.include_router(router)
    if not lean:
        app.dependency_overrides[get_name] = get_name
    return app


QUERIES = [
    "",
    "n=5",
    "n=0",
    "n=10",
    "n=abc",
    "n=1&n=7",
    "n=",
    "ratio=0.5",
    "ratio=-1",
    "ratio=x",
    "tags=a&tags=b",
    "tags=a&tags=b&tags=c&tags=d",
    "tags=",
    "flag=yes",
    "flag=maybe",
    "n=%37",
    "tags=a%2Cb+c",
    "tags=%ZZ",
    "n=2&other=1&=&&",
    "n=%F0%9F%98%80",
]


async def _answers(app: FastAPI, paths: list[str]) -> list[tuple[int, bytes, str | None]]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        out = []
        for path in paths:
            r = await client.get(path)
            out.append((r.status_code, r.content, r.headers.get("content-type")))
        return out


def test_simple_endpoints_compile_and_others_do_not() -> None:
    routes = {r.path: r for r in small_app(True).routes if isinstance(r, LeanRoute)}
    assert routes["/things/{thing}"].plan is not None and routes["/needs"].plan is not None
    assert routes["/body"].plan is None  # a body parameter: FastAPI's own handler, always
    assert compile_plan(routes["/body"].dependant) is None


async def test_lean_and_standard_answer_alike_on_a_small_app() -> None:
    paths = [f"/things/t1?{q}" for q in QUERIES] + ["/needs", "/needs?must=4", "/needs?must=four"]
    lean, standard = await _answers(small_app(True), paths), await _answers(small_app(False), paths)
    for path, a, b in zip(paths, lean, standard, strict=True):
        assert a == b, path
    assert lean[0][:2] == (200, b"('t1', 'n1', 3, None, [], False)")
    assert {status for status, _, _ in lean} == {200, 422}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(
        st.tuples(st.sampled_from(["n", "ratio", "tags", "flag", "x"]), st.text(max_size=6)),
        max_size=5,
    )
)
async def test_random_query_strings_answer_alike(pairs: list[tuple[str, str]]) -> None:
    query = str(httpx.QueryParams(pairs))
    paths = [f"/things/a?{query}"]
    assert await _answers(small_app(True), paths) == await _answers(small_app(False), paths)


def test_the_query_parser_reads_what_starlette_reads() -> None:
    from starlette.datastructures import QueryParams

    for query in [*QUERIES, "a=1;b=2", "%41=%42", "+=+", "a&b=", "k=1&k=2&k=3"]:
        theirs: dict[str, list[str]] = {}
        for name, value in QueryParams(query).multi_items():
            theirs.setdefault(name, []).append(value)
        assert parse_query(query.encode("latin-1")) == theirs, query


@pytest.fixture(scope="module")
def artifact_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_toy_artifact(tmp_path_factory)


@pytest.fixture
async def product(
    artifact_dir: Path, redis_client: redis.Redis, keys: KeySchema
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    fill_cache(redis_client, keys, model_version="mv")
    async with running(settings_for(artifact_dir, keys, live_enabled=False)) as pair:
        yield pair


async def test_the_recommendations_route_answers_alike_both_ways(
    product: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    app, client = product
    queries = [
        "",
        "k=3",
        "k=3&offset=2",
        "k=0",
        "k=101",
        "k=x",
        "offset=-1",
        f"exclude={raw(1)}&exclude={raw(2)},{raw(3)}",
        "exclude=nope",
        "&".join(f"exclude={raw(i % 50)}" for i in range(201)),
        "k=4&k=2",
        "k=%32",
    ]
    paths = [f"/users/{user}/recommendations?{q}" for user in ("1", "13", "999", "abc") for q in queries]

    async def answers() -> list[tuple[int, bytes, str | None]]:
        out = []
        for path in paths:
            r = await client.get(path)
            out.append((r.status_code, r.content, r.headers.get("x-genrec-source")))
        return out

    lean = await answers()
    standard_path(app)
    standard = await answers()
    for path, a, b in zip(paths, lean, standard, strict=True):
        assert a == b, path
    assert {status for status, _, _ in lean} == {200, 404, 422}
