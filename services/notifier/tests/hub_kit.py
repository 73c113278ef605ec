"""The hub alone, for its unit tests: an in-memory event source and helpers to feed and drain sessions."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator

import orjson

from sprintboard_notifier.hub import Delivery, HistoryGap, Hub, Session
from sprintboard_notifier.metrics import NotifierMetrics

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

    async def replay(
        self, project_ids: frozenset[str] | None, from_seq: int, to_seq: int
    ) -> AsyncGenerator[Delivery, None]:
        self.reads += 1
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


def make_hub(
    queue: int = 100, hold: int = 100, history: int = 0
) -> tuple[Hub, MemorySource, NotifierMetrics]:
    """By default the hub keeps no recent events, so every resume reads the source."""
    source, metrics = MemorySource(), NotifierMetrics()
    hub = Hub(source, metrics, queue_frames=queue, hold_frames=hold, stall_seconds=1, history_events=history)
    source.hub = hub
    hub.start(source.epoch, 0)
    return hub, source, metrics


def feed(hub: Hub, source: MemorySource, *ds: Delivery) -> None:
    for d in ds:
        source.events.append(d)
        hub.publish(d)


def drained(s: Session) -> list[dict[str, object]]:
    return [orjson.loads(f.text) for f in s.take_nowait(10_000)]


def event_seqs(s: Session) -> list[int]:
    return [int(f["seq"]) for f in drained(s) if "event_id" in f]  # type: ignore[call-overload]
