"""The transactional outbox: one row per committed task change, none for no-ops, refusals or rollbacks."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from sprintboard_backlog.adapters.unit_of_work import SqlUnitOfWork
from sprintboard_backlog.domain.events import TaskEvent
from sprintboard_contracts.events import parse_event
from sprintboard_contracts.subjects import subject_v2_for


async def test_each_committed_change_writes_one_row_with_consecutive_versions(
    api: Any, tenant: Any, outbox_rows: Any
) -> None:
    alice, bob = api("alice"), api("bob")
    project_id, story_id, sprint_id, task_id = await alice.board()
    await alice.call("PUT", f"/tasks/{task_id}/ownership")
    await alice.call("PATCH", f"/tasks/{task_id}/status", json={"status": "owned"})  # no-op
    await bob.call("POST", f"/tasks/{task_id}/work/start", 403)  # refused
    await alice.call("PATCH", f"/tasks/{task_id}/estimate", json={"estimated_hours": 5})
    await alice.call("PATCH", f"/tasks/{task_id}/estimate", json={"estimated_hours": 5})  # no-op
    await alice.call("POST", f"/tasks/{task_id}/work/start")
    await alice.call("POST", f"/tasks/{task_id}/work/pause")
    await alice.call("DELETE", f"/tasks/{task_id}/ownership")
    await bob.call("PUT", f"/tasks/{task_id}/ownership")
    await bob.call("POST", f"/tasks/{task_id}/work/start")
    await bob.call("POST", f"/tasks/{task_id}/work/complete")

    rows = await outbox_rows(task_id)
    events = [parse_event(row["payload"]) for row in rows]
    assert [e.type for e in events] == [
        "task_created",
        "ownership_taken",
        "task_updated",
        "status_changed",
        "status_changed",
        "ownership_released",
        "ownership_taken",
        "status_changed",
        "status_changed",
    ]
    assert [e.task_version for e in events] == list(range(1, 10))
    task = await alice.call("GET", f"/tasks/{task_id}")
    assert task["version"] == 9
    alice_id, bob_id = str(tenant.user_id("alice")), str(tenant.user_id("bob"))
    for row, event in zip(rows, events, strict=True):
        assert row["subject"] == subject_v2_for(tenant.org_id, uuid.UUID(project_id), sprint_id, event.type)
        assert str(event.event_id) == str(row["event_id"]) and row["published_at"] is None
        assert str(event.task_id) == task_id and str(event.story_id) == story_id
        assert str(event.project_id) == project_id and str(event.sprint_id) == sprint_id
        assert event.tenant_id == tenant.org_id and event.org_id == tenant.org_id
    assert str(events[1].owner_user_id) == alice_id and str(events[1].actor_user_id) == alice_id
    assert events[1].status == "owned"
    assert events[2].estimated_hours == 5
    assert (events[3].old_status, events[3].new_status, str(events[3].changed_by_user_id)) == (
        "owned",
        "inprogress",
        alice_id,
    )
    assert str(events[5].previous_owner_user_id) == alice_id and events[5].status == "available"
    assert str(events[8].actor_user_id) == bob_id and events[8].status == "completed"


async def test_twenty_concurrent_takes_one_winner_one_event(
    client: Any, tenant: Any, api: Any, outbox_rows: Any
) -> None:
    *_, task_id = await api("alice").board()
    responses = await asyncio.gather(
        *(client.put(f"/api/v1/tasks/{task_id}/ownership", headers=tenant.as_(f"user{n}")) for n in range(20))
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [409] * 19
    winner = next(r for r in responses if r.status_code == 200).json()["task"]
    taken = [parse_event(row["payload"]) for row in await outbox_rows(task_id)]
    assert [e.type for e in taken if e.type == "ownership_taken"] == ["ownership_taken"]
    assert str(taken[-1].owner_user_id) == winner["owner_user_id"] and taken[-1].task_version == 2


class DuplicatingUnitOfWork(SqlUnitOfWork):
    """Records each event twice: the second outbox insert violates the unique event_id, after the
    task's UPDATE in the same transaction, so the whole request must roll back."""

    def record(self, event: TaskEvent) -> None:
        super().record(event)
        super().record(event)


async def test_a_request_failing_after_its_change_leaves_no_change_and_no_event(
    open_client: Any, tenant: Any, outbox_rows: Any
) -> None:
    async with open_client() as (client, context):
        headers = tenant.as_("alice")
        project = (await client.post("/api/v1/projects", json={"name": "P"}, headers=headers)).json()
        story = (
            await client.post(
                f"/api/v1/projects/{project['id']}/stories", json={"title": "S"}, headers=headers
            )
        ).json()
        body = {"title": "T", "acceptance_criteria_refs": ["AC1"]}
        task_id = (
            await client.post(f"/api/v1/stories/{story['story_id']}/tasks", json=body, headers=headers)
        ).json()["task_id"]
        before = await outbox_rows(task_id)
        context.uow_factory = lambda: DuplicatingUnitOfWork(context.engine)
        for method, path in (("PUT", "ownership"), ("PATCH", "estimate")):
            kwargs = {"json": {"estimated_hours": 3}} if method == "PATCH" else {}
            failed = await client.request(
                method, f"/api/v1/tasks/{task_id}/{path}", headers=headers, **kwargs
            )
            assert failed.status_code == 500
            assert failed.json()["error"]["code"] == "internal_error"
            assert failed.json()["error"]["request_id"] == failed.headers["x-request-id"]
        task = (await client.get(f"/api/v1/tasks/{task_id}", headers=headers)).json()
        assert (task["status"], task["version"], task["estimated_hours"]) == ("available", 1, None)
        assert await outbox_rows(task_id) == before and len(before) == 1
