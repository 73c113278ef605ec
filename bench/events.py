"""Contract-valid task events built with the contracts' models, and paced JetStream publishing."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

BENCH_ORG = "bench-org"


@dataclass
class EventFactory:
    """`ownership_taken` events of one tenant, project, sprint and story; `timestamp` is the build time."""

    project_id: uuid.UUID = field(default_factory=uuid.uuid4)
    sprint_id: uuid.UUID = field(default_factory=uuid.uuid4)
    story_id: uuid.UUID = field(default_factory=uuid.uuid4)
    user_id: uuid.UUID = field(default_factory=uuid.uuid4)
    tenant_id: str = BENCH_ORG
    _version: int = 0

    def subject(self) -> str:
        return subject_of(self.tenant_id, self.project_id, self.sprint_id, "taken")

    def build(self) -> tuple[str, bytes]:
        """(event_id, JSON body) of a fresh `ownership_taken` event of a new task."""
        self._version += 1
        return task_event(
            "taken",
            tenant_id=self.tenant_id,
            project_id=self.project_id,
            sprint_id=self.sprint_id,
            story_id=self.story_id,
            task_id=uuid.uuid4(),
            version=self._version,
            user_id=self.user_id,
        )


def subject_of(tenant_id: str, project_id: uuid.UUID, sprint_id: uuid.UUID | None, kind: str) -> str:
    """The v2 subject the relay publishes such an event on."""
    from sprintboard_contracts.subjects import EventType, subject_v2_for

    types = {
        "taken": EventType.OWNERSHIP_TAKEN,
        "released": EventType.OWNERSHIP_RELEASED,
        "status": EventType.STATUS_CHANGED,
    }
    return subject_v2_for(tenant_id, project_id, sprint_id, types[kind])


def task_event(
    kind: str,
    *,
    tenant_id: str,
    project_id: uuid.UUID,
    sprint_id: uuid.UUID | None,
    story_id: uuid.UUID,
    task_id: uuid.UUID,
    version: int,
    user_id: uuid.UUID,
    old_status: str = "owned",
    new_status: str = "owned",
) -> tuple[str, bytes]:
    """(event_id, JSON) of a `taken`, `released` or `status` event, as the contracts' models write it."""
    from sprintboard_contracts import events as contract

    event_id = uuid.uuid4()
    common: dict[str, Any] = {
        "event_id": event_id,
        "timestamp": datetime.now(UTC),
        "tenant_id": tenant_id,
        "org_id": tenant_id,
        "project_id": project_id,
        "sprint_id": sprint_id,
        "story_id": story_id,
        "task_id": task_id,
        "task_version": version,
        "actor_user_id": user_id,
    }
    model: Any
    if kind == "taken":
        model = contract.OwnershipTaken(**common, status="owned", owner_user_id=user_id)
    elif kind == "released":
        model = contract.OwnershipReleased(**common, status="available", previous_owner_user_id=user_id)
    else:
        model = contract.StatusChanged(
            **common,
            status=new_status,
            old_status=old_status,
            new_status=new_status,
            changed_by_user_id=user_id,
        )
    body = contract.event_to_json(model)
    return str(event_id), body if isinstance(body, bytes) else str(body).encode()


class JetStreamPublisher:
    """Publishes factory events with `js.publish_async` (acks in flight together) at a paced rate."""

    def __init__(self, nats_url: str, factory: EventFactory) -> None:
        self._url = nats_url
        self.factory = factory
        self._nc: Any = None
        self._js: Any = None

    async def connect(self) -> None:
        import nats

        from sprintboard_kit.stream import ensure_stream

        self._nc = await nats.connect(self._url, name="sprintboard-bench")
        self._js = self._nc.jetstream(publish_async_max_pending=20_000)
        await ensure_stream(self._js)

    async def send(self, events: int, rate: float) -> dict[str, Any]:
        """`events` events at `rate` events/s (0 = as fast as possible); returns when all are acked."""
        loop = asyncio.get_running_loop()
        subject = self.factory.subject()
        start = loop.time()
        behind = 0.0
        for i in range(events):
            if rate > 0:
                due = start + i / rate
                now = loop.time()
                if due > now:
                    await asyncio.sleep(due - now)
                else:
                    behind = max(behind, now - due)
            event_id, body = self.factory.build()
            await self._js.publish_async(subject, body, headers={"Nats-Msg-Id": event_id})
        await asyncio.wait_for(self._js.publish_async_completed(), 30)
        return {"sent": events, "seconds": loop.time() - start, "behind_ms": round(behind * 1000, 1)}

    async def close(self) -> None:
        if self._nc is not None:
            await self._nc.close()
            self._nc = None


class RoundRobin:
    """Events round-robin over factories (sprints) at `rate`/s, each built (timestamped) as it goes, until
    `count` are sent or `stopped` is set; the event ids published per factory index."""

    def __init__(self, js: Any, factories: list[EventFactory], rate: float) -> None:
        self.js, self.factories, self.rate = js, factories, rate
        self.published: dict[str, list[str]] = {}
        self.stopped = asyncio.Event()
        self.behind = 0.0  # the most the pacing fell behind, s
        self.sent_at: dict[str, float] = {}  # event id -> wall time it was built

    async def run(self, key: str | None = None, count: int | None = None) -> float:
        """Seconds from the first publish until every event is acked."""
        loop = asyncio.get_running_loop()
        start, i = loop.time(), 0
        while not self.stopped.is_set() and (count is None or i < count):
            due = start + i / self.rate
            now = loop.time()
            if due > now:
                await asyncio.sleep(due - now)
            else:
                self.behind = max(self.behind, now - due)
            index = i % len(self.factories)
            f = self.factories[index]
            event_id, body = f.build()
            await self.js.publish_async(f.subject(), body, headers={"Nats-Msg-Id": event_id})
            self.published.setdefault(key or str(index), []).append(event_id)
            self.sent_at[event_id] = time.time()
            i += 1
        await asyncio.wait_for(self.js.publish_async_completed(), 60)
        return loop.time() - start
