"""What the hub moves: one stored event as the hub sees it (`Delivery`) and what it is routed by."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

import msgspec

if TYPE_CHECKING:
    from sprintboard_notifier.prepared import Frame

KeyKind = Literal["sprint", "project", "story"]
SubscriptionKey = tuple[KeyKind, str]
KEY_KINDS: tuple[KeyKind, ...] = ("sprint", "project", "story")
Routes = tuple[SubscriptionKey | None, SubscriptionKey | None, SubscriptionKey | None]


class Delivery(msgspec.Struct, gc=False):
    """One stored event: its stream sequence, what it is routed by, and its JSON body (an object: the
    published bytes, forwarded as they are, or a decoded dict).

    Built once per consumed event, so it is as cheap as it can be: a msgspec struct (built in C), never
    tracked by the garbage collector (it holds strings, bytes, a frame: nothing that leads back to it),
    and the ids are lowercased only when something routes it (most events reach no socket here)."""

    seq: int
    tenant_id: str
    project_id: str | None  # the ids as published: the contract's UUIDs may be uppercase
    sprint_id: str | None
    story_id: str | None
    stamp: str  # the event's RFC 3339 `timestamp`, parsed only when a live frame needs it
    body: bytes | dict[str, Any]
    # While the hub's memory holds it: the live frame's text, then its replay frame (`recent.replay_frame`).
    kept: str | Frame | None = None
    routing: Routes | None = None  # `routes()`, made on first use

    @property
    def timestamp(self) -> float:
        """POSIX seconds of `stamp` (most events reach no socket here, so none of them pays for this)."""
        return datetime.fromisoformat(self.stamp).timestamp()

    def routes(self) -> Routes:
        """The subscription keys it matches, ids in lowercase as subscriptions are."""
        if self.routing is not None:
            return self.routing
        sprint, project, story = self.sprint_id, self.project_id, self.story_id
        routing: Routes = (
            ("sprint", sprint.lower()) if sprint else None,
            ("project", project.lower()) if project else None,
            ("story", story.lower()) if story else None,
        )
        self.routing = routing
        return routing

    def matches(self, keys: frozenset[SubscriptionKey] | None) -> bool:
        """None means tenant-wide (a socket without subscriptions)."""
        if keys is None:
            return True
        return any(k in keys for k in self.routes() if k is not None)
