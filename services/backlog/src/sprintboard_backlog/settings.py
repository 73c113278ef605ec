"""The backlog's settings: one pydantic-settings class, env prefix `BACKLOG_`, composed with the kit's
shared pieces (database, NATS, JWT, stream) and their workspace-wide names."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings

from sprintboard_kit.settings import (
    DatabaseFields,
    JwtFields,
    NatsFields,
    Origins,
    StreamFields,
    service_config,
)


class BacklogSettings(DatabaseFields, NatsFields, JwtFields, StreamFields, BaseSettings):
    model_config = service_config("BACKLOG_")

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    workers: int = Field(1, ge=1, le=64)
    dev_auth: bool = False
    relay_enabled: bool = True
    relay_batch_size: int = Field(500, ge=1, le=10_000)
    relay_poll_interval_seconds: float = Field(1.0, gt=0, le=60)
    relay_ack_timeout_seconds: float = Field(5.0, gt=0, le=120)
    # How long the leader waits on its lock's connection before it takes the lock (and the session) as lost.
    relay_lock_timeout_seconds: float = Field(5.0, gt=0, le=120)
    relay_metrics_port: int = Field(0, ge=0, le=65535)
    notifier_public_url: str = "ws://127.0.0.1:8001/api/v1/ws/tasks"
    migrate_on_start: bool = False
    cors_origins: Origins = Field(default_factory=list)
    db_pool_size: int = Field(20, ge=1, le=200)
    db_max_overflow: int = Field(10, ge=0, le=200)
    idempotency_ttl_seconds: float = Field(24 * 3600, gt=0)
    idempotency_wait_seconds: float = Field(5.0, gt=0, le=60)
    idempotency_sweep_interval_seconds: float = Field(600, gt=0)
    log_level: str = "INFO"
    access_log: bool = True
