"""Notifier configuration: one pydantic-settings class, `NOTIFIER_` prefix, JWT settings as the backlog."""

from __future__ import annotations

import os
import socket
from typing import Annotated, Any

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from sprintboard_contracts.stream import (
    DEFAULT_DUPLICATE_WINDOW_SECONDS,
    DEFAULT_MAX_AGE_SECONDS,
    StreamSettings,
)


def _default_instance_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


class NotifierSettings(BaseSettings):
    """Everything an operator may tune; defaults suit a local run."""

    model_config = SettingsConfigDict(env_prefix="NOTIFIER_", extra="ignore", populate_by_name=True)

    host: str = "127.0.0.1"
    port: int = 8001
    log_level: str = "info"
    instance_id: str = Field(default_factory=_default_instance_id)
    nats_url: str = Field(
        default="nats://127.0.0.1:4222", validation_alias=AliasChoices("NOTIFIER_NATS_URL", "NATS_URL")
    )

    # The same variables as the backlog, so one token works for both services.
    jwt_secret: str | None = Field(
        default=None, validation_alias=AliasChoices("NOTIFIER_JWT_SECRET", "SPRINTBOARD_JWT_SECRET")
    )
    jwt_jwks_url: str | None = Field(
        default=None, validation_alias=AliasChoices("NOTIFIER_JWT_JWKS_URL", "SPRINTBOARD_JWT_JWKS_URL")
    )
    jwt_issuer: str | None = Field(
        default=None, validation_alias=AliasChoices("NOTIFIER_JWT_ISSUER", "SPRINTBOARD_JWT_ISSUER")
    )
    jwt_audience: str | None = Field(
        default=None, validation_alias=AliasChoices("NOTIFIER_JWT_AUDIENCE", "SPRINTBOARD_JWT_AUDIENCE")
    )

    # Empty or ["*"] allows every Origin (local development); requests without Origin are always allowed.
    allowed_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)

    send_queue_frames: int = Field(default=512, ge=1)
    resume_hold_frames: int = Field(default=10_000, ge=1)
    replay_stall_seconds: float = Field(default=30.0, gt=0)
    # The latest events (all tenants) each instance keeps in memory: a resume from inside them needs no NATS.
    history_events: int = Field(default=10_000, ge=0)
    # Resumes from further back read the stream, at most this many reads at once (each a short-lived
    # consumer for one batch); a read that gets nothing for the timeout ends in `resync_required`.
    replay_readers: int = Field(default=4, ge=1)
    replay_read_timeout_seconds: float = Field(default=5.0, gt=0)
    close_grace_seconds: float = Field(default=10.0, gt=0)
    # How long a new socket's events wait for its first subscribe (see the hub's pending hold).
    subscribe_grace_seconds: float = Field(default=0.5, ge=0)
    heartbeat_seconds: float = Field(default=20.0, gt=0)
    auth_timeout_seconds: float = Field(default=5.0, gt=0)
    max_frame_bytes: int = Field(default=65_536, ge=1024)
    max_subscriptions: int = Field(default=100, ge=1)
    abuse_max_errors: int = Field(default=20, ge=1)
    abuse_window_seconds: float = Field(default=10.0, gt=0)
    batch_window_seconds: float = Field(default=0.005, ge=0)
    batch_max_events: int = Field(default=256, ge=1)

    stream_max_age_seconds: float = DEFAULT_MAX_AGE_SECONDS
    stream_duplicate_window_seconds: float = DEFAULT_DUPLICATE_WINDOW_SECONDS
    stream_max_msgs: int | None = None
    # As the backlog's `BACKLOG_STREAM_REPLICAS`: whichever service creates the stream on a cluster
    # must replicate it alike.
    stream_replicas: int = Field(default=1, ge=1, le=5)
    # How often the stream's identity is checked, to notice a deleted and recreated stream.
    stream_watch_seconds: float = Field(default=10.0, gt=0)

    @field_validator("allowed_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                import json

                return json.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
        return value

    @property
    def nats_servers(self) -> list[str]:
        """`nats_url` may name several servers of one cluster, comma-separated: the client fails over."""
        return [url.strip() for url in self.nats_url.split(",") if url.strip()]

    def stream_settings(self) -> StreamSettings:
        """Used only when this instance is the one that creates the stream."""
        return StreamSettings(
            max_age_seconds=self.stream_max_age_seconds,
            duplicate_window_seconds=self.stream_duplicate_window_seconds,
            max_msgs=self.stream_max_msgs,
            replicas=self.stream_replicas,
        )

    def origin_allowed(self, origin: str | None) -> bool:
        """Browsers always send Origin; non-browser clients do not, and cannot be tricked into a CSRF."""
        if origin is None:
            return True
        allowed = [o.rstrip("/") for o in self.allowed_origins]
        return not allowed or "*" in allowed or origin.rstrip("/") in allowed
