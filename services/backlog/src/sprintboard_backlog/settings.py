"""The backlog's settings: one pydantic-settings class, env prefix `BACKLOG_`, plus the shared names."""

from __future__ import annotations

from typing import Annotated

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


def _env(name: str, *shared: str) -> AliasChoices:
    """`BACKLOG_<NAME>` first, then the workspace-wide names; the field name works in code."""
    return AliasChoices(f"BACKLOG_{name.upper()}", *shared)


class BacklogSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BACKLOG_", validate_by_name=True, extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    workers: int = Field(1, ge=1, le=64)
    database_url: str = Field(
        "postgresql+asyncpg://postgres@127.0.0.1:5432/sprintboard",
        validation_alias=_env("database_url", "DATABASE_URL"),
    )
    nats_url: str = Field("nats://127.0.0.1:4222", validation_alias=_env("nats_url", "NATS_URL"))
    jwt_secret: str | None = Field(None, validation_alias=_env("jwt_secret", "SPRINTBOARD_JWT_SECRET"))
    jwt_jwks_url: str | None = Field(None, validation_alias=_env("jwt_jwks_url", "SPRINTBOARD_JWT_JWKS_URL"))
    jwt_issuer: str | None = Field(None, validation_alias=_env("jwt_issuer", "SPRINTBOARD_JWT_ISSUER"))
    jwt_audience: str | None = Field(None, validation_alias=_env("jwt_audience", "SPRINTBOARD_JWT_AUDIENCE"))
    dev_auth: bool = Field(False, validation_alias=_env("dev_auth", "SPRINTBOARD_DEV_AUTH"))
    relay_enabled: bool = True
    relay_batch_size: int = Field(500, ge=1, le=10_000)
    relay_poll_interval_seconds: float = Field(1.0, gt=0, le=60)
    relay_ack_timeout_seconds: float = Field(5.0, gt=0, le=120)
    # How long the leader waits on its lock's connection before it takes the lock (and the session) as lost.
    relay_lock_timeout_seconds: float = Field(5.0, gt=0, le=120)
    relay_metrics_port: int = Field(0, ge=0, le=65535)
    stream_max_age_seconds: float = Field(7 * 24 * 3600, gt=0)
    stream_duplicate_window_seconds: float = Field(120, ge=120)
    stream_replicas: int = Field(1, ge=1, le=5)
    notifier_public_url: str = "ws://127.0.0.1:8001/api/v1/ws/tasks"
    migrate_on_start: bool = False
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    db_pool_size: int = Field(20, ge=1, le=200)
    db_max_overflow: int = Field(10, ge=0, le=200)
    idempotency_ttl_seconds: float = Field(24 * 3600, gt=0)
    idempotency_wait_seconds: float = Field(5.0, gt=0, le=60)
    idempotency_sweep_interval_seconds: float = Field(600, gt=0)
    log_level: str = "INFO"
    access_log: bool = True

    @field_validator("database_url")
    @classmethod
    def _asyncpg_driver(cls, value: str) -> str:
        scheme, sep, rest = value.partition("://")
        if not sep or scheme.split("+")[0] not in ("postgresql", "postgres"):
            raise ValueError("database_url must be a postgresql:// URL")
        return f"postgresql+asyncpg://{rest}"

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return [origin.strip() for origin in value.split(",") if origin.strip()]
        return value

    @property
    def nats_servers(self) -> list[str]:
        """`nats_url` may name several servers of one cluster, comma-separated: the client fails over."""
        return [url.strip() for url in self.nats_url.split(",") if url.strip()]

    @property
    def asyncpg_dsn(self) -> str:
        """The database URL without the SQLAlchemy driver suffix, for asyncpg itself (the relay)."""
        return "postgresql://" + self.database_url.partition("://")[2]
