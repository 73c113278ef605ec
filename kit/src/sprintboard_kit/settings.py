"""Settings both services read alike, as pieces each service's own settings class composes.

A service's class inherits the pieces it needs and takes `service_config(prefix)` as its
`model_config`: every field is then read from `<PREFIX><FIELD>` first, then from the workspace-wide
name in `SHARED_NAMES` (when it has one), so one value configures both services; the field name works
in code (`NotifierSettings(nats_url=...)`)."""

from __future__ import annotations

import json
from typing import Annotated, Any

from pydantic import AliasChoices, AliasGenerator, BaseModel, BeforeValidator, Field, field_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from sprintboard_kit.database import asyncpg_dsn, sqlalchemy_url
from sprintboard_kit.stream import (
    DEFAULT_DUPLICATE_WINDOW_SECONDS,
    DEFAULT_MAX_AGE_SECONDS,
    DEFAULT_MAX_CONSUMERS,
    StreamSettings,
)
from sprintboard_kit.tokens import TokenVerifier

# The environment names shared by the services (a service-prefixed name wins over them).
SHARED_NAMES = {
    "database_url": "DATABASE_URL",
    "nats_url": "NATS_URL",
    "jwt_secret": "SPRINTBOARD_JWT_SECRET",
    "jwt_jwks_url": "SPRINTBOARD_JWT_JWKS_URL",
    "jwt_issuer": "SPRINTBOARD_JWT_ISSUER",
    "jwt_audience": "SPRINTBOARD_JWT_AUDIENCE",
    "dev_auth": "SPRINTBOARD_DEV_AUTH",
    # Whichever service creates the stream creates it with these: one value keeps the two alike.
    "stream_max_age_seconds": "SPRINTBOARD_STREAM_MAX_AGE_SECONDS",
    "stream_duplicate_window_seconds": "SPRINTBOARD_STREAM_DUPLICATE_WINDOW_SECONDS",
    "stream_replicas": "SPRINTBOARD_STREAM_REPLICAS",
    "stream_max_msgs": "SPRINTBOARD_STREAM_MAX_MSGS",
    "stream_max_consumers": "SPRINTBOARD_STREAM_MAX_CONSUMERS",
}


def service_config(prefix: str) -> SettingsConfigDict:
    """The `model_config` of a service's settings class: its env prefix, then the shared names."""

    def env_names(field: str) -> AliasChoices:
        own = f"{prefix}{field.upper()}"
        shared = SHARED_NAMES.get(field)
        return AliasChoices(own, shared) if shared else AliasChoices(own)

    return SettingsConfigDict(
        env_prefix=prefix,
        extra="ignore",
        validate_by_name=True,
        alias_generator=AliasGenerator(validation_alias=env_names),
    )


def _comma_separated(value: Any) -> Any:
    """`a, b,c` or a JSON list (`["a", "b"]`) from the environment; a list from code as is."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            return json.loads(text)
        return [part.strip() for part in text.split(",") if part.strip()]
    return value


Origins = Annotated[list[str], NoDecode, BeforeValidator(_comma_separated)]
"""A list of origins (`https://board.example`), comma-separated or a JSON list in the environment."""


def origin_allowed(allowed: list[str], origin: str | None) -> bool:
    """Empty or `*` allows every origin; no Origin at all (a non-browser client, which cannot be led into
    a cross-site request) is always allowed; a trailing slash does not matter."""
    if origin is None:
        return True
    listed = [o.rstrip("/") for o in allowed]
    return not listed or "*" in listed or origin.rstrip("/") in listed


class NatsFields(BaseModel):
    nats_url: str = "nats://127.0.0.1:4222"

    @property
    def nats_servers(self) -> list[str]:
        """`nats_url` may name several servers of one cluster, comma-separated: the client fails over."""
        return [url.strip() for url in self.nats_url.split(",") if url.strip()]


class JwtFields(BaseModel):
    """The same values on both services, so one token works for both."""

    jwt_secret: str | None = None
    jwt_jwks_url: str | None = None
    jwt_issuer: str | None = None
    jwt_audience: str | None = None

    def token_verifier(self, secret: str | None = None) -> TokenVerifier:
        """The verifier these settings describe; `secret` stands in for a missing `jwt_secret`."""
        secret = self.jwt_secret or secret
        if not secret and not self.jwt_jwks_url:
            raise RuntimeError("set SPRINTBOARD_JWT_SECRET or SPRINTBOARD_JWT_JWKS_URL")
        return TokenVerifier(
            secret=secret, jwks_url=self.jwt_jwks_url, issuer=self.jwt_issuer, audience=self.jwt_audience
        )


class StreamFields(BaseModel):
    """Used only by the instance that creates the stream; an existing stream is never changed."""

    stream_max_age_seconds: float = Field(DEFAULT_MAX_AGE_SECONDS, gt=0)
    # At least JetStream's default of 2 minutes: a relay re-publishing after a lost ack must stay inside it.
    stream_duplicate_window_seconds: float = Field(DEFAULT_DUPLICATE_WINDOW_SECONDS, ge=120)
    stream_replicas: int = Field(1, ge=1, le=5)
    stream_max_msgs: int | None = Field(None, ge=1)
    stream_max_consumers: int = Field(DEFAULT_MAX_CONSUMERS, ge=1)

    def stream_settings(self) -> StreamSettings:
        return StreamSettings(
            max_age_seconds=self.stream_max_age_seconds,
            duplicate_window_seconds=self.stream_duplicate_window_seconds,
            replicas=self.stream_replicas,
            max_msgs=self.stream_max_msgs,
            max_consumers=self.stream_max_consumers,
        )


class DatabaseFields(BaseModel):
    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:5432/sprintboard"

    @field_validator("database_url")
    @classmethod
    def _asyncpg_driver(cls, value: str) -> str:
        return sqlalchemy_url(value)

    @property
    def asyncpg_dsn(self) -> str:
        """The database URL without the SQLAlchemy driver suffix, for asyncpg itself."""
        return asyncpg_dsn(self.database_url)
