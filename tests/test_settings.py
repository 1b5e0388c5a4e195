"""Settings: environment overrides, start-up validation naming the field and value, one base for every process."""

from pathlib import Path

import pytest
from pydantic import ValidationError

from model.settings import SOURCES, ServiceSettings, Settings


def test_env_overrides(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("GENREC_SEED", "7")
    monkeypatch.setenv("GENREC_DATA_DIR", str(tmp_path))
    settings = Settings()
    assert settings.seed == 7
    assert settings.data_dir == tmp_path


def test_bad_values_name_field_and_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GENREC_DATA_DIR", "/no/such/dir")
    with pytest.raises(ValidationError, match="/no/such/dir"):
        Settings()
    monkeypatch.delenv("GENREC_DATA_DIR")
    with pytest.raises(ValidationError, match="seed"):
        Settings(seed=-1)
    with pytest.raises(ValidationError, match="cache key prefix 'a b'"):
        Settings(cache_prefix="a b")
    with pytest.raises(ValidationError, match="'http://host' must start with redis://"):
        Settings(redis_url="http://host")


def test_the_service_settings_are_the_shared_ones_and_more(tmp_path: Path) -> None:
    """One base: a value the jobs accept or refuse, the service accepts or refuses alike."""
    assert set(Settings.model_fields) < set(ServiceSettings.model_fields)
    shared = Settings(work_dir=tmp_path / "w", redis_url="redis://127.0.0.1:6390/2", cache_prefix="p1", seed=3)
    service = ServiceSettings(artifact=tmp_path, **shared.model_dump())
    assert all(getattr(service, name) == getattr(shared, name) for name in Settings.model_fields)
    with pytest.raises(ValidationError, match="cache key prefix"):
        ServiceSettings(artifact=tmp_path, cache_prefix="a b")


def test_as_env_round_trips_the_shared_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    shared = Settings(work_dir=tmp_path, redis_url="rediss://:pw@h:6380/1", cache_prefix="x", log_format="json")
    env = shared.as_env()
    assert env["GENREC_REDIS_URL"] == "rediss://:pw@h:6380/1" and "GENREC_DATA_DIR" not in env
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert Settings() == shared


def test_the_fallback_chain_is_validated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert ServiceSettings(artifact=tmp_path).sources == SOURCES
    monkeypatch.setenv("GENREC_SOURCES", "cache, stale,popular")
    assert ServiceSettings(artifact=tmp_path).sources == ("cache", "stale", "popular")
    for bad, words in (
        ("cache,live", "must end with popular"),
        ("cache,cache,popular", "names a source twice"),
        ("cache,disk,popular", "sources.1"),
    ):
        monkeypatch.setenv("GENREC_SOURCES", bad)
        with pytest.raises(ValidationError, match=words):
            ServiceSettings(artifact=tmp_path)
