"""Settings: environment overrides and start-up validation naming the field and value."""

from pathlib import Path

import pytest
from pydantic import ValidationError

from model.settings import Settings


def test_env_overrides(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("GENREC_SEED", "7")
    monkeypatch.setenv("GENREC_DATA_DIR", str(tmp_path))
    settings = Settings()
    assert settings.seed == 7
    assert settings.resolved_data_dir() == tmp_path


def test_bad_values_name_field_and_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GENREC_DATA_DIR", "/no/such/dir")
    with pytest.raises(ValidationError, match="/no/such/dir"):
        Settings()
    monkeypatch.delenv("GENREC_DATA_DIR")
    with pytest.raises(ValidationError, match="seed"):
        Settings(seed=-1)
