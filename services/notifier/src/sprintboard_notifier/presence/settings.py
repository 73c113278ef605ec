"""Presence settings and counters: what an operator tunes (`NOTIFIER_PRESENCE_*`) and what metrics read."""

from __future__ import annotations

from dataclasses import dataclass

from sprintboard_notifier.presence.bucket import BucketSettings


@dataclass(frozen=True, slots=True)
class PresenceSettings:
    """`ttl_seconds`: an instance not heard for this long is lost (each beats every third of it);
    `grace_seconds`: how long a user stays after their last socket closed; `entry_max_age_seconds`: how long
    a key nobody rewrites stays stored (a live instance rewrites its keys at half of it)."""

    bucket: str = "SPRINTBOARD_PRESENCE"
    ttl_seconds: float = 6.0
    grace_seconds: float = 3.0
    diff_interval_seconds: float = 0.5
    load_timeout_seconds: float = 2.0
    entry_max_age_seconds: float = 3600.0
    replicas: int = 1

    @property
    def heartbeat_seconds(self) -> float:
        return self.ttl_seconds / 3

    @property
    def tick_seconds(self) -> float:
        return max(0.01, min(self.heartbeat_seconds, self.grace_seconds) / 2)

    @property
    def refresh_seconds(self) -> float:
        """How old a key gets before it is written again, unchanged."""
        return self.entry_max_age_seconds / 2

    def entries(self) -> BucketSettings:
        return BucketSettings(self.bucket, self.entry_max_age_seconds, self.replicas)

    def instances(self) -> BucketSettings:
        return BucketSettings(f"{self.bucket}_INSTANCES", self.ttl_seconds, self.replicas)


@dataclass(slots=True)
class PresenceStats:
    """Plain numbers, read by the metrics collector at scrape time."""

    diffs: int = 0  # presence_diff frames built (one per sprint and flush, shared by its sockets)
    frames: int = 0  # presence and presence_diff frames handed to sockets
    writes: int = 0  # key writes and deletes sent to NATS
    updates: int = 0  # other instances' key changes received
    min_spacing: float | None = None  # the shortest time between two diffs of one sprint (server clock)
