"""`genrec bootstrap`, the compose stack's first-start job: fills the cache once, then does nothing on a rerun; a
missing artifact that it would not train itself is refused before anything is written. Real Redis, real tiny
artifact, the real CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis
from typer.testing import CliRunner

from model.artifact import read_artifact_meta
from model.cache.keys import KeySchema
from model.cache.store import CacheStore
from model.errors import UserError
from offline.cli import _register, app
from tests.redis_fixtures import REDIS_URL
from tests.tiny_artifact import save_tiny_artifact


@pytest.fixture
def cli_env(keys: KeySchema, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    _register()
    monkeypatch.setenv("GENREC_CACHE_PREFIX", keys.prefix)
    monkeypatch.setenv("GENREC_REDIS_URL", REDIS_URL)
    monkeypatch.setenv("GENREC_WORK_DIR", str(tmp_path / "work"))
    monkeypatch.delenv("GENREC_ARTIFACT", raising=False)
    monkeypatch.delenv("GENREC_PUSHGATEWAY_URL", raising=False)
    return CliRunner()


def test_fills_the_cache_once_then_skips(
    cli_env: CliRunner, tmp_path: Path, redis_client: redis.Redis, keys: KeySchema
) -> None:
    artifact = tmp_path / "artifact"
    save_tiny_artifact(artifact, n_items=40, n_users=12)
    store = CacheStore(redis_client, keys)

    first = cli_env.invoke(app, ["bootstrap", "--artifact", str(artifact)])
    assert first.exit_code == 0, first.output
    active = store.active_version()
    assert active is not None
    meta = store.version_meta(active)
    assert meta is not None and meta.model_version == read_artifact_meta(artifact).version and meta.users == 12

    again = cli_env.invoke(app, ["bootstrap"], env={"GENREC_ARTIFACT": str(artifact)})
    assert again.exit_code == 0, again.output
    assert "already bootstrapped" in again.output
    assert store.active_version() == active and store.versions() == [active]


def test_missing_mounted_artifact_is_refused_before_any_write(
    cli_env: CliRunner, tmp_path: Path, redis_client: redis.Redis, keys: KeySchema
) -> None:
    result = cli_env.invoke(app, ["bootstrap", "--artifact", str(tmp_path / "nowhere")])
    assert isinstance(result.exception, UserError)
    assert "does not exist" in str(result.exception) and "leave --artifact" in str(result.exception)
    assert CacheStore(redis_client, keys).versions() == []
    assert not (tmp_path / "work").exists()
