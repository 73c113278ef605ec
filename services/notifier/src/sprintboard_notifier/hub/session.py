"""One socket as the hub sees it: its filters and resume state (`Session`), and where its frames go
(`Outlet`, implemented on the socket side by `writer.Writer`: the hub never sees a socket)."""

from __future__ import annotations

from collections import deque
from typing import Protocol

from sprintboard_notifier.hub.delivery import Delivery, SubscriptionKey
from sprintboard_notifier.hub.ledger import SentLedger
from sprintboard_notifier.prepared import Frame


class Outlet(Protocol):
    """What the hub hands a socket's frames to, in order."""

    def offer(self, frame: Frame) -> bool:
        """Take a frame without waiting; False (nothing taken) when the socket's buffer is full."""
        ...

    async def room(self, timeout: float) -> bool:
        """Wait until `offer` would take a frame; False when it did not within `timeout`, or closed."""
        ...

    def close(self, code: int, reason: str = "") -> None:
        """No more frames: the close frame follows what was taken (or replaces it, for a stalled socket)."""
        ...


class Session:
    """Owned by the hub: filled by `deliver` (live) and `offer`/`put` (control frames, replays)."""

    __slots__ = (
        "_held",
        "_hold_capacity",
        "close_code",
        "close_reason",
        "keys",
        "ledger",
        "outlet",
        "pending",
        "session_id",
        "tenant_id",
    )

    def __init__(
        self,
        session_id: str,
        tenant_id: str,
        outlet: Outlet,
        hold_capacity: int,
        cursor: int,
        pending: bool,
    ) -> None:
        self.session_id = session_id
        self.tenant_id = tenant_id
        self.outlet = outlet
        self.keys: set[SubscriptionKey] = set()
        self.close_code: int | None = None
        self.close_reason = ""
        # A new socket holds its events until it states its filters (or a grace period ends), so a
        # resuming client does not first get tenant-wide live events ahead of its replay.
        self.pending = pending
        self._held: deque[tuple[Frame, Delivery]] | None = deque() if pending else None
        self._hold_capacity = hold_capacity
        self.ledger = SentLedger(cursor)

    @property
    def closed(self) -> bool:
        return self.close_code is not None

    def key_set(self) -> frozenset[SubscriptionKey] | None:
        return frozenset(self.keys) if self.keys else None

    # -- filters --------------------------------------------------------------------------------------

    def rekey(
        self, cursor: int, add: SubscriptionKey | None = None, drop: SubscriptionKey | None = None
    ) -> None:
        """Filters change at `cursor`: what the old filters let through up to it counts as sent."""
        self.ledger.live_until(cursor, self.key_set(), sent=not self.pending)  # held: nothing went out
        if add is not None:
            self.keys.add(add)
        if drop is not None:
            self.keys.discard(drop)

    # -- frames (never wait) --------------------------------------------------------------------------

    def deliver(self, frame: Frame, d: Delivery) -> bool:
        """A live event: held, skipped (already sent) or handed to the outlet; False when the hold or
        the outlet is full."""
        if self.close_code is not None:
            return True
        held = self._held
        if held is not None:
            if len(held) >= self._hold_capacity:
                return False
            held.append((frame, d))
            return True
        ledger = self.ledger
        if d.seq <= ledger.ceiling and ledger.already_sent(d):
            return True
        return self.outlet.offer(frame)

    def offer(self, frame: Frame) -> bool:
        """Any frame, without waiting; False when the outlet is full."""
        return self.close_code is not None or self.outlet.offer(frame)

    async def put(self, frame: Frame, stall_seconds: float) -> bool:
        """A replayed frame, waiting for room; False when the client stalls that long (or is gone)."""
        if self.close_code is None and await self.outlet.room(stall_seconds):
            return self.close_code is None and self.outlet.offer(frame)
        return False

    # -- the resume hold ------------------------------------------------------------------------------

    def start_hold(self) -> None:
        if self._held is None:
            self._held = deque()

    def pop_held(self) -> tuple[Frame, Delivery] | None:
        """The next held live event; when none is left the hold ends in the same step (no await between)."""
        if self._held:
            return self._held.popleft()
        self._held = None
        return None

    def close(self, code: int, reason: str = "") -> bool:
        """Mark closed (first code wins), drop what is held and close the outlet."""
        if self.close_code is not None:
            return False
        self.close_code = code
        self.close_reason = reason
        self._held = None
        self.outlet.close(code, reason)
        return True
