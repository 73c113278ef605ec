"""The hub's memory of the latest events that went by live: a bounded ring, indexed by tenant, for resumes."""

from __future__ import annotations

from bisect import bisect_right
from collections import deque
from operator import attrgetter

from sprintboard_notifier.hub.delivery import Delivery
from sprintboard_notifier.prepared import Frame

_seq = attrgetter("seq")
_NOWHERE = 2**63  # the floor of a tenant nothing is kept of


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
    """One tenant's events in seq order; evicted from the front by moving `head` (compacted now and then).
    `floor`: the log holds every event of the tenant above it that the ring still holds."""

    __slots__ = ("floor", "head", "items")

    def __init__(self, floor: int = 0) -> None:
        self.items: list[Delivery] = []
        self.head = 0
        self.floor = floor

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

    def first(self) -> Delivery | None:
        return self.items[self.head] if self.head < len(self.items) else None


class RecentEvents:
    """Every event with `floor < seq <= cursor` the live path saw, at most `capacity` of them (all tenants).

    The live path sees every stream message in order, so the range is complete: a resume from inside it
    needs no NATS I/O at all. The oldest events fall out first and `floor` moves up with them. The
    deliveries themselves are kept, no wrapper per event (the ingest path pays for every allocation).

    `per_tenant` (interest routing): only the tenants being followed come by, each from where it was
    first followed (`track`), so each tenant's range starts at its own floor (`floor_of`); the events of
    a tenant that is not tracked are not kept.
    """

    def __init__(self, capacity: int, *, per_tenant: bool = False) -> None:
        self.capacity = capacity
        self.per_tenant = per_tenant
        self._ring: deque[Delivery] = deque()
        self._tenants: dict[str, _TenantLog] = {}
        self.floor = 0

    def track(self, tenant_id: str, cursor: int) -> None:
        """Per tenant: `tenant_id`'s events after `cursor` come by from now on (what was kept is let go)."""
        self._tenants[tenant_id] = _TenantLog(cursor)

    def forget(self, tenant_id: str) -> None:
        """Per tenant: `tenant_id` is no longer followed; its events still in the ring are let go."""
        self._tenants.pop(tenant_id, None)

    def floor_of(self, tenant_id: str) -> int:
        """Every event of `tenant_id` with `floor_of < seq <= cursor` is kept (per tenant: none is kept of
        a tenant that is not tracked, whose floor is then past any seq)."""
        if not self.per_tenant:
            return self.floor
        log = self._tenants.get(tenant_id)
        return _NOWHERE if log is None else log.floor

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
                if (kept := self._tenants.get(d.tenant_id)) is not None:
                    kept.floor = d.seq
                return
            old = ring.popleft()
            # Per tenant the ring is in arrival order, each tenant's events in seq order: a tenant's floor
            # is its own last evicted seq (the ring's `floor` is only read when every tenant comes by).
            self.floor = max(self.floor, old.seq)
            old_log = self._tenants.get(old.tenant_id)
            if old_log is not None and old_log.first() is old:  # not a forgotten or re-tracked tenant's
                old_log.floor = old.seq
                if old_log.pop_front() and not self.per_tenant:
                    del self._tenants[old.tenant_id]
        log = self._tenants.get(d.tenant_id)
        if log is None:
            if self.per_tenant:
                return  # not followed
            log = self._tenants[d.tenant_id] = _TenantLog()
        ring.append(d)
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
