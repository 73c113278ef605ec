"""What the hub moves: one stored event as the hub sees it (`Delivery`) and what it is routed by."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

KeyKind = Literal["sprint", "project", "story"]
SubscriptionKey = tuple[KeyKind, str]
KEY_KINDS: tuple[KeyKind, ...] = ("sprint", "project", "story")


@dataclass(slots=True)  # not frozen: a frozen dataclass's __init__ costs twice as much, once per event
class Delivery:
    """One stored event: its stream sequence, what it is routed by, and its JSON body (an object: the
    published bytes, forwarded as they are, or a decoded dict)."""

    seq: int
    tenant_id: str
    project_id: str | None
    sprint_id: str | None
    story_id: str | None
    stamp: str  # the event's RFC 3339 `timestamp`, parsed only when a live frame needs it
    body: bytes | dict[str, Any]

    @property
    def timestamp(self) -> float:
        """POSIX seconds of `stamp` (most events reach no socket here, so none of them pays for this)."""
        return datetime.fromisoformat(self.stamp).timestamp()

    def routes(self) -> tuple[SubscriptionKey | None, ...]:
        return (
            ("sprint", self.sprint_id) if self.sprint_id else None,
            ("project", self.project_id) if self.project_id else None,
            ("story", self.story_id) if self.story_id else None,
        )

    def matches(self, keys: frozenset[SubscriptionKey] | None) -> bool:
        """None means tenant-wide (a socket without subscriptions)."""
        if keys is None:
            return True
        return any(k in keys for k in self.routes() if k is not None)
