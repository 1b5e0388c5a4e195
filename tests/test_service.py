"""The online service over HTTP (httpx + ASGI transport, with the app's lifespan) against a real Redis and a real
tiny model artifact: cache hits, live generation on a miss and its write-back, popularity fallbacks (no history,
generator failure, deadline, saturation), feedback events, validation errors and metrics."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from pathlib import Path

import pytest
import redis

from model.cache.codec import decode, encode
from model.cache.keys import KeySchema
from model.generate import ScoredItem
from service.answer import Answer, render
from service.catalogue import Catalogue
from service.deps import get_generator
from service.fastcodec import decode_tuples
from service.schemas import Recommendations
from tests.service_fixtures import (
    CACHED_USERS,
    EMPTY_USER,
    N_ITEMS,
    fill_cache,
    metric_value,
    raw,
    running,
    save_toy_artifact,
    settings_for,
    toy_dataset,
)

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="session")
def artifact_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_toy_artifact(tmp_path_factory)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Raising:
    def recommend(self, histories: Sequence[Sequence[int]], k: int) -> list[list[ScoredItem]]:
        raise RuntimeError("generator exploded")


class Sleeping:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def recommend(self, histories: Sequence[Sequence[int]], k: int) -> list[list[ScoredItem]]:
        time.sleep(self.seconds)
        return [[ScoredItem(3, -0.5), ScoredItem(4, -0.7)] for _ in histories]


async def test_cache_hit_serves_the_cached_list(artifact_dir: Path, redis_client: redis.Redis, keys: KeySchema) -> None:
    lists = fill_cache(redis_client, keys, model_version="mv-cache")
    async with running(settings_for(artifact_dir, keys)) as (_, client):
        r = await client.get("/users/1/recommendations", params={"k": 5})
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == "application/json"
        body = Recommendations.model_validate(r.json())
        cached = lists["1"]
        assert body.source == "cache"
        assert body.model_version == "mv-cache"
        assert body.generated_at == cached.generated_at
        assert [it.id for it in body.items] == [raw(i) for i in cached.items[:5]]
        assert [it.title for it in body.items] == [f"title {i}" for i in cached.items[:5]]
        assert [it.rank for it in body.items] == [1, 2, 3, 4, 5]
        assert [it.score for it in body.items] == pytest.approx(cached.scores[:5], abs=0.01)

        page = (await client.get("/users/1/recommendations", params={"k": 2, "offset": 3})).json()
        assert [it["id"] for it in page["items"]] == [raw(i) for i in cached.items[3:5]]
        assert [it["rank"] for it in page["items"]] == [4, 5]

        hidden = [raw(cached.items[0]), raw(cached.items[2])]
        r = await client.get("/users/1/recommendations", params={"k": 3, "exclude": hidden})
        assert [it["id"] for it in r.json()["items"]] == [raw(i) for i in (cached.items[1], *cached.items[3:5])]

        # k beyond the cached K=50: completed from popularity, with null scores, never with the user's own items
        long = (await client.get("/users/1/recommendations", params={"k": 55})).json()["items"]
        seen = {raw(i) for i in toy_dataset().sequences[0]}
        assert len(long) == min(55, N_ITEMS - len(seen)) and long[49]["score"] is not None
        assert all(it["score"] is None for it in long[50:])
        assert len({it["id"] for it in long}) == len(long) and not seen & {it["id"] for it in long}

        text = (await client.get("/metrics")).text
        assert metric_value(text, "genrec_cache_hits_total") == 4.0
        route = "/users/{user_id}/recommendations"
        assert metric_value(text, "genrec_requests_total", route=route, status="200", source="cache") == 4.0


async def test_the_lean_handler_answers_like_fastapis_own(
    artifact_dir: Path, redis_client: redis.Redis, keys: KeySchema
) -> None:
    fill_cache(redis_client, keys, model_version="mv-cache")
    bodies = []
    for lean in (True, False):
        async with running(settings_for(artifact_dir, keys, live_enabled=False), lean=lean) as (_, client):
            ok = await client.get("/users/2/recommendations", params={"k": 4, "offset": 1})
            bad = await client.get("/users/2/recommendations", params={"k": 0})
            bodies.append((ok.status_code, ok.content, bad.status_code, bad.json()))
            text = (await client.get("/metrics")).text
            route = "/users/{user_id}/recommendations"
            assert metric_value(text, "genrec_requests_total", route=route, status="200", source="cache") == 1.0
    assert bodies[0] == bodies[1] and bodies[0][0] == 200 and bodies[0][2] == 422


async def test_miss_goes_live_and_is_written_back(
    artifact_dir: Path, redis_client: redis.Redis, keys: KeySchema
) -> None:
    fill_cache(redis_client, keys, model_version="mv-cache")
    async with running(settings_for(artifact_dir, keys)) as (app, client):
        r = await client.get("/users/7/recommendations", params={"k": 4})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["source"] == "live"
        services = app.state.services
        assert body["model_version"] == services.catalogue.model_version
        sequence = list(services.catalogue.user_sequences["7"])
        expected = services.generator.recommend([sequence], 50)[0]
        assert [it["id"] for it in body["items"]] == [raw(s.item) for s in expected[:4]]

        stored = redis_client.get(keys.recs("v1", "7"))
        assert stored is not None
        assert decode(stored).items.tolist() == [s.item for s in expected]

        again = (await client.get("/users/7/recommendations", params={"k": 4})).json()
        assert again["source"] == "cache"
        assert [it["id"] for it in again["items"]] == [it["id"] for it in body["items"]]
        text = (await client.get("/metrics")).text
        assert metric_value(text, "genrec_cache_misses_total", reason="absent") == 1.0
        assert metric_value(text, "genrec_cache_hits_total") == 1.0
        assert metric_value(text, "genrec_live_seconds_count") == 1.0


async def test_no_history_and_new_users(artifact_dir: Path, redis_client: redis.Redis, keys: KeySchema) -> None:
    fill_cache(redis_client, keys, model_version="mv-cache")
    async with running(settings_for(artifact_dir, keys)) as (app, client):
        popular = app.state.services.catalogue.popular
        r = await client.get(f"/users/{EMPTY_USER}/recommendations", params={"k": 6})
        assert r.status_code == 200 and r.json()["source"] == "popular"
        assert [it["id"] for it in r.json()["items"]] == [raw(i) for i in popular[:6]]
        assert all(it["score"] is None for it in r.json()["items"])

        r = await client.get("/users/999/recommendations", params={"k": 6})  # never seen: popular, as above
        assert r.status_code == 200 and r.json()["source"] == "popular"
        assert [it["id"] for it in r.json()["items"]] == [raw(i) for i in popular[:6]]

        # events make a new user known; their history is those events, so they get a live list
        r = await client.post("/users/999/events", json=[{"item": raw(1)}, {"item": 5002, "ts": 1_700_000_000}])
        assert r.status_code == 202, r.text
        assert r.json() == {"user_id": "999", "recorded": 2}
        r = await client.get("/users/999/recommendations", params={"k": 5})
        assert r.status_code == 200 and r.json()["source"] == "live"
        assert {raw(1), raw(2)}.isdisjoint(it["id"] for it in r.json()["items"])


async def test_generator_failure_falls_back_to_popular(
    artifact_dir: Path, redis_client: redis.Redis, keys: KeySchema
) -> None:
    fill_cache(redis_client, keys, model_version="mv-cache")
    async with running(settings_for(artifact_dir, keys)) as (app, client):
        app.dependency_overrides[get_generator] = lambda: Raising()
        r = await client.get("/users/8/recommendations", params={"k": 3})
        assert r.status_code == 200 and r.json()["source"] == "popular"
        assert redis_client.get(keys.recs("v1", "8")) is None  # nothing written back
        app.dependency_overrides[get_generator] = lambda: None  # not loaded
        r = await client.get("/users/8/recommendations", params={"k": 3})
        assert r.status_code == 200 and r.json()["source"] == "popular"
        text = (await client.get("/metrics")).text
        assert metric_value(text, "genrec_live_fallbacks_total", reason="error") == 1.0
        assert metric_value(text, "genrec_live_fallbacks_total", reason="not_loaded") == 1.0
        route = "/users/{user_id}/recommendations"
        assert metric_value(text, "genrec_requests_total", route=route, status="200", source="popular") == 2.0


async def test_deadline_falls_back_and_the_late_result_is_still_written(
    artifact_dir: Path, redis_client: redis.Redis, keys: KeySchema
) -> None:
    fill_cache(redis_client, keys, model_version="mv-cache")
    async with running(settings_for(artifact_dir, keys, live_deadline_ms=50)) as (app, client):
        app.dependency_overrides[get_generator] = lambda: Sleeping(1.0)
        r = await client.get("/users/9/recommendations", params={"k": 3})
        assert r.status_code == 200 and r.json()["source"] == "popular"
        text = (await client.get("/metrics")).text
        assert metric_value(text, "genrec_live_timeouts_total") == 1.0
        assert metric_value(text, "genrec_live_fallbacks_total", reason="deadline") == 1.0
        for _ in range(200):  # the generation finishes in the background and is written back
            if redis_client.get(keys.recs("v1", "9")) is not None:
                break
            await asyncio.sleep(0.05)
        stored = redis_client.get(keys.recs("v1", "9"))
        assert stored is not None and decode(stored).items.tolist() == [3, 4]


async def test_requests_beyond_the_queue_do_not_wait(
    artifact_dir: Path, redis_client: redis.Redis, keys: KeySchema
) -> None:
    fill_cache(redis_client, keys, model_version="mv-cache")
    settings = settings_for(artifact_dir, keys, live_concurrency=1, live_queue=0, live_write_back=False)
    async with running(settings) as (app, client):
        app.dependency_overrides[get_generator] = lambda: Sleeping(0.5)
        first, second = await asyncio.gather(
            client.get("/users/9/recommendations"), client.get("/users/10/recommendations")
        )
        assert sorted([first.json()["source"], second.json()["source"]]) == ["live", "popular"]
        text = (await client.get("/metrics")).text
        assert metric_value(text, "genrec_live_fallbacks_total", reason="saturated") == 1.0


async def test_events_exclude_consumed_items_and_regenerate_stale_lists(
    artifact_dir: Path, redis_client: redis.Redis, keys: KeySchema
) -> None:
    lists = fill_cache(redis_client, keys, model_version="mv-cache")
    cached = lists["2"]
    consumed = cached.items[:2]
    async with running(settings_for(artifact_dir, keys)) as (app, client):
        # with no generator a stale list is still served from the cache, minus what the user consumed
        app.dependency_overrides[get_generator] = lambda: None
        r = await client.post("/users/2/events", json=[{"item": raw(i)} for i in consumed])
        assert r.status_code == 202
        assert "2" in {m.decode() for m in redis_client.smembers(keys.dirty())}  # marked for the incremental refresh
        body = (await client.get("/users/2/recommendations", params={"k": 3})).json()
        assert body["source"] == "cache"
        assert [it["id"] for it in body["items"]] == [raw(i) for i in cached.items[2:5]]

        # with the model, the stale list (events newer than generated_at) is regenerated live and written back
        del app.dependency_overrides[get_generator]
        body = (await client.get("/users/2/recommendations", params={"k": 10})).json()
        assert body["source"] == "live"
        assert {raw(i) for i in consumed}.isdisjoint(it["id"] for it in body["items"])
        again = (await client.get("/users/2/recommendations", params={"k": 10})).json()
        assert again["source"] == "cache"
        assert [it["id"] for it in again["items"]] == [it["id"] for it in body["items"]]  # scores: float16 in cache

        # an old event (ts before generated_at) excludes its item but does not make the list stale
        r = await client.post("/users/3/events", json={"item": raw(lists["3"].items[0]), "ts": 1_000})
        assert r.status_code == 202
        body = (await client.get("/users/3/recommendations", params={"k": 2})).json()
        assert body["source"] == "cache"
        assert [it["id"] for it in body["items"]] == [raw(i) for i in lists["3"].items[1:3]]


async def test_validation_errors_name_the_field_and_value(
    artifact_dir: Path, redis_client: redis.Redis, keys: KeySchema
) -> None:
    fill_cache(redis_client, keys, model_version="mv-cache")
    async with running(settings_for(artifact_dir, keys, max_body_bytes=1024)) as (_, client):
        cases = [
            ("/users/1/recommendations?k=0", "k", 0),
            ("/users/1/recommendations?k=101", "k", 101),
            ("/users/1/recommendations?offset=-1", "offset", -1),
            ("/users/1/recommendations?k=abc", "k", "abc"),
            ("/users/abc/recommendations", "user_id", "abc"),
        ]
        for url, field, value in cases:
            r = await client.get(url)
            assert r.status_code == 422, (url, r.text)
            problem = r.json()["detail"][0]
            assert problem["field"] == field, (url, problem)
            assert str(problem["value"]) == str(value), (url, problem)

        r = await client.get("/users/424242/recommendations")  # a new user is served (tests/test_new_users.py)
        assert r.status_code == 200 and r.json()["source"] == "popular"
        r = await client.get("/users/1/recommendations?exclude=nope")  # an unknown item, as in events: 404
        assert r.status_code == 404 and r.json()["detail"][0]["field"] == "exclude"
        assert r.json()["detail"][0]["value"] == "nope"

        r = await client.post("/users/1/events", json=[{"item": raw(1)}, {"item": "no-such-item"}])
        assert r.status_code == 404
        assert r.json()["detail"][0]["value"] == "no-such-item" and r.json()["detail"][0]["loc"] == ["body", 1, "item"]
        r = await client.post("/users/1/events", json={"item": raw(1), "ts": -5})
        assert r.status_code == 422 and r.json()["detail"][0]["value"] == -5
        r = await client.post("/users/1/events", json={"item": raw(1), "colour": "red"})
        assert r.status_code == 422
        r = await client.post("/users/1/events", json=[{"item": raw(1)}] * 200)
        assert r.status_code == 413 and r.json()["detail"][0]["field"] == "body"
        assert redis_client.llen(keys.history("1")) == 0  # nothing recorded by the refused requests
        assert (await client.get("/healthz")).json() == {"alive": True}


async def test_openapi_documents_the_recommendations_body(
    artifact_dir: Path, redis_client: redis.Redis, keys: KeySchema
) -> None:
    async with running(settings_for(artifact_dir, keys, live_enabled=False)) as (_, client):
        spec = (await client.get("/openapi.json")).json()
        get = spec["paths"]["/users/{user_id}/recommendations"]["get"]
        schema = get["responses"]["200"]["content"]["application/json"]["schema"]
        assert schema["$ref"].endswith("/Recommendations")
        assert {p["name"] for p in get["parameters"]} == {"user_id", "k", "offset", "exclude"}
        ready = await client.get("/readyz")  # live disabled is fine; no active version is not
        assert ready.status_code == 503 and any("no active cache version" in r for r in ready.json()["reasons"])


def test_fast_decode_matches_the_codec() -> None:
    for top in (100, 70_000, 20_000_000):  # 2-, 3- and 4-byte ids
        items = [top, 0, 5, top // 2]
        blob = encode(items, [-0.5, -1.25, -2.0, -3.5], 1234)
        ids, scores, at = decode_tuples(blob)
        ref = decode(blob)
        assert list(ids) == ref.items.tolist() and list(scores) == ref.scores.tolist() and at == 1234


def test_rendered_body_matches_the_schema(artifact_dir: Path) -> None:
    from model.artifact import load_artifact

    catalogue = Catalogue.from_artifact(load_artifact(artifact_dir))
    answer = Answer("1", "live", "mv", 99, 3, 2, [4, 0, N_ITEMS - 1], [-1.5, float("nan"), -2.0])
    body = Recommendations.model_validate_json(render(answer, catalogue))
    assert [it.rank for it in body.items] == [3, 4, 5]
    assert [it.score for it in body.items] == [-1.5, None, -2.0]
    assert body.items[2].id == raw(N_ITEMS - 1) and body.items[2].title == f"title {N_ITEMS - 1}"
    assert len(CACHED_USERS) == 3
