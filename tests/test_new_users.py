"""New users and removed items over HTTP (the real app with its lifespan, a real Redis, a real tiny LM): a user the
model has never seen gets the popular list (source `popular`, honouring `exclude` and removed items), after their
first events a live answer from those events, and the next incremental refresh caches them; GENREC_USER_ID_MAX keeps
garbage ids out (404, nothing written) while malformed ids stay 422; items removed from the catalogue appear in no
answer, cached (even a list written before the removal), live or popular."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis
from pydantic import ValidationError

from model.artifact import load_artifact
from model.cache.codec import decode
from model.cache.history import HistoryStore
from model.cache.keys import KeySchema
from model.cache.store import CacheStore
from model.catalogue.edit import remove_items
from model.recommender import Recommender
from model.settings import ServiceSettings
from offline.refresh.job import RefreshConfig, RefreshJob
from tests.service_fixtures import CACHED_USERS, fill_cache, raw, running, save_toy_artifact, settings_for

pytestmark = pytest.mark.anyio
NEW_USER = "4242"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def edited(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[int]]:
    """The service's toy artifact with its two most popular items removed (a new version beside it)."""
    artifact = load_artifact(save_toy_artifact(tmp_path_factory))
    removed = [int(i) for i in artifact.popular[:2]]
    result = remove_items(artifact, [raw(i) for i in removed])
    assert result is not None
    return result.folder, removed


def _ids(body: dict) -> list[str]:  # type: ignore[type-arg]
    return [it["id"] for it in body["items"]]


def _refresh(folder: Path, client: redis.Redis, keys: KeySchema, mode: str) -> int:
    rec = Recommender(load_artifact(folder), backend="transformers", dtype="float32")
    config = RefreshConfig(mode=mode, k=10, shard_size=8, grace_s=0.0)  # type: ignore[arg-type]
    return RefreshJob(rec, CacheStore(client, keys), HistoryStore(client, keys), config).run().users_written


async def test_a_new_user_gets_popular_then_live_then_the_cached_list(
    edited: tuple[Path, list[int]], redis_client: redis.Redis, keys: KeySchema
) -> None:
    folder, removed = edited
    gone = {raw(i) for i in removed}
    _refresh(folder, redis_client, keys, "full")  # an active version, as in production
    settings = settings_for(folder, keys, live_write_back=False)  # only the refresh may cache the new user
    async with running(settings) as (app, client):
        popular = app.state.services.catalogue.popular
        assert gone.isdisjoint(raw(i) for i in popular)
        r = await client.get(f"/users/{NEW_USER}/recommendations", params={"k": 5})
        assert r.status_code == 200 and r.json()["source"] == "popular" and r.headers["x-genrec-source"] == "popular"
        assert _ids(r.json()) == [raw(i) for i in popular[:5]]
        r = await client.get(f"/users/{NEW_USER}/recommendations", params={"k": 5, "exclude": raw(popular[0])})
        assert _ids(r.json()) == [raw(i) for i in popular[1:6]]

        consumed = [raw(popular[3]), raw(removed[0]), raw(popular[7])]  # a removed item may still be in a history
        r = await client.post(f"/users/{NEW_USER}/events", json=[{"item": i} for i in consumed])
        assert r.status_code == 202
        r = await client.get(f"/users/{NEW_USER}/recommendations", params={"k": 8})
        assert r.status_code == 200 and r.json()["source"] == "live"
        live = _ids(r.json())
        assert len(live) == 8 and gone.isdisjoint(live) and set(consumed).isdisjoint(live)
        version = app.state.services.version.state.version
        assert redis_client.get(keys.recs(version, NEW_USER)) is None  # not cached yet

    assert _refresh(folder, redis_client, keys, "incremental") == 1  # the dirty set: the new user
    blob = redis_client.get(keys.recs(version, NEW_USER))
    assert blob is not None and gone.isdisjoint(raw(i) for i in decode(blob).items.tolist())
    async with running(settings) as (_, client):
        r = await client.get(f"/users/{NEW_USER}/recommendations", params={"k": 5})
        assert r.status_code == 200 and r.json()["source"] == "cache"
        assert _ids(r.json()) == [raw(int(i)) for i in decode(blob).items if raw(int(i)) not in consumed][:5]


async def test_max_id_keeps_garbage_ids_out_and_malformed_ids_stay_422(
    edited: tuple[Path, list[int]], redis_client: redis.Redis, keys: KeySchema
) -> None:
    folder, _ = edited
    async with running(settings_for(folder, keys, user_id_max=10)) as (_, client):
        r = await client.get("/users/14/recommendations")  # the toy dataset's users are 1..13
        assert r.status_code == 404
        detail = r.json()["detail"][0]
        assert detail["field"] == "user_id" and detail["value"] == "14" and "highest new id, 10" in detail["message"]
        r = await client.post("/users/99999999/events", json={"item": raw(5)})
        assert r.status_code == 404
        assert redis_client.exists(keys.history("99999999")) == 0  # nothing written for a refused id
        assert (await client.get("/users/abc/recommendations")).status_code == 422
        assert (await client.get("/users/0/recommendations")).json()["source"] == "popular"  # new, in range
        assert (await client.get("/users/12/recommendations")).status_code == 200  # a known user above the bound


async def test_removed_items_never_appear_in_a_cached_list(
    edited: tuple[Path, list[int]], redis_client: redis.Redis, keys: KeySchema
) -> None:
    folder, removed = edited
    lists = fill_cache(redis_client, keys, model_version="older")  # written before the removal: it names them
    user = next(u for u in CACHED_USERS if set(removed) & set(lists[u].items))
    async with running(settings_for(folder, keys)) as (_, client):
        r = await client.get(f"/users/{user}/recommendations", params={"k": 40})
        assert r.status_code == 200 and r.json()["source"] == "cache"
        expected = [raw(i) for i in lists[user].items if i not in removed][:40]
        assert _ids(r.json()) == expected


def test_max_id_needs_int_ids(edited: tuple[Path, list[int]]) -> None:
    with pytest.raises(ValidationError, match="GENREC_USER_ID_MAX=5 needs GENREC_USER_ID_FORMAT=int"):
        ServiceSettings(artifact=edited[0], user_id_format="token", user_id_max=5)
