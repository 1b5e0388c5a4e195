"""Process-wide settings: one pydantic-settings object, read from the environment (prefix GENREC_) and validated once.

Contract: `Settings()` either returns a fully validated object or raises with a message naming the variable and the
bad value; commands build it once at start-up and pass it down (CLI flags override by constructing it with keyword
arguments). It knows nothing about what the settings are used for.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from model.redis_url import mask_url

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"  # the read-only datasets beside a developer's checkout


class Settings(BaseSettings):
    # hide_input_in_errors: a ValidationError would otherwise repeat raw inputs, a Redis password among them
    model_config = SettingsConfigDict(
        env_prefix="GENREC_", extra="ignore", validate_default=True, hide_input_in_errors=True
    )

    data_dir: Path | None = Field(
        default=None,
        description="Folder holding raw datasets (one sub-folder per dataset). Default: ../shared/data if present.",
    )
    work_dir: Path = Field(default=Path("runs"), description="Where processed datasets, models and reports go.")
    seed: int = Field(default=0, ge=0, description="Global random seed.")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["console", "json"] = "console"
    threads: int = Field(default=0, ge=0, description="torch intra-op threads; 0 = torch's default.")
    redis_url: str = Field(
        default="redis://127.0.0.1:6379/0", description="The cache's Redis: redis://, rediss:// (TLS) or unix://."
    )
    cache_prefix: str = Field(default="rec", description="Prefix of every cache key (model/cache/keys.py).")
    pushgateway_url: str | None = Field(default=None, description="Prometheus Pushgateway for batch-job metrics.")

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str) -> str:
        if not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError(f"redis_url {mask_url(value)!r} must start with redis://, rediss:// or unix://")
        return value

    @field_validator("data_dir")
    @classmethod
    def _data_dir_exists(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_dir():
            raise ValueError(f"data_dir {str(value)!r} is not a directory")
        return value

    def resolved_data_dir(self) -> Path | None:
        """The explicit data_dir, else ../shared/data when it exists, else None (loaders may then download)."""
        if self.data_dir is not None:
            return self.data_dir
        return SHARED_DATA if SHARED_DATA.is_dir() else None
