"""Process-wide settings: pydantic-settings objects read from the environment (prefix GENREC_) and validated once.

Contract: `Settings` holds what every process shares (the jobs of the CLI and the service alike): where work goes, the
seed, logging, the cache's Redis and key prefix, the Pushgateway, and the seen-item rule the product serves
(`exclude_seen`, on by default: a user is never recommended an item of their own history). `ServiceSettings` extends it
with what the HTTP service needs. Either constructor returns a fully validated object or raises a `ValidationError`
naming the variable and its value; secrets (API keys, a Redis password) are `SecretStr` or masked in every message, so a
failed start-up never prints them. CLI flags override the environment by passing keyword arguments. `as_env()` turns the
shared part back into GENREC_* variables, so a process started from a command (uvicorn workers, `genrec serve` under
`genrec demo`) sees exactly the values the command was given. Unsafe values are refused here (a missing artifact folder,
a deadline of 0, an unknown user-id format or fallback source, production mode without an API key). It knows nothing
about how the settings are used and no development paths.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from model.cache.keys import KeySchema
from model.ids import USER_ID_FORMATS
from model.redis_url import REDIS_SCHEMES, check_redis_url
from model.workdir import WorkDir

MIN_KEY_CHARS = 16
# Where an answer can come from, in the order tried by default: a fresh cached list, live generation, the user's
# stale cached list (older than their newest event), popularity (always answers; the chain must end with it).
SourceName = Literal["cache", "live", "stale", "popular"]
SOURCES: tuple[SourceName, ...] = ("cache", "live", "stale", "popular")


class Settings(BaseSettings):
    # hide_input_in_errors: a ValidationError would otherwise repeat raw inputs, a Redis password among them
    model_config = SettingsConfigDict(
        env_prefix="GENREC_", extra="ignore", validate_default=True, hide_input_in_errors=True
    )

    data_dir: Path | None = Field(
        default=None,
        description="Folder of raw datasets (one sub-folder per dataset). Default: the packaged or public copy.",
    )
    work_dir: Path = Field(default=Path("runs"), description="Where processed datasets, models and reports go.")
    seed: int = Field(default=0, ge=0, description="Global random seed.")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["console", "json"] = "console"
    threads: int = Field(default=0, ge=0, description="torch intra-op threads; 0 = torch's default.")
    redis_url: str = Field(
        default="redis://127.0.0.1:6379/0", description=f"The cache's Redis: {', '.join(REDIS_SCHEMES)}."
    )
    cache_prefix: str = Field(default="rec", description="Prefix of every cache key (model/cache/keys.py).")
    pushgateway_url: str | None = Field(default=None, description="Prometheus Pushgateway for batch-job metrics.")
    exclude_seen: bool = Field(
        default=True,
        description="Never recommend a user the items of their own history (refresh, live, fallback); "
        "false for re-purchase domains.",
    )

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str) -> str:
        return check_redis_url(value)

    @field_validator("cache_prefix")
    @classmethod
    def _prefix_is_valid(cls, value: str) -> str:
        KeySchema(prefix=value)  # raises ValueError naming the prefix
        return value

    @field_validator("data_dir")
    @classmethod
    def _data_dir_exists(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_dir():
            raise ValueError(f"data_dir {str(value)!r} is not a directory")
        return value

    @property
    def workdir(self) -> WorkDir:
        return WorkDir(self.work_dir)

    @property
    def keys(self) -> KeySchema:
        return KeySchema(prefix=self.cache_prefix)

    def as_env(self) -> dict[str, str]:
        """The shared settings as GENREC_* variables (unset optional ones left out), for a child process."""
        out = {}
        for name in Settings.model_fields:
            value = getattr(self, name)
            if value is not None:
                out[f"GENREC_{name.upper()}"] = str(value)
        return out


class ServiceSettings(Settings):
    artifact: Path = Field(description="Model artifact folder (save_artifact's output) [GENREC_ARTIFACT].")
    redis_timeout_ms: int = Field(default=500, ge=1, le=60_000, description="Socket and connect timeout per call.")
    user_id_format: Literal["int", "token"] = Field(
        default="int", description="int: decimal digits only; token: the cache key charset (letters, digits _.:@-)."
    )
    user_id_max: int | None = Field(
        default=None,
        ge=0,
        description="int ids: users the model has never seen are served up to this id; above it 404 (garbage ids).",
    )
    # NoDecode: the variable is a comma-separated list, not JSON
    sources: Annotated[tuple[SourceName, ...], NoDecode] = Field(
        default=SOURCES,
        description="Fallback chain, in order, comma-separated (cache, live, stale, popular); ends with popular.",
    )
    live_enabled: bool = Field(default=True, description="Load the LM and generate live on a cache miss.")
    live_backend: Literal["auto", "transformers", "vllm"] = "transformers"
    live_dtype: Literal["auto", "float32", "bfloat16"] = Field(
        default="auto", description="auto: bf16 only where the hardware computes it natively (model.lm.dtype)."
    )
    live_threads: int = Field(default=0, ge=0, description="torch threads per worker process; 0 = torch's default.")
    live_concurrency: int = Field(default=1, ge=1, le=64, description="Live generations running at once.")
    live_queue: int = Field(default=4, ge=0, le=1024, description="Live requests that may wait; more don't wait.")
    live_deadline_ms: int = Field(default=2_000, ge=1, le=120_000, description="Wait at most this for live.")
    live_k: int = Field(default=50, ge=1, le=1000, description="List length generated live and written back.")
    live_write_back: bool = Field(default=True, description="Write live lists back to the active cache version.")
    version_refresh_s: float = Field(default=1.0, gt=0, le=60, description="How often the active version is read.")
    max_events_per_post: int = Field(default=100, ge=1, le=10_000)
    max_body_bytes: int = Field(default=16_384, ge=256, le=1 << 20, description="POST body size cap.")
    max_events_kept: int = Field(default=200, ge=1, le=100_000, description="Events kept per user in Redis.")
    verify_artifact: bool = Field(default=True, description="Re-hash the artifact files at start-up.")
    env: Literal["development", "production"] = Field(
        default="development", description="production refuses to start without GENREC_API_KEYS."
    )
    api_keys: SecretStr | None = Field(
        default=None, description="Comma-separated keys allowed to read and write (events, admin routes)."
    )
    read_api_keys: SecretStr | None = Field(
        default=None, description="Comma-separated keys allowed to read only (403 on write routes)."
    )
    read_auth: Literal["public", "key"] = Field(
        default="public", description="GET recommendations: public, or only with a read or write key."
    )
    # A write client is usually a product backend posting for all its users: the default is sized for that.
    rate_limit_events: int = Field(
        default=1000, ge=0, le=1_000_000, description="Writes per client per window; 0 = no limit."
    )
    rate_limit_window_s: int = Field(default=1, ge=1, le=86_400, description="Rate-limit window (fixed, in Redis).")

    @field_validator("artifact")
    @classmethod
    def _artifact_is_folder(cls, value: Path) -> Path:
        if not value.is_dir():
            raise ValueError(f"artifact {str(value)!r} is not a directory (set GENREC_ARTIFACT to a model artifact)")
        return value

    @field_validator("user_id_format")
    @classmethod
    def _known_id_format(cls, value: str) -> str:
        if value not in USER_ID_FORMATS:  # the Literal says so too; this keeps the two lists from drifting apart
            raise ValueError(f"user_id_format {value!r} is not one of {', '.join(USER_ID_FORMATS)}")
        return value

    @field_validator("sources", mode="before")
    @classmethod
    def _split_sources(cls, value: object) -> object:
        return tuple(s.strip() for s in value.split(",") if s.strip()) if isinstance(value, str) else value

    @field_validator("sources")
    @classmethod
    def _chain_ends_with_popular(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(value)) != len(value):
            raise ValueError(f"sources {','.join(value)!r} names a source twice")
        if not value or value[-1] != "popular":
            raise ValueError(f"sources {','.join(value)!r} must end with popular (the source that always answers)")
        return value

    @field_validator("api_keys", "read_api_keys")
    @classmethod
    def _keys_are_long(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None  # an empty variable (e.g. compose's `${GENREC_API_KEYS:-}`) means no key configured
        keys = split_keys(value)
        short = sum(len(k) < MIN_KEY_CHARS for k in keys)
        if not keys or short:
            # the message counts the bad keys; it never repeats them
            raise ValueError(f"{len(keys)} key(s) given, {short} shorter than {MIN_KEY_CHARS} characters")
        return value

    @model_validator(mode="after")
    def _max_id_needs_int_ids(self) -> ServiceSettings:
        if self.user_id_max is not None and self.user_id_format != "int":
            raise ValueError(
                f"GENREC_USER_ID_MAX={self.user_id_max} needs GENREC_USER_ID_FORMAT=int (got {self.user_id_format})"
            )
        return self

    @model_validator(mode="after")
    def _production_needs_a_key(self) -> ServiceSettings:
        if self.env == "production" and self.api_keys is None:
            raise ValueError("GENREC_ENV=production needs GENREC_API_KEYS (write routes are never open in production)")
        if self.read_auth == "key" and self.api_keys is None and self.read_api_keys is None:
            raise ValueError("GENREC_READ_AUTH=key needs GENREC_API_KEYS or GENREC_READ_API_KEYS")
        return self


def split_keys(value: SecretStr | None) -> list[str]:
    """The keys of a comma-separated secret, stripped; empty entries dropped."""
    if value is None:
        return []
    return [k.strip() for k in value.get_secret_value().split(",") if k.strip()]
