"""Projects and stories over HTTP: shapes, filters, soft delete, status workflow and acceptance criteria."""

from __future__ import annotations

import uuid
from typing import Any


async def test_projects(api: Any, tenant: Any, client: Any, other_tenant: Any) -> None:
    alice = api("alice")
    project = await alice.call("POST", "/projects", 201, json={"name": " Board ", "description": "d"})
    assert set(project) == {"id", "organization_id", "name", "description", "created_at", "updated_at"}
    assert project["name"] == "Board" and project["organization_id"] == tenant.org_id
    assert await alice.call("GET", f"/projects/{project['id']}") == project
    assert [p["id"] for p in await alice.call("GET", "/projects")] == [project["id"]]
    response = await client.get(f"/api/v1/projects/{project['id']}", headers=other_tenant.as_("eve"))
    assert response.status_code == 404
    assert (await client.get("/api/v1/projects", headers=other_tenant.as_("eve"))).json() == []
    await alice.call("POST", "/projects", 422, json={"name": ""})


async def test_story_crud_and_filters(api: Any) -> None:
    alice = api("alice")
    project_id = await alice.project()
    created = await alice.call(
        "POST",
        f"/projects/{project_id}/stories",
        201,
        json={"title": "Login", "labels": ["auth", "auth", "ui"], "story_points": 5},
    )
    assert set(created) == {"story_id"}
    story_id = created["story_id"]
    story = await alice.call("GET", f"/stories/{story_id}")
    assert set(story) == {
        "id",
        "project_id",
        "title",
        "description",
        "status",
        "labels",
        "acceptance_criteria",
        "story_points",
        "sprint_id",
        "created_at",
        "updated_at",
    }
    assert (story["status"], story["labels"], story["story_points"]) == ("draft", ["auth", "ui"], 5)
    patched = await alice.call(
        "PATCH", f"/stories/{story_id}", json={"description": "Why", "story_points": None}
    )
    assert patched["description"] == "Why" and patched["story_points"] is None and patched["title"] == "Login"
    await alice.call("PATCH", f"/stories/{story_id}", 422, json={"story_points": 9})
    other = await alice.story(project_id)
    await alice.call("PATCH", f"/stories/{other}/status", json={"status": "Needs_Refinement"})
    listed = await alice.call("GET", f"/projects/{project_id}/stories")
    assert [s["id"] for s in listed] == [story_id, other]
    refining = await alice.call(
        "GET", f"/projects/{project_id}/stories", params={"status": "needs_refinement"}
    )
    assert [s["id"] for s in refining] == [other]
    await alice.call("GET", f"/projects/{project_id}/stories", 422, params={"status": "bogus"})
    await alice.call("GET", f"/projects/{uuid.uuid4()}/stories", 404)
    await alice.call("DELETE", f"/stories/{story_id}", 204)
    await alice.call("GET", f"/stories/{story_id}", 404)
    await alice.call("DELETE", f"/stories/{story_id}", 404)
    assert [s["id"] for s in await alice.call("GET", f"/projects/{project_id}/stories")] == [other]


async def test_acceptance_criteria_and_readiness(api: Any) -> None:
    alice = api("alice")
    project_id = await alice.project()
    story_id = await alice.story(project_id)
    refused = await alice.call("PATCH", f"/stories/{story_id}/status", 409, json={"status": "ready"})
    assert refused["error"]["code"] == "story_not_ready" and refused["error"]["details"]["problems"]
    criterion = await alice.call(
        "POST",
        f"/stories/{story_id}/acceptance-criteria",
        201,
        json={"given": "a user", "when": "x", "then": "y"},
    )
    assert criterion == {
        "id": "AC1",
        "given": "a user",
        "when": "x",
        "then": "y",
        "description": "Given a user, when x, then y",
    }
    await alice.call(
        "POST", f"/stories/{story_id}/acceptance-criteria", 422, json={"given": "g", "when": "w"}
    )
    for n in range(2):
        await alice.call(
            "POST",
            f"/stories/{story_id}/acceptance-criteria",
            201,
            json={"given": f"{n}", "when": "w", "then": "t"},
        )
    listed = await alice.call("GET", f"/stories/{story_id}/acceptance-criteria")
    assert [c["id"] for c in listed] == ["AC1", "AC2", "AC3"]
    ready = await alice.call("PATCH", f"/stories/{story_id}/status", json={"status": "READY"})
    assert ready["status"] == "ready"
    blocked = await alice.call("PATCH", f"/stories/{story_id}/status", 409, json={"status": "committed"})
    assert blocked["error"]["code"] == "story_not_in_sprint"
    await alice.call("PATCH", f"/stories/{story_id}/status", 409, json={"status": "accepted"})
    await alice.call("PATCH", f"/stories/{story_id}/status", 422, json={"status": "shipped"})


async def test_personal_space_is_seen_by_its_user_alone(client: Any, tenant: Any) -> None:
    personal = type(tenant)(personal=True)
    created = await client.post("/api/v1/projects", json={"name": "Mine"}, headers=personal.as_("solo"))
    assert created.status_code == 201 and created.json()["organization_id"] is None
    project_id = created.json()["id"]
    assert (
        await client.get(f"/api/v1/projects/{project_id}", headers=personal.as_("solo"))
    ).status_code == 200
    intruder = personal.as_("other")  # another user without an organization: another personal space
    assert (await client.get(f"/api/v1/projects/{project_id}", headers=intruder)).status_code == 404
