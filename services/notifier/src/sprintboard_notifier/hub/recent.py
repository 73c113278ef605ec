"""The hub's memory of the latest events that went by live: a bounded ring, indexed by tenant, for resumes."""

from __future__ import annotations

from bisect import bisect_right
from collections import deque

from sprintboard_notifier.hub.delivery import Delivery
from sprintboard_notifier.prepared import Frame


class Kept:
    """One remembered event; its replay frame is serialized once, on the first resume that needs it."""

    __slots__ = ("_frame", "delivery", "text")

    def __init__(self, delivery: Delivery) -> None:
        self.delivery = delivery
        self.text: str | None = None  # the live frame's text, when the live path built one
        self._frame: Frame | None = None

    def frame(self, epoch: str) -> Frame:
        """A replay frame, shared by every socket (no timestamp: replays stay out of the lag histogram)."""
        frame = self._frame
        if frame is None:
            d = self.delivery
            text = self.text if self.text is not None else Frame.event(d, epoch, live=False).text
            frame = self._frame = Frame(text, d.seq)
            self.text = None
        return frame


class _TenantLog:
    """One tenant's events in seq order; evicted from the front by moving `head` (compacted now and then)."""

    __slots__ = ("head", "items")

    def __init__(self) -> None:
        self.items: list[Kept] = []
        self.head = 0

    def pop_front(self) -> None:
        self.head += 1
        if self.head >= 1024 and self.head * 2 >= len(self.items):
            del self.items[: self.head]
            self.head = 0

    def __len__(self) -> int:
        return len(self.items) - self.head


def _seq(k: Kept) -> int:
    return k.delivery.seq


class RecentEvents:
    """Every event with `floor < seq <= cursor` the live path saw, at most `capacity` of them (all tenants).

    The live path sees every stream message in order, so the range is complete: a resume from inside it
    needs no NATS I/O at all. The oldest events fall out first and `floor` moves up with them.
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._ring: deque[Kept] = deque()
        self._tenants: dict[str, _TenantLog] = {}
        self.floor = 0

    def __len__(self) -> int:
        return len(self._ring)

    def reset(self, cursor: int) -> None:
        """Forget everything: what follows `cursor` is all that is known to be complete."""
        self._ring.clear()
        self._tenants.clear()
        self.floor = cursor

    def append(self, d: Delivery) -> Kept:
        kept = Kept(d)
        if self.capacity == 0:
            self.floor = d.seq
            return kept
        self._ring.append(kept)
        log = self._tenants.get(d.tenant_id)
        if log is None:
            log = self._tenants[d.tenant_id] = _TenantLog()
        log.items.append(kept)
        if len(self._ring) > self.capacity:
            old = self._ring.popleft().delivery
            self.floor = old.seq
            oldest = self._tenants[old.tenant_id]
            oldest.pop_front()
            if not oldest:
                del self._tenants[old.tenant_id]
        return kept

    def since(self, tenant_id: str, after_seq: int, upto: int) -> list[Kept]:
        """The tenant's kept events with `after_seq < seq <= upto`, oldest first (a snapshot)."""
        log = self._tenants.get(tenant_id)
        if log is None:
            return []
        items = log.items
        lo = bisect_right(items, after_seq, lo=log.head, key=_seq)
        hi = bisect_right(items, upto, lo=lo, key=_seq)
        return items[lo:hi]
