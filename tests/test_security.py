"""Access control over HTTP (httpx + ASGI transport, the app's lifespan, a real Redis, a real tiny artifact): write
routes need a write key (401 without or with an unknown key, 403 with a read-only one), reads are public or keyed by
config on both GET routes (the plain Starlette one and the documented FastAPI one), production refuses to start
without a key, and the write rate limit answers 429 with Retry-After per client and lets writes through when Redis
is down (fail-open)."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis
from pydantic import ValidationError
from typer.testing import CliRunner

from model.cache.keys import KeySchema
from model.errors import UserError
from model.settings import ServiceSettings
from offline.cli import _register, app
from tests.service_fixtures import fill_cache, metric_value, running, save_toy_artifact, settings_for

pytestmark = pytest.mark.anyio

WRITE_KEY = "w-0123456789abcdef-write"
OTHER_WRITE_KEY = "w-fedcba9876543210-other"
READ_KEY = "r-0123456789abcdef-read"
EVENT = {"item": "5003"}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def artifact_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_toy_artifact(tmp_path_factory)


def keyed(artifact_dir: Path, keys: KeySchema, **overrides: object) -> ServiceSettings:
    values: dict[str, object] = {
        "api_keys": f"{WRITE_KEY},{OTHER_WRITE_KEY}",
        "read_api_keys": READ_KEY,
        "live_enabled": False,
        **overrides,
    }
    return settings_for(artifact_dir, keys, **values)


def test_production_refuses_to_start_without_a_key(artifact_dir: Path) -> None:
    with pytest.raises(ValidationError, match="GENREC_API_KEYS"):
        ServiceSettings(artifact=artifact_dir, env="production")
    ServiceSettings(artifact=artifact_dir, env="production", api_keys=WRITE_KEY)  # with one it starts
    # An empty variable (docker compose's `${GENREC_API_KEYS:-}`) is no key: fine in development, refused in production.
    assert ServiceSettings(artifact=artifact_dir, api_keys=" ").api_keys is None
    with pytest.raises(ValidationError, match="GENREC_API_KEYS"):
        ServiceSettings(artifact=artifact_dir, env="production", api_keys="")
    with pytest.raises(ValidationError, match="GENREC_READ_AUTH=key needs"):
        ServiceSettings(artifact=artifact_dir, read_auth="key")


def test_short_keys_are_refused_without_being_repeated(artifact_dir: Path) -> None:
    with pytest.raises(ValidationError) as info:
        ServiceSettings(artifact=artifact_dir, api_keys=f"{WRITE_KEY},tooshort-secret")
    assert "shorter than 16" in str(info.value)
    assert "tooshort-secret" not in str(info.value) and WRITE_KEY not in str(info.value)


def test_serve_in_production_without_a_key_exits_naming_the_variable(
    artifact_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GENREC_ARTIFACT", "restored-after-the-test")  # serve exports it for its workers
    monkeypatch.setenv("GENREC_ENV", "production")
    monkeypatch.delenv("GENREC_API_KEYS", raising=False)
    _register()
    result = CliRunner().invoke(app, ["serve", "--artifact", str(artifact_dir)])
    assert isinstance(result.exception, UserError)  # main() turns it into exit code 2
    assert "GENREC_API_KEYS" in str(result.exception)


async def test_write_route_needs_a_write_key(artifact_dir: Path, redis_client: redis.Redis, keys: KeySchema) -> None:
    fill_cache(redis_client, keys, model_version="mv")
    async with running(keyed(artifact_dir, keys)) as (_, client):
        r = await client.post("/users/1/events", json=EVENT)
        assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer")
        assert r.json()["detail"][0]["field"] == "authorization"
        for headers in ({"Authorization": "Bearer wrong-key-0123456789"}, {"X-API-Key": "wrong-key-0123456789"}):
            r = await client.post("/users/1/events", json=EVENT, headers=headers)
            assert r.status_code == 401 and "wrong-key" not in r.text
        r = await client.post("/users/1/events", json=EVENT, headers={"Authorization": f"Basic {WRITE_KEY}"})
        assert r.status_code == 401  # only the Bearer scheme carries a key
        r = await client.post("/users/1/events", json=EVENT, headers={"X-API-Key": READ_KEY})
        assert r.status_code == 403 and READ_KEY not in r.text
        r = await client.post("/users/1/events", json=EVENT, headers={"Authorization": f"Bearer {WRITE_KEY}"})
        assert r.status_code == 202, r.text
        r = await client.post("/users/1/events", json=EVENT, headers={"X-API-Key": OTHER_WRITE_KEY})
        assert r.status_code == 202, r.text
        # an unknown caller's body is never read: not even its size or syntax is answered
        r = await client.post("/users/1/events", content=b"{" * 100_000, headers={"content-type": "application/json"})
        assert r.status_code == 401
        assert redis_client.llen(keys.history("1")) == 2
        text = (await client.get("/metrics")).text
        assert metric_value(text, "genrec_auth_rejected_total", status="401") == 5
        assert metric_value(text, "genrec_auth_rejected_total", status="403") == 1


@pytest.mark.parametrize("lean", [True, False])
async def test_reads_are_public_by_default(
    artifact_dir: Path, redis_client: redis.Redis, keys: KeySchema, lean: bool
) -> None:
    fill_cache(redis_client, keys, model_version="mv")
    async with running(keyed(artifact_dir, keys), lean=lean) as (_, client):
        r = await client.get("/users/1/recommendations", params={"k": 3})
        assert r.status_code == 200 and r.json()["source"] == "cache"


@pytest.mark.parametrize("lean", [True, False])
async def test_keyed_reads_on_both_get_routes(
    artifact_dir: Path, redis_client: redis.Redis, keys: KeySchema, lean: bool
) -> None:
    fill_cache(redis_client, keys, model_version="mv")
    async with running(keyed(artifact_dir, keys, read_auth="key"), lean=lean) as (_, client):
        r = await client.get("/users/1/recommendations")
        assert r.status_code == 401
        r = await client.get("/users/1/recommendations", headers={"Authorization": "Bearer not-a-key-0123456789"})
        assert r.status_code == 401
        for headers in ({"X-API-Key": READ_KEY}, {"Authorization": f"Bearer {WRITE_KEY}"}):
            r = await client.get("/users/1/recommendations", headers=headers)
            assert r.status_code == 200 and r.json()["source"] == "cache"
        for path in ("/healthz", "/readyz", "/metrics", "/openapi.json"):  # operations stay public
            assert (await client.get(path)).status_code == 200, path


async def test_openapi_documents_the_keys_and_the_guard_answers(
    artifact_dir: Path, redis_client: redis.Redis, keys: KeySchema
) -> None:
    async with running(keyed(artifact_dir, keys, read_auth="key")) as (_, client):
        doc = (await client.get("/openapi.json")).json()
    assert set(doc["components"]["securitySchemes"]) == {"ApiKey", "Bearer"}
    post = doc["paths"]["/users/{user_id}/events"]["post"]
    assert post["security"] and {"401", "403", "413", "422", "429"} <= set(post["responses"])
    get = doc["paths"]["/users/{user_id}/recommendations"]["get"]
    assert get["security"] and "401" in get["responses"]
    assert "security" not in doc["paths"]["/healthz"]["get"]


async def test_rate_limit_per_client_with_retry_after(
    artifact_dir: Path, redis_client: redis.Redis, keys: KeySchema
) -> None:
    fill_cache(redis_client, keys, model_version="mv")
    settings = keyed(artifact_dir, keys, rate_limit_events=3, rate_limit_window_s=30)
    async with running(settings) as (_, client):
        mine = {"X-API-Key": WRITE_KEY}
        codes = [(await client.post("/users/1/events", json=EVENT, headers=mine)).status_code for _ in range(4)]
        assert codes == [202, 202, 202, 429]
        r = await client.post("/users/1/events", json=EVENT, headers=mine)
        assert r.status_code == 429 and 1 <= int(r.headers["retry-after"]) <= 30
        assert r.json()["detail"][0]["field"] == "rate_limit"
        r = await client.post("/users/1/events", json=EVENT, headers={"X-API-Key": OTHER_WRITE_KEY})
        assert r.status_code == 202  # another client has its own budget
        r = await client.get("/users/1/recommendations", headers=mine)
        assert r.status_code == 200  # reads are not limited
        assert metric_value((await client.get("/metrics")).text, "genrec_rate_limited_total") == 2
    counters = [k.decode() for k in redis_client.scan_iter(match=f"{keys.prefix}:rl:*")]
    assert len(counters) == 2 and all(0 < redis_client.ttl(k) <= 30 for k in counters)
    assert WRITE_KEY not in "".join(counters)  # clients are named by key id, never by the key


async def test_without_keys_development_writes_are_limited_per_address(
    artifact_dir: Path, redis_client: redis.Redis, keys: KeySchema
) -> None:
    fill_cache(redis_client, keys, model_version="mv")
    settings = settings_for(artifact_dir, keys, live_enabled=False, rate_limit_events=1)
    async with running(settings) as (_, client):
        assert (await client.post("/users/1/events", json=EVENT)).status_code == 202
        assert (await client.post("/users/1/events", json=EVENT)).status_code == 429


async def test_rate_limit_fails_open_when_redis_is_down(artifact_dir: Path, keys: KeySchema) -> None:
    settings = keyed(artifact_dir, keys, redis_url="redis://127.0.0.1:1/0", redis_timeout_ms=200, rate_limit_events=1)
    async with running(settings) as (_, client):
        mine = {"X-API-Key": WRITE_KEY}
        codes = [(await client.post("/users/1/events", json=EVENT, headers=mine)).status_code for _ in range(3)]
        assert codes == [503, 503, 503]  # let through by the limiter; the route itself needs Redis
        text = (await client.get("/metrics")).text
        assert metric_value(text, "genrec_redis_errors_total", op="rate_limit") == 3
        assert metric_value(text, "genrec_rate_limited_total") == 0
        assert (await client.post("/users/1/events", json=EVENT)).status_code == 401  # auth needs no Redis
