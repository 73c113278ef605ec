"""Sprints over HTTP: committing ready stories within capacity, defaults, active lookup, status moves."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any


async def test_create_sprint_commits_ready_stories_with_defaults(api: Any) -> None:
    alice = api("alice")
    project_id = await alice.project()
    stories = [await alice.story(project_id, ready=True, points=p) for p in (5, 8)]
    sprint_id = await alice.sprint(project_id, stories)
    sprint = await alice.call("GET", f"/sprints/{sprint_id}")
    assert sprint["capacity_points"] == 40 and sprint["committed_points"] == 13
    assert sprint["status"] == "active" and sorted(sprint["story_ids"]) == sorted(stories)
    start = datetime.fromisoformat(sprint["start_date"])
    assert datetime.fromisoformat(sprint["end_date"]) - start == timedelta(days=14)
    for story_id in stories:
        story = await alice.call("GET", f"/stories/{story_id}")
        assert (story["status"], story["sprint_id"]) == ("committed", sprint_id)
    active = await alice.call("GET", f"/projects/{project_id}/sprints/active")
    assert active["id"] == sprint_id
    second = await alice.sprint(project_id, [])
    assert (await alice.call("GET", f"/sprints/{second}"))["status"] == "planning"
    assert len(await alice.call("GET", f"/projects/{project_id}/sprints")) == 2
    refused = await alice.call("PATCH", f"/sprints/{second}/status", 409, json={"status": "active"})
    assert refused["error"]["code"] == "active_sprint_exists"
    await alice.call("PATCH", f"/sprints/{sprint_id}/status", json={"status": "review"})
    moved = await alice.call("PATCH", f"/sprints/{second}/status", json={"status": "active"})
    assert moved["status"] == "active"
    assert (await alice.call("GET", f"/projects/{project_id}/sprints/active"))["id"] == second


async def test_sprint_refusals(api: Any) -> None:
    alice = api("alice")
    project_id = await alice.project()
    draft = await alice.story(project_id)
    not_ready = await alice.call(
        "POST", f"/projects/{project_id}/sprints", 409, json={"name": "S", "goal": "g", "stories": [draft]}
    )
    assert not_ready["error"]["code"] == "story_not_ready"
    big = [await alice.story(project_id, ready=True, points=8) for _ in range(2)]
    over = await alice.call(
        "POST",
        f"/projects/{project_id}/sprints",
        409,
        json={"name": "S", "goal": "g", "stories": big, "capacity_points": 10},
    )
    assert over["error"]["code"] == "capacity_exceeded"
    for story_id in big:  # nothing was committed by the refused request
        assert (await alice.call("GET", f"/stories/{story_id}"))["status"] == "ready"
    start = datetime(2030, 1, 1, tzinfo=UTC)
    for end in (start, start + timedelta(days=29)):
        body = {"name": "S", "goal": "g", "start_date": start.isoformat(), "end_date": end.isoformat()}
        await alice.call("POST", f"/projects/{project_id}/sprints", 422, json=body)
    await alice.call("POST", f"/projects/{project_id}/sprints", 422, json={"name": "S", "capacity_points": 0})
    await alice.call(
        "POST", f"/projects/{project_id}/sprints", 404, json={"name": "S", "stories": [str(uuid.uuid4())]}
    )
    await alice.call("POST", f"/projects/{uuid.uuid4()}/sprints", 404, json={"name": "S"})
    await alice.call("GET", f"/projects/{project_id}/sprints/active", 404)
    await alice.call("GET", f"/sprints/{uuid.uuid4()}", 404)
    future = {"name": "Later", "start_date": start.isoformat()}
    later = await alice.call("POST", f"/projects/{project_id}/sprints", 201, json=future)
    assert (await alice.call("GET", f"/sprints/{later['sprint_id']}"))["status"] == "planning"
