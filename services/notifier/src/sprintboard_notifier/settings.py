"""Notifier configuration: one pydantic-settings class, `NOTIFIER_` prefix, composed with the kit's shared
pieces (NATS, JWT, stream) and their workspace-wide names, as the backlog's."""

from __future__ import annotations

import os
import socket
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings

from sprintboard_kit.settings import (
    JwtFields,
    NatsFields,
    Origins,
    StreamFields,
    origin_allowed,
    service_config,
)
from sprintboard_notifier.presence import PresenceSettings


def _default_instance_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


class NotifierSettings(NatsFields, JwtFields, StreamFields, BaseSettings):
    """Everything an operator may tune; defaults suit a local run."""

    model_config = service_config("NOTIFIER_")

    host: str = "127.0.0.1"
    port: int = 8001
    log_level: str = "info"
    instance_id: str = Field(default_factory=_default_instance_id)

    # Empty or ["*"] allows every Origin (local development); requests without Origin are always allowed.
    allowed_origins: Origins = Field(default_factory=list)

    send_queue_frames: int = Field(default=512, ge=1)
    resume_hold_frames: int = Field(default=10_000, ge=1)
    replay_stall_seconds: float = Field(default=30.0, gt=0)
    # The latest events (all tenants) each instance keeps in memory: a resume from inside them needs no NATS.
    history_events: int = Field(default=10_000, ge=0)
    # Resumes from further back read the stream, at most this many reads at once (each a short-lived
    # consumer for one batch); a read that gets nothing for the timeout ends in `resync_required`.
    replay_readers: int = Field(default=4, ge=1)
    replay_read_timeout_seconds: float = Field(default=5.0, gt=0)
    # How long a new socket's events wait for its first subscribe (see the hub's pending hold).
    subscribe_grace_seconds: float = Field(default=0.5, ge=0)
    heartbeat_seconds: float = Field(default=20.0, gt=0)
    # A socket whose written frames (a heartbeat at least) stay unacknowledged this long is dropped by
    # the kernel (TCP_USER_TIMEOUT): dead peers are found without WebSocket pings.
    peer_timeout_seconds: float = Field(default=20.0, gt=0)
    auth_timeout_seconds: float = Field(default=5.0, gt=0)
    max_frame_bytes: int = Field(default=65_536, ge=1024)
    max_subscriptions: int = Field(default=100, ge=1)
    abuse_max_errors: int = Field(default=20, ge=1)
    abuse_window_seconds: float = Field(default=10.0, gt=0)
    batch_window_seconds: float = Field(default=0.005, ge=0)
    batch_max_events: int = Field(default=256, ge=1)

    # Interest routing (docs/architecture.md): "interest" follows from NATS only the tenants this instance's
    # sockets need, one consumer per tenant, kept `interest_linger_seconds` after its last socket left;
    # "all" reads every event of every tenant (one consumer). At most `follow_creates` consumers are
    # created at once; a socket whose tenant cannot be followed within `follow_timeout_seconds` is closed
    # with 1013 and reconnects.
    follow: Literal["interest", "all"] = "interest"
    interest_linger_seconds: float = Field(default=30.0, ge=0)
    follow_creates: int = Field(default=16, ge=1)
    follow_timeout_seconds: float = Field(default=10.0, gt=0)
    # With "interest": above this many followed tenants the instance goes wide, one consumer of every event
    # instead of a consumer per tenant (it goes back at half as many); 0 never.
    follow_all_above: int = Field(default=500, ge=0)
    # How "interest" gets its tenants live: "republish", one core subscription per tenant on what the live
    # stream republishes, a gap read from the stream (`stream/live.py`); "consumers", one JetStream
    # consumer per tenant, going wide above `follow_all_above` (`stream/follower.py`).
    interest_path: Literal["republish", "consumers"] = "republish"
    # With "republish": how often each followed tenant's last stored event is looked at; one not come by
    # live at two looks in a row is read from the stream.
    live_check_seconds: float = Field(default=5.0, gt=0)

    # How often the stream's identity is checked, to notice a deleted and recreated stream.
    stream_watch_seconds: float = Field(default=10.0, gt=0)

    # Presence (spec §4), soft state in NATS key-value buckets (memory storage): the entries bucket holds each
    # instance's viewers per sprint, written on change (and again before the entry max age); the
    # `<bucket>_INSTANCES` bucket one heartbeat per instance, every third of the TTL. An instance not heard
    # for the TTL is lost: its users leave.
    presence_enabled: bool = True
    presence_bucket: str = Field(default="SPRINTBOARD_PRESENCE", pattern=r"^[a-zA-Z0-9_-]+$")
    presence_ttl_seconds: float = Field(default=6.0, gt=0)
    presence_grace_seconds: float = Field(default=3.0, ge=0)
    presence_diff_interval_seconds: float = Field(default=0.5, gt=0)
    presence_load_timeout_seconds: float = Field(default=2.0, gt=0)
    presence_entry_max_age_seconds: float = Field(default=3600.0, gt=0)
    presence_replicas: int = Field(default=1, ge=1, le=5)

    def presence_settings(self) -> PresenceSettings:
        return PresenceSettings(
            bucket=self.presence_bucket,
            ttl_seconds=self.presence_ttl_seconds,
            grace_seconds=self.presence_grace_seconds,
            diff_interval_seconds=self.presence_diff_interval_seconds,
            load_timeout_seconds=self.presence_load_timeout_seconds,
            entry_max_age_seconds=self.presence_entry_max_age_seconds,
            replicas=self.presence_replicas,
        )

    def origin_allowed(self, origin: str | None) -> bool:
        """Whether a browser page from `origin` may open a socket."""
        return origin_allowed(self.allowed_origins, origin)
