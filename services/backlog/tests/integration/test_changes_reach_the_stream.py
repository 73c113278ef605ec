"""HTTP changes through the outbox and the in-process relay into JetStream: once, in order, never lost."""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from sprintboard_devstack.servers import EmbeddedNats
from sprintboard_devstack.stream_reader import StoredEvent, read_stream


@pytest.fixture(scope="module")
def nats_server() -> AsyncIterator[EmbeddedNats]:
    server = EmbeddedNats().start()
    yield server
    server.cleanup()


@pytest.fixture
async def relayed(
    open_client: Callable[..., Any], nats_server: EmbeddedNats
) -> AsyncIterator[httpx.AsyncClient]:
    """The API with its relay running against this module's NATS."""
    async with open_client(relay_enabled=True, nats_url=nats_server.url, relay_poll_interval_seconds=0.2) as (
        client,
        _,
    ):
        yield client


async def project_events(nats_url: str, project_id: str) -> list[StoredEvent]:
    return await read_stream(nats_url, f"backlog.tasks.v2.*.{project_id}.*.*")


async def wait_for_events(
    nats_url: str, project_id: str, count: int, timeout: float = 30.0
) -> list[StoredEvent]:
    async with asyncio.timeout(timeout):
        while len(events := await project_events(nats_url, project_id)) < count:
            await asyncio.sleep(0.1)
    return events


async def pending_rows(engine: AsyncEngine, task_ids: list[str]) -> int:
    async with engine.connect() as conn:
        result = await conn.execute(
            text("SELECT count(*) FROM outbox WHERE published_at IS NULL AND task_id = ANY(:ids)"),
            {"ids": [uuid.UUID(t) for t in task_ids]},
        )
        return int(result.scalar_one())


async def test_twenty_concurrent_takes_publish_exactly_one_event(
    relayed: httpx.AsyncClient, tenant: Any, nats_server: EmbeddedNats, api_on: Any
) -> None:
    from_api = api_on(relayed, tenant, "alice")
    project_id, _, _, task_id = await from_api.board()
    users = [f"user{n}" for n in range(20)]
    responses = await asyncio.gather(
        *(relayed.put(f"/api/v1/tasks/{task_id}/ownership", headers=tenant.as_(u)) for u in users)
    )
    assert sorted(r.status_code for r in responses) == [200] + [409] * 19
    events = await wait_for_events(nats_server.url, project_id, 2)  # task_created + the one take
    await asyncio.sleep(0.5)  # give a wrongly doubled event the time to show up
    events = await project_events(nats_server.url, project_id)
    taken = [e for e in events if e.data["type"] == "ownership_taken"]
    assert len(taken) == 1
    assert taken[0].data["task_id"] == task_id
    winner = next(u for u, r in zip(users, responses, strict=True) if r.status_code == 200)
    assert taken[0].data["owner_user_id"] == str(tenant.user_id(winner))
    assert [e.msg_id for e in events] == [e.data["event_id"] for e in events]


async def test_changes_made_while_nats_is_down_arrive_once_in_version_order(
    relayed: httpx.AsyncClient, tenant: Any, nats_server: EmbeddedNats, engine: AsyncEngine, api_on: Any
) -> None:
    alice = api_on(relayed, tenant, "alice")
    project_id, story_id, _, first = await alice.board()
    tasks = [first, *[await alice.task(story_id, title=f"T{n}") for n in range(4)]]
    await wait_for_events(nats_server.url, project_id, len(tasks))
    nats_server.stop()
    try:
        cycle = ["PUT ownership", "POST work/start", "POST work/pause", "DELETE ownership"]
        for n in range(100):  # 20 committed changes per task
            task_id = tasks[n % len(tasks)]
            method, path = cycle[(n // len(tasks)) % len(cycle)].split()
            response = await relayed.request(
                method, f"/api/v1/tasks/{task_id}/{path}", headers=tenant.as_("alice")
            )
            assert response.status_code == 200, response.text
        assert await pending_rows(engine, tasks) == 100
    finally:
        nats_server.start()
    events = await wait_for_events(nats_server.url, project_id, len(tasks) + 100)
    await asyncio.sleep(0.5)
    events = await project_events(nats_server.url, project_id)
    assert len(events) == len(tasks) + 100
    assert len({e.data["event_id"] for e in events}) == len(events)
    versions: dict[str, list[int]] = defaultdict(list)
    for event in events:
        versions[event.data["task_id"]].append(event.data["task_version"])
    assert all(seen == list(range(1, 22)) for seen in versions.values()), versions
    assert await pending_rows(engine, tasks) == 0


async def test_a_refused_change_publishes_nothing(
    relayed: httpx.AsyncClient, tenant: Any, nats_server: EmbeddedNats, api_on: Any
) -> None:
    alice = api_on(relayed, tenant, "alice")
    project_id, _, _, task_id = await alice.board()
    await wait_for_events(nats_server.url, project_id, 1)
    refused = await relayed.post(f"/api/v1/tasks/{task_id}/work/complete", headers=tenant.as_("alice"))
    assert refused.status_code == 409
    taken = await relayed.put(f"/api/v1/tasks/{task_id}/ownership", headers=tenant.as_("alice"))
    assert taken.status_code == 200
    events = await wait_for_events(nats_server.url, project_id, 2)
    assert [e.data["type"] for e in events] == ["task_created", "ownership_taken"]
