"""The hub's memory of the latest events that went by live: a bounded ring, indexed by tenant, for resumes."""

from __future__ import annotations

from bisect import bisect_right
from collections import deque
from operator import attrgetter

from sprintboard_notifier.hub.delivery import Delivery
from sprintboard_notifier.prepared import Frame

_seq = attrgetter("seq")


def replay_frame(d: Delivery, epoch: str) -> Frame:
    """A remembered event's replay frame, built once and shared by every socket that replays it (no
    timestamp: replays stay out of the lag histogram). It reuses the live frame's text when the live path
    built one (`Delivery.kept`), and is kept there in turn."""
    kept = d.kept
    if isinstance(kept, Frame):
        return kept
    text = kept if kept is not None else Frame.event(d, epoch, live=False).text
    frame = d.kept = Frame(text, d.seq)
    return frame


class _TenantLog:
    """One tenant's events in seq order; evicted from the front by moving `head` (compacted now and then)."""

    __slots__ = ("head", "items")

    def __init__(self) -> None:
        self.items: list[Delivery] = []
        self.head = 0

    def pop_front(self) -> bool:
        """Drop the oldest event; True when none is left."""
        head = self.head = self.head + 1
        items = self.items
        if head >= 1024 and head * 2 >= len(items):
            del items[:head]
            head = self.head = 0
        return head == len(items)

    def __len__(self) -> int:
        return len(self.items) - self.head


class RecentEvents:
    """Every event with `floor < seq <= cursor` the live path saw, at most `capacity` of them (all tenants).

    The live path sees every stream message in order, so the range is complete: a resume from inside it
    needs no NATS I/O at all. The oldest events fall out first and `floor` moves up with them. The
    deliveries themselves are kept, no wrapper per event (the ingest path pays for every allocation).
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._ring: deque[Delivery] = deque()
        self._tenants: dict[str, _TenantLog] = {}
        self.floor = 0

    def __len__(self) -> int:
        return len(self._ring)

    def reset(self, cursor: int) -> None:
        """Forget everything: what follows `cursor` is all that is known to be complete."""
        self._ring.clear()
        self._tenants.clear()
        self.floor = cursor

    def append(self, d: Delivery) -> None:
        ring = self._ring
        if len(ring) >= self.capacity:
            if not ring:  # capacity 0: nothing is kept, the floor follows the cursor
                self.floor = d.seq
                return
            old = ring.popleft()
            self.floor = old.seq
            if self._tenants[old.tenant_id].pop_front():
                del self._tenants[old.tenant_id]
        ring.append(d)
        log = self._tenants.get(d.tenant_id)
        if log is None:
            log = self._tenants[d.tenant_id] = _TenantLog()
        log.items.append(d)

    def since(self, tenant_id: str, after_seq: int, upto: int) -> list[Delivery]:
        """The tenant's kept events with `after_seq < seq <= upto`, oldest first (a snapshot)."""
        log = self._tenants.get(tenant_id)
        if log is None:
            return []
        items = log.items
        lo = bisect_right(items, after_seq, lo=log.head, key=_seq)
        hi = bisect_right(items, upto, lo=lo, key=_seq)
        return items[lo:hi]
