"""Schemathesis against the service's own OpenAPI document, served by a real uvicorn (in a thread, with its
lifespan) over a real Redis and a real tiny artifact: for every operation, generated requests (valid and invalid)
never get a 5xx, and every answer matches its documented status, content type, headers and schema. Writes carry a
valid API key (the keys themselves are tested in test_security.py); the rate limit is off so the routes are
reached. Budget: `tests.fuzz_budget.examples` per operation (GENREC_FUZZ_EXAMPLES for a bigger run)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import schemathesis
from hypothesis import HealthCheck, settings

from model.cache.keys import KeySchema
from model.settings import ServiceSettings
from service.app import create_app
from tests.fuzz_budget import examples, record
from tests.live_server import uvicorn_thread
from tests.redis_fixtures import REDIS_URL
from tests.service_fixtures import fill_cache, save_toy_artifact, settings_for

API_KEY = "fuzz-" + uuid.uuid4().hex


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    artifact = save_toy_artifact(tmp_path_factory)
    keys = KeySchema(prefix="t" + uuid.uuid4().hex[:12])
    client = redis.Redis.from_url(REDIS_URL)
    fill_cache(client, keys, model_version="mv-fuzz")
    app = create_app(settings_for(artifact, keys, api_keys=API_KEY, rate_limit_events=0, live_deadline_ms=5_000))
    with uvicorn_thread(app) as url:
        yield url
    stale = list(client.scan_iter(match=keys.prefix + ":*"))
    if stale:
        client.unlink(*stale)
    client.close()


def _document() -> dict[str, object]:
    """The served app's OpenAPI document, built at collection time (it needs the settings, not the artifact or
    Redis); the running server answers /openapi.json with the same document."""
    here = Path(__file__).parent  # any folder passes the artifact check; the document does not read it
    return create_app(ServiceSettings(artifact=here, api_keys=API_KEY)).openapi()


# 413 (body over the byte cap, documented on the write route) is a rejection of bad input like 422; schema-valid
# bodies can pass the byte cap too (100 events of 128-character ids), so it is an accepted answer to valid data.
CONFIG = schemathesis.config.SchemathesisConfig.from_dict(
    {
        "checks": {
            "negative_data_rejection": {"expected-statuses": [400, 401, 403, 404, 405, 406, 413, 415, 422, 429]},
            "positive_data_acceptance": {"expected-statuses": ["2xx", 401, 403, 404, 413, 429]},
        }
    }
)
schema = schemathesis.openapi.from_dict(_document(), config=CONFIG)


@schema.parametrize()
@settings(
    max_examples=examples(40),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.function_scoped_fixture],
)
def test_api(case: schemathesis.Case, base_url: str) -> None:
    response = case.call_and_validate(base_url=base_url, headers={"X-API-Key": API_KEY}, timeout=30)
    record(f"{case.operation.label} -> {response.status_code}")
