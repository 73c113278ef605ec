"""Task endpoints: JSON shapes, ownership and work actions, status and estimate changes, and their errors."""

from __future__ import annotations

import uuid
from typing import Any

TASK_KEYS = {
    "id",
    "story_id",
    "title",
    "description",
    "acceptance_criteria_refs",
    "status",
    "owner_user_id",
    "estimated_hours",
    "version",
    "created_at",
    "updated_at",
    "owned_at",
    "completed_at",
}


async def test_create_and_read_task_json_shape(api: Any) -> None:
    alice = api("alice")
    _, story_id, _, _ = await alice.board()
    created = await alice.call(
        "POST",
        f"/stories/{story_id}/tasks",
        201,
        json={
            "title": " Build ",
            "description": "d",
            "acceptance_criteria_refs": ["AC1", "AC2"],
            "estimated_hours": 5,
        },
    )
    assert set(created) == {"task_id"}
    task = await alice.call("GET", f"/tasks/{created['task_id']}")
    assert set(task) == TASK_KEYS
    assert task["title"] == "Build"
    assert task["status"] == "available" and task["owner_user_id"] is None and task["version"] == 1
    assert task["acceptance_criteria_refs"] == ["AC1", "AC2"] and task["estimated_hours"] == 5
    assert task["created_at"].endswith("Z")
    listed = await alice.call("GET", f"/stories/{story_id}/tasks")
    assert [t["id"] for t in listed][-1] == created["task_id"] and len(listed) == 2


async def test_take_start_complete_flow(api: Any, tenant: Any) -> None:
    alice = api("alice")
    *_, task_id = await alice.board()
    taken = await alice.call("PUT", f"/tasks/{task_id}/ownership")
    assert taken["success"] is True and isinstance(taken["message"], str)
    assert taken["task"]["status"] == "owned"
    assert taken["task"]["owner_user_id"] == str(tenant.user_id("alice"))
    assert taken["task"]["version"] == 2 and taken["task"]["owned_at"]
    owned = await alice.call("GET", "/tasks/owned")
    assert [t["id"] for t in owned] == [task_id]
    started = await alice.call("POST", f"/tasks/{task_id}/work/start")
    assert started["task"]["status"] == "inprogress"
    done = await alice.call("POST", f"/tasks/{task_id}/work/complete")
    assert done["success"] and done["task"]["status"] == "completed" and done["task"]["completed_at"]
    assert done["task"]["version"] == 4


async def test_release_clears_owner_and_estimate(api: Any) -> None:
    alice = api("alice")
    _, story_id, _, _ = await alice.board()
    task_id = await alice.task(story_id, estimated_hours=3)
    await alice.call("PUT", f"/tasks/{task_id}/ownership")
    released = await alice.call("DELETE", f"/tasks/{task_id}/ownership")
    assert released["success"] is True
    task = released["task"]
    assert (task["status"], task["owner_user_id"], task["owned_at"], task["estimated_hours"]) == (
        "available",
        None,
        None,
        None,
    )
    available = await alice.call("GET", f"/stories/{story_id}/tasks/available")
    assert task_id in [t["id"] for t in available]


async def test_status_check_comes_before_owner_check(api: Any) -> None:
    alice, bob = api("alice"), api("bob")
    *_, task_id = await alice.board()
    # available: completing or releasing is 409 for anyone
    for path, method in (
        (f"/tasks/{task_id}/work/complete", "POST"),
        (f"/tasks/{task_id}/ownership", "DELETE"),
    ):
        body = await bob.call(method, path, 409)
        assert body["error"]["code"] in ("invalid_transition", "conflict")
    await alice.call("PUT", f"/tasks/{task_id}/ownership")
    # owned by alice: bob taking it is 409 (no stealing), bob releasing or starting it is 403
    assert (await bob.call("PUT", f"/tasks/{task_id}/ownership", 409))["error"][
        "code"
    ] == "task_not_available"
    assert (await bob.call("DELETE", f"/tasks/{task_id}/ownership", 403))["error"]["code"] == "not_task_owner"
    await bob.call("POST", f"/tasks/{task_id}/work/start", 403)
    # completing an owned (not started) task is 409 whoever asks
    await bob.call("POST", f"/tasks/{task_id}/work/complete", 409)
    await alice.call("POST", f"/tasks/{task_id}/work/complete", 409)


