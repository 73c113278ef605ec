"""The hub alone, for its unit tests: an in-memory event source, an outlet that keeps what it is given,
and helpers to feed and drain sessions."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator

import orjson

from sprintboard_notifier.hub import Delivery, HistoryGap, Hub, Session, SubscriptionKey
from sprintboard_notifier.metrics import NotifierMetrics
from sprintboard_notifier.prepared import Frame

T1, T2 = "org-1", "org-2"
SPRINT, OTHER_SPRINT = "s-1", "s-2"


def delivery(seq: int, tenant: str = T1, sprint: str | None = SPRINT, story: str = "story-1") -> Delivery:
    return Delivery(
        seq,
        tenant,
        "p-1",
        sprint,
        story,
        "1970-01-01T00:00:00Z",
        {"type": "ownership_taken", "event_id": f"e{seq}"},
    )


class MemorySource:
    def __init__(self) -> None:
        self.events: list[Delivery] = []
        self.first_seq = 1
        self.epoch = "epoch-1"
        self.during_replay: list[Delivery] = []
        self.hub: Hub | None = None
        self.reads = 0
        self.asked: list[tuple[str, frozenset[SubscriptionKey] | None]] = []  # each replay's feed
        self.followers: dict[str, int] = {}  # sockets per tenant, as `follow`/`unfollow` count them

    async def follow(self, tenant_id: str) -> None:
        self.followers[tenant_id] = self.followers.get(tenant_id, 0) + 1

    def unfollow(self, tenant_id: str) -> None:
        self.followers[tenant_id] -= 1

    async def replay(
        self, tenant_id: str, keys: frozenset[SubscriptionKey] | None, from_seq: int, to_seq: int
    ) -> AsyncGenerator[Delivery, None]:
        self.reads += 1
        self.asked.append((tenant_id, keys))
        if from_seq < self.first_seq:
            raise HistoryGap(f"{from_seq} is older than the store keeps")
        for d in self.events:
            if from_seq <= d.seq <= to_seq:
                yield d
                # Live events keep coming while a replay runs.
                if self.during_replay and self.hub is not None:
                    live = self.during_replay.pop(0)
                    self.events.append(live)
                    self.hub.publish(live)
                await asyncio.sleep(0)


class UnreadOutlet:
    """An `Outlet` that keeps what it is given, as a socket that is not read: `capacity` frames until
    the test `take`s them."""

    def __init__(self, capacity: int = 100) -> None:
        self.frames: list[Frame] = []
        self.capacity = capacity
        self.closed: tuple[int, str] | None = None
        self._room: asyncio.Future[None] | None = None

    def offer(self, frame: Frame) -> bool:
        if self.closed is not None:
            return True
        if len(self.frames) >= self.capacity:
            return False
        self.frames.append(frame)
        return True

    async def room(self, timeout: float) -> bool:
        while len(self.frames) >= self.capacity and self.closed is None:
            self._room = asyncio.get_running_loop().create_future()
            try:
                await asyncio.wait_for(self._room, timeout)
            except TimeoutError:
                return False
        return self.closed is None

    def close(self, code: int, reason: str = "") -> None:
        self.closed = (code, reason)
        self.frames.clear()
        self._wake()

    def take(self) -> list[Frame]:
        out, self.frames = self.frames, []
        self._wake()
        return out

    def _wake(self) -> None:
        if self._room is not None and not self._room.done():
            self._room.set_result(None)


def open_socket(hub: Hub, tenant: str = T1, pending: bool = False, capacity: int = 100) -> Session:
    """`Hub.open` run to its end without a loop: the memory source follows a tenant at once."""
    opening = hub.open(tenant, UnreadOutlet(capacity), pending=pending)
    try:
        opening.send(None)
    except StopIteration as done:
        session: Session = done.value
        return session
    opening.close()
    raise AssertionError("Hub.open waited on a source that follows at once")


def outlet(s: Session) -> UnreadOutlet:
    assert isinstance(s.outlet, UnreadOutlet)
    return s.outlet


def make_hub(hold: int = 100, history: int = 0) -> tuple[Hub, MemorySource, NotifierMetrics]:
    """By default the hub keeps no recent events, so every resume reads the source."""
    source, metrics = MemorySource(), NotifierMetrics()
    hub = Hub(source, metrics, hold_frames=hold, stall_seconds=1, history_events=history)
    source.hub = hub
    hub.start(source.epoch, 0)
    return hub, source, metrics


def feed(hub: Hub, source: MemorySource, *ds: Delivery) -> None:
    for d in ds:
        source.events.append(d)
        hub.publish(d)


def drained(s: Session) -> list[dict[str, object]]:
    return [orjson.loads(f.text) for f in outlet(s).take()]


def event_seqs(s: Session) -> list[int]:
    return [int(f["seq"]) for f in drained(s) if "event_id" in f]  # type: ignore[call-overload]
