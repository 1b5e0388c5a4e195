"""What a route's request handling costs per request, by handler, for the recommendations route's signature.

Not a test. The same endpoint (path parameter, three query parameters, two `Depends` of the request, returning a
ready `Response`) is served three ways inside one FastAPI app and called in-process through ASGI, with no network
and no Redis, so only the routing machinery is timed: FastAPI's standard handler (its dependency solver), this
product's `service.fastroute.LeanRoute` (the compiled handler the recommendations route uses), and a bare Starlette
`Route` that parses nothing (the floor). Rows: µs of CPU per request (best of --rounds), and the ratio to FastAPI's.

    python tools/benchmarks/bench_route.py --calls 20000 --rounds 5 --out runs/bench/route.json
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from typing import Annotated, Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from fastapi import APIRouter, Depends, FastAPI, Query, Request, Response
from fastapi.routing import APIRoute
from starlette.routing import Route

from service.fastroute import LeanRoute
from tools.benchmarks.report import emit

QUERY = b"k=10&offset=2&exclude=5001&exclude=5002"


async def get_one(request: Request) -> object:
    return request.app.state.one


async def get_two(request: Request) -> object:
    return None


async def endpoint(
    user_id: str,
    one: Annotated[object, Depends(get_one)],
    two: Annotated[object, Depends(get_two)],
    k: Annotated[int, Query(ge=1, le=100)] = 10,
    offset: Annotated[int, Query(ge=0, le=10_000)] = 0,
    exclude: Annotated[list[str], Query(max_length=200)] = [],  # noqa: B006
) -> Response:
    return Response(b"{}", media_type="application/json")


async def bare(request: Request) -> Response:
    return Response(b"{}", media_type="application/json")


def app_with(route_class: type[APIRoute] | None) -> FastAPI:
    app = FastAPI()
    app.state.one = object()
    if route_class is None:
        app.router.routes.append(Route("/users/{user_id}/recommendations", bare, methods=["GET"]))
    else:
        router = APIRouter(route_class=route_class)
        router.add_api_route("/users/{user_id}/recommendations", endpoint, methods=["GET"])
        app.include_router(router)
    return app


async def per_request_us(app: FastAPI, calls: int) -> float:
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/users/12/recommendations",
        "raw_path": b"/users/12/recommendations",
        "query_string": QUERY,
        "headers": [(b"host", b"bench")],
        "server": ("bench", 80),
        "client": ("client", 1),
        "root_path": "",
    }
    statuses: list[int] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    for _ in range(200):  # warm-up: the middleware stack is built on the first call
        await app(dict(scope), receive, send)
    start = time.process_time()
    for _ in range(calls):
        await app(dict(scope), receive, send)
    seconds = time.process_time() - start
    if set(statuses) != {200}:
        raise RuntimeError(f"the route answered {sorted(set(statuses))}, expected 200 only")
    return seconds / calls * 1e6


async def main_async(args: argparse.Namespace) -> list[dict[str, Any]]:
    cases = {
        "FastAPI's standard handler (APIRoute)": app_with(APIRoute),
        "LeanRoute (service.fastroute)": app_with(LeanRoute),
        "bare Starlette Route, parses nothing": app_with(None),
    }
    best = dict.fromkeys(cases, float("inf"))
    for _ in range(args.rounds):
        for name, app in cases.items():
            best[name] = min(best[name], await per_request_us(app, args.calls))
    reference = best["FastAPI's standard handler (APIRoute)"]
    return [
        {"handler": name, "us_cpu_per_request": round(us, 1), "x_fastapi": round(us / reference, 3)}
        for name, us in best.items()
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=20_000, help="Requests per handler per round.")
    parser.add_argument("--rounds", type=int, default=5, help="Rounds; the best is kept.")
    parser.add_argument("--out", type=Path, default=None, help="JSON output path.")
    args = parser.parse_args()
    if args.calls < 1 or args.rounds < 1:
        parser.error("--calls and --rounds must be >= 1")
    rows = asyncio.run(main_async(args))
    title = (
        f"Route handling per request ({args.calls} calls x {args.rounds} rounds, best round, query {QUERY.decode()})"
    )
    emit(title, rows, args.out)


if __name__ == "__main__":
    main()
