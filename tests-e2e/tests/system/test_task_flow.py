"""The whole path over HTTP and WebSocket: plan a sprint, move its tasks, watch every change arrive live."""

from __future__ import annotations

import asyncio
from typing import Any

from sprintboard_e2e.api import BacklogApi
from sprintboard_e2e.environment import DEMO_ORG_ID, Deployment
from sprintboard_e2e.sockets import BoardSocket

# The reference system's event shapes: a client written for them must keep working (spec §3).
REFERENCE_FIELDS = {
    "ownership_taken": {"task_id", "story_id", "owner_user_id", "timestamp"},
    "ownership_released": {"task_id", "story_id", "previous_owner_user_id", "timestamp"},
    "status_changed": {"task_id", "story_id", "old_status", "new_status", "changed_by_user_id", "timestamp"},
}
FRAME_FIELDS = {"seq", "epoch", "type", "event_id", "tenant_id", "project_id", "task_version", "status"}


def changes(events: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    return [(e["type"], e["task_id"], e["status"]) for e in events]


async def test_every_change_reaches_the_tenant_live_and_no_other_tenant(
    deployment: Deployment, alice: BacklogApi, bob: BacklogApi, olga: BacklogApi
) -> None:
    board = await BoardSocket.open(deployment.socket_url(0), alice.token)
    # The outsider's routing hint names our tenant (spec §4: a hint is never trusted): it must change nothing.
    outsider = await BoardSocket.open(f"{deployment.socket_url(0)}?tenant={DEMO_ORG_ID}", olga.token)
    try:
        sprint = await alice.plan([1, 1])
        first, second = sprint.task_ids
        assert (await alice.take(first))["task"]["status"] == "owned"
        assert (await alice.start(first))["task"]["status"] == "inprogress"
        done = await alice.complete(first)
        assert done["success"] is True and done["task"]["completed_at"] is not None
        assert (await bob.take(second))["task"]["owner_user_id"] == (await bob.me())["id"]
        assert (await bob.release(second))["task"]["status"] == "available"

        snapshot = await alice.board(sprint.sprint_id)
        assert snapshot["sprint"]["totalTasks"] == 2 and snapshot["sprint"]["completedTasks"] == 1
        assert snapshot["sprint"]["progressPercentage"] == 50.0

        expected = [
            ("task_created", first, "available"),
            ("task_created", second, "available"),
            ("ownership_taken", first, "owned"),
            ("status_changed", first, "inprogress"),
            ("status_changed", first, "completed"),
            ("ownership_taken", second, "owned"),
            ("ownership_released", second, "available"),
        ]
        events = await board.wait_for_events(len(expected), project_id=sprint.project_id)
        # Each task's events in order, each once (spec §3: per task). Across tasks the stream may interleave
        # them otherwise: a relay that lags publishes each task's oldest pending row per batch, so the second
        # task's take can precede the first task's later steps.
        assert sorted(changes(events)) == sorted(expected)
        for task in (first, second):
            assert [c for c in changes(events) if c[1] == task] == [c for c in expected if c[1] == task]

        alice_id, bob_id = (await alice.me())["id"], (await bob.me())["id"]
        for event in events:
            assert event.keys() >= FRAME_FIELDS
            assert REFERENCE_FIELDS.get(event["type"], set()) <= event.keys(), event
            assert event["tenant_id"] == DEMO_ORG_ID and event["sprint_id"] == sprint.sprint_id
        by_change = {(e["type"], e["task_id"], e["status"]): e for e in events}
        taken, started, completed, taken_by_bob, released = (by_change[c] for c in expected[2:])
        assert taken["owner_user_id"] == alice_id
        assert (started["old_status"], started["new_status"]) == ("owned", "inprogress")
        assert (completed["old_status"], completed["new_status"], completed["changed_by_user_id"]) == (
            "inprogress",
            "completed",
            alice_id,
        )
        assert taken_by_bob["owner_user_id"] == bob_id and released["previous_owner_user_id"] == bob_id
        assert [e["task_version"] for e in events if e["task_id"] == first] == [1, 2, 3, 4]
        seqs = [e["seq"] for e in events]
        assert seqs == sorted(set(seqs)), "stream order, no duplicate"
        assert {e["epoch"] for e in events} == {board.welcome["epoch"]}

        # The other tenant's socket is live (it sees its own tenant's change) and saw nothing of ours.
        their_project = await olga.create_project()
        their_story = await olga.call(
            "POST", f"/projects/{their_project}/stories", {"title": "Theirs", "description": "Not ours."}
        )
        their_task = await olga.create_task(str(their_story["story_id"]), "Their task")
        seen_by_them = await outsider.wait_for_events(1)
        await asyncio.sleep(0.5)  # anything misrouted would have arrived by now, right behind it
        theirs = [(e["type"], e["task_id"], e["tenant_id"]) for e in outsider.events()]
        assert theirs == [("task_created", their_task, "other-org")]
        assert len(seen_by_them) == 1
        assert all(e["tenant_id"] == DEMO_ORG_ID for e in board.events())
    finally:
        await board.close()
        await outsider.close()


async def test_a_change_refused_by_the_rules_publishes_nothing(
    deployment: Deployment, alice: BacklogApi, bob: BacklogApi
) -> None:
    board = await BoardSocket.open(deployment.socket_url(0), alice.token)
    try:
        sprint = await alice.plan([1])
        (task,) = sprint.task_ids
        await alice.take(task)
        await bob.call("PUT", f"/tasks/{task}/ownership", expect=(409,))  # no stealing
        await bob.call("DELETE", f"/tasks/{task}/ownership", expect=(403,))  # only the owner releases
        await alice.release(task)
        events = await board.wait_for_events(3, project_id=sprint.project_id)
        await asyncio.sleep(0.3)
        assert changes(board.events(sprint.project_id)) == changes(events)
        assert changes(events) == [
            ("task_created", task, "available"),
            ("ownership_taken", task, "owned"),
            ("ownership_released", task, "available"),
        ]
    finally:
        await board.close()
