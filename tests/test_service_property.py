"""Hypothesis against the running service (a real uvicorn in a thread, real Redis, real tiny artifact): event
bodies of random JSON, random bytes, and event lists checked against an oracle of the documented rules, plus random
user ids and query strings, never get a 5xx; every refusal is an `ErrorBody` naming a field. Budget:
`tests.fuzz_budget.examples` per property (GENREC_FUZZ_EXAMPLES for a bigger run)."""

from __future__ import annotations

import json
import struct
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import orjson
import pytest
import redis
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from model.cache.keys import KeySchema
from service.app import create_app
from service.schemas import ErrorBody, EventsAccepted
from tests.fuzz_budget import examples
from tests.live_server import uvicorn_thread
from tests.redis_fixtures import REDIS_URL
from tests.service_fixtures import N_ITEMS, fill_cache, save_toy_artifact, settings_for

API_KEY = "prop-" + uuid.uuid4().hex
MAX_BODY = 4096
MAX_EVENTS = 20
KNOWN = [str(5000 + i) for i in range(N_ITEMS)]
FUZZ = settings(
    max_examples=examples(100),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@dataclass
class Served:
    http: httpx.Client
    keys: KeySchema
    redis: redis.Redis


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    artifact: Path = save_toy_artifact(tmp_path_factory)
    keys = KeySchema(prefix="t" + uuid.uuid4().hex[:12])
    direct = redis.Redis.from_url(REDIS_URL)
    fill_cache(direct, keys, model_version="mv-prop")
    settings_ = settings_for(
        artifact,
        keys,
        api_keys=API_KEY,
        rate_limit_events=0,
        live_enabled=False,
        max_body_bytes=MAX_BODY,
        max_events_per_post=MAX_EVENTS,
    )
    with (
        uvicorn_thread(create_app(settings_)) as url,
        httpx.Client(base_url=url, headers={"X-API-Key": API_KEY}, timeout=30) as client,
    ):
        yield Served(client, keys, direct)
    stale = list(direct.scan_iter(match=keys.prefix + ":*"))
    if stale:
        direct.unlink(*stale)
    direct.close()


@pytest.fixture(scope="module")
def http(served: Served) -> httpx.Client:
    return served.http


def _refusal(r: httpx.Response, allowed: set[int]) -> None:
    assert r.status_code in allowed, (r.status_code, r.text)
    assert r.headers["content-type"].startswith("application/json")
    body = ErrorBody.model_validate_json(r.content)
    assert body.detail and all(p.field and p.message for p in body.detail), r.text


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5),
    max_leaves=20,
)


@FUZZ
@given(payload=json_values)
@example(payload={"item": "5001", "ts": 10**30})  # once a 500: orjson cannot echo an integer beyond 64 bits
def test_random_json_events_are_accepted_or_refused_never_5xx(http: httpx.Client, payload: Any) -> None:
    body = json.dumps(payload).encode()  # json, not orjson: integers beyond 64 bits are valid JSON too
    r = http.post("/users/1/events", content=body, headers={"content-type": "application/json"})
    if r.status_code == 202:
        EventsAccepted.model_validate_json(r.content)
    else:
        _refusal(r, {404, 413, 422})


@FUZZ
@given(body=st.binary(max_size=200), content_type=st.sampled_from(["application/json", "text/plain", ""]))
@example(body=b"\xcf\xb6\xff\xfe", content_type="application/json")  # once FastAPI's bare 400 (not an ErrorBody)
def test_random_bytes_are_refused_with_a_named_field(http: httpx.Client, body: bytes, content_type: str) -> None:
    r = http.post("/users/1/events", content=body, headers={"content-type": content_type} if content_type else {})
    if r.status_code == 202:  # random bytes that happen to be a valid event
        EventsAccepted.model_validate_json(r.content)
    else:
        _refusal(r, {404, 413, 422})


event = st.fixed_dictionaries(
    {"item": st.one_of(st.sampled_from(KNOWN), st.text(max_size=140), st.integers(4990, 5070))},
    optional={"ts": st.integers(-5, 2**33), "colour": st.just("red")},
)