async def test_patch_status_maps_to_actions_and_same_status_is_noop(api: Any) -> None:
    alice = api("alice")
    *_, task_id = await alice.board()
    same = await alice.call("PATCH", f"/tasks/{task_id}/status", json={"status": "available"})
    assert same["version"] == 1
    owned = await alice.call("PATCH", f"/tasks/{task_id}/status", json={"status": "owned"})
    assert owned["status"] == "owned" and owned["version"] == 2
    started = await alice.call("PATCH", f"/tasks/{task_id}/status", json={"status": "in_progress"})
    assert started["status"] == "inprogress"
    paused = await alice.call("POST", f"/tasks/{task_id}/work/pause")
    assert paused["task"]["status"] == "owned"
    await alice.call("PATCH", f"/tasks/{task_id}/status", json={"status": "completed"}, expect=409)
    body = await alice.call("PATCH", f"/tasks/{task_id}/status", json={"status": "done"}, expect=422)
    assert body["error"]["code"] == "validation_failed"


async def test_estimate_and_details(api: Any) -> None:
    alice, bob = api("alice"), api("bob")
    *_, task_id = await alice.board()
    estimated = await alice.call("PATCH", f"/tasks/{task_id}/estimate", json={"estimated_hours": 8})
    assert estimated["estimated_hours"] == 8 and estimated["version"] == 2
    for bad in (0, 41, "many"):
        await alice.call("PATCH", f"/tasks/{task_id}/estimate", json={"estimated_hours": bad}, expect=422)
    await alice.call("PATCH", f"/tasks/{task_id}/estimate", json={}, expect=422)
    cleared = await alice.call("PATCH", f"/tasks/{task_id}/estimate", json={"estimated_hours": None})
    assert cleared["estimated_hours"] is None
    await alice.call("PUT", f"/tasks/{task_id}/ownership")
    await bob.call("PATCH", f"/tasks/{task_id}/estimate", json={"estimated_hours": 2}, expect=403)
    renamed = await alice.call(
        "PATCH", f"/tasks/{task_id}", json={"title": "Renamed", "acceptance_criteria_refs": ["AC3"]}
    )
    assert renamed["title"] == "Renamed" and renamed["acceptance_criteria_refs"] == ["AC3"]


async def test_not_found_cases(api: Any, client: Any, other_tenant: Any) -> None:
    alice = api("alice")
    _, story_id, _, task_id = await alice.board()
    missing = str(uuid.uuid4())
    body = await alice.call("GET", f"/tasks/{missing}", 404)
    assert body["error"]["code"] == "task_not_found"
    await alice.call("PUT", f"/tasks/{missing}/ownership", 404)
    await alice.call(
        "POST", f"/stories/{missing}/tasks", 404, json={"title": "x", "acceptance_criteria_refs": ["a"]}
    )
    stranger = {"headers": other_tenant.as_("mallory")}
    for method, path in (
        ("GET", f"/tasks/{task_id}"),
        ("PUT", f"/tasks/{task_id}/ownership"),
        ("POST", f"/tasks/{task_id}/work/start"),
        ("GET", f"/stories/{story_id}/tasks"),
        ("PATCH", f"/tasks/{task_id}/estimate"),
    ):
        kwargs: dict[str, Any] = {"json": {"estimated_hours": 2}} if method == "PATCH" else {}
        response = await client.request(method, f"/api/v1{path}", **stranger, **kwargs)
        assert response.status_code == 404, (path, response.text)
    # the task is untouched by the stranger's attempts
    assert (await alice.call("GET", f"/tasks/{task_id}"))["version"] == 1


async def test_validation_errors(api: Any) -> None:
    alice = api("alice")
    _, story_id, _, _ = await alice.board()
    await alice.call("GET", "/tasks/not-a-uuid", 422)
    for body in (
        {"title": "x", "acceptance_criteria_refs": []},
        {"title": "x", "acceptance_criteria_refs": ["AC1", " "]},
        {"title": "", "acceptance_criteria_refs": ["AC1"]},
        {"title": "x", "acceptance_criteria_refs": ["AC1"], "estimated_hours": 41},
        {"acceptance_criteria_refs": ["AC1"]},
    ):
        error = await alice.call("POST", f"/stories/{story_id}/tasks", 422, json=body)
        assert error["error"]["code"] == "validation_failed"
    malformed = await alice.client.post(
        f"/api/v1/stories/{story_id}/tasks",
        content=b"{not json",
        headers={**alice.headers, "content-type": "application/json"},
    )
    assert malformed.status_code == 422