def expected_status(events: list[dict[str, Any]], size: int) -> int:
    """The documented rules in the order the service applies them."""
    if size > MAX_BODY:
        return 413
    for e in events:
        item = e["item"]
        if "colour" in e or (isinstance(item, str) and not 1 <= len(item) <= 128) or not 0 <= e.get("ts", 0) < 2**32:
            return 422
    if len(events) > MAX_EVENTS:
        return 413
    return 202 if all(str(e["item"]) in KNOWN for e in events) else 404


@FUZZ
@given(events=st.lists(event, min_size=1, max_size=30))
def test_event_lists_follow_the_documented_rules(http: httpx.Client, events: list[dict[str, Any]]) -> None:
    body = orjson.dumps(events)
    r = http.post("/users/2/events", content=body, headers={"content-type": "application/json"})
    want = expected_status(events, len(body))
    assert r.status_code == want, (want, r.text)
    if want == 202:
        assert EventsAccepted.model_validate_json(r.content).recorded == len(events)
    else:
        _refusal(r, {want})


@FUZZ
@given(
    user=st.text(min_size=1, max_size=40) | st.integers(-5, 10**22).map(str),
    query=st.lists(
        st.tuples(st.sampled_from(["k", "offset", "exclude", "other"]), st.text(max_size=12) | st.sampled_from(KNOWN)),
        max_size=4,
    ),
)
def test_random_user_ids_and_queries_never_5xx(http: httpx.Client, user: str, query: list[tuple[str, str]]) -> None:
    r = http.get(f"/users/{quote(user, safe='')}/recommendations", params=query)
    if r.status_code == 200:
        assert r.json()["user_id"] == user
    else:
        _refusal(r, {404, 422})


def test_unknown_paths_and_methods_answer_error_bodies(http: httpx.Client) -> None:
    r = http.get("/no/such/route")
    assert r.status_code == 404 and ErrorBody.model_validate_json(r.content).detail[0].value == "/no/such/route"
    r = http.put("/users/1/events", json={"item": KNOWN[0]})
    assert r.status_code == 405 and r.headers["allow"] == "POST"
    assert ErrorBody.model_validate_json(r.content).detail[0].field == "method"


@st.composite
def cached_blobs(draw: st.DrawFn) -> bytes:
    """Well-framed lists (any ids, even beyond the catalogue; any float16 bits, NaN and inf included), foreign
    bytes, or valid lists cut short."""
    width = draw(st.sampled_from([2, 3, 4]))
    count = draw(st.integers(0, 60))
    ids = b"".join(draw(st.integers(0, (1 << (8 * width)) - 1)).to_bytes(width, "little") for _ in range(count))
    framed = struct.pack("<2sBBHI", b"GR", 1, width, count, draw(st.integers(0, 2**32 - 1)))
    framed += ids + draw(st.binary(min_size=2 * count, max_size=2 * count))
    return draw(st.one_of(st.just(framed), st.binary(max_size=200), st.just(framed[: draw(st.integers(0, 30))])))


@FUZZ
@given(blob=cached_blobs(), events=st.lists(st.binary(max_size=20), max_size=3))
def test_any_bytes_in_the_cache_are_served_or_treated_as_a_miss(
    served: Served, blob: bytes, events: list[bytes]
) -> None:
    """Whatever a bad writer left under a user's keys, the answer is a valid page of catalogue items, never a 5xx."""
    served.redis.set(served.keys.recs("v1", "3"), blob)
    history = served.keys.history("3")
    served.redis.delete(history)
    if events:
        served.redis.rpush(history, *events)
    r = served.http.get("/users/3/recommendations", params={"k": 5})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["source"] in {"cache", "popular"} and len(body["items"]) == 5
    assert all(item["id"] in KNOWN for item in body["items"])
    assert all(item["score"] is None or isinstance(item["score"], float) for item in body["items"])
