"""The sprint board: the reference system's cases, grouping, filtering and the camelCase shape."""

from __future__ import annotations

import uuid
from typing import Any


async def complete(api: Any, task_id: str) -> None:
    await api.call("PUT", f"/tasks/{task_id}/ownership")
    await api.call("POST", f"/tasks/{task_id}/work/start")
    await api.call("POST", f"/tasks/{task_id}/work/complete")


async def test_two_of_four_completed_is_fifty_percent(api: Any) -> None:
    alice = api("alice")
    _project_id, story_id, sprint_id, first = await alice.board()
    tasks = [first, *[await alice.task(story_id, f"T{n}") for n in range(3)]]
    await complete(alice, tasks[0])
    await complete(alice, tasks[1])
    board = await alice.call("GET", f"/sprints/{sprint_id}/tasks")
    assert set(board) == {"sprint", "tasks", "groups"}
    sprint = board["sprint"]
    assert set(sprint) == {
        "id",
        "name",
        "goal",
        "startDate",
        "endDate",
        "daysRemaining",
        "status",
        "totalStories",
        "totalTasks",
        "completedTasks",
        "progressPercentage",
    }
    assert (sprint["totalStories"], sprint["totalTasks"], sprint["completedTasks"]) == (1, 4, 2)
    assert sprint["progressPercentage"] == 50.0 and isinstance(sprint["progressPercentage"], float)
    assert sprint["daysRemaining"] == 14 and sprint["status"] == "active"
    assert [t["id"] for t in board["tasks"]] == tasks
    assert set(board["tasks"][0]) == {
        "id",
        "storyId",
        "storyTitle",
        "title",
        "description",
        "status",
        "ownerUserId",
        "acceptanceCriteriaRefs",
        "estimatedHours",
        "version",
        "createdAt",
        "updatedAt",
    }
    assert board["tasks"][0]["storyTitle"] == "Story"
    assert board["groups"] == {story_id: {"count": 4, "tasks": tasks}}


async def test_group_by_status_counts_and_status_filter(api: Any) -> None:
    alice = api("alice")
    _, story_id, sprint_id, first = await alice.board()
    second, third, fourth = [await alice.task(story_id, f"T{n}") for n in range(3)]
    await complete(alice, first)
    await complete(alice, second)
    await alice.call("PUT", f"/tasks/{third}/ownership")
    board = await alice.call("GET", f"/sprints/{sprint_id}/tasks", params={"groupBy": "status"})
    counts = {key: group["count"] for key, group in board["groups"].items()}
    assert counts == {"available": 1, "owned": 1, "inprogress": 0, "completed": 2}
    assert board["groups"]["available"]["tasks"] == [fourth]
    filtered = await alice.call("GET", f"/sprints/{sprint_id}/tasks", params={"status": "completed"})
    assert [t["id"] for t in filtered["tasks"]] == [first, second]
    assert filtered["sprint"]["totalTasks"] == 4  # totals describe the sprint, not the filter
    both = await alice.call("GET", f"/sprints/{sprint_id}/tasks", params={"status": "owned,available"})
    assert {t["id"] for t in both["tasks"]} == {third, fourth}
    await alice.call("GET", f"/sprints/{sprint_id}/tasks", 422, params={"groupBy": "owner"})
    await alice.call("GET", f"/sprints/{sprint_id}/tasks", 422, params={"status": "nope"})


async def test_tasks_ordered_by_story_then_creation(api: Any) -> None:
    alice = api("alice")
    project_id = await alice.project()
    s1 = await alice.story(project_id, ready=True)
    s2 = await alice.story(project_id, ready=True)
    sprint_id = await alice.sprint(project_id, [s2, s1])
    b1 = await alice.task(s2, "b1")
    a1 = await alice.task(s1, "a1")
    a2 = await alice.task(s1, "a2")
    board = await alice.call("GET", f"/sprints/{sprint_id}/tasks")
    assert [t["id"] for t in board["tasks"]] == [a1, a2, b1]
    assert list(board["groups"]) == [s1, s2]


async def test_unknown_sprint_is_404(api: Any, other_tenant: Any, client: Any) -> None:
    alice = api("alice")
    body = await alice.call("GET", f"/sprints/{uuid.uuid4()}/tasks", 404)
    assert body["error"]["code"] == "sprint_not_found"
    _, _, sprint_id, _ = await alice.board()
    response = await client.get(f"/api/v1/sprints/{sprint_id}/tasks", headers=other_tenant.as_("eve"))
    assert response.status_code == 404


async def test_sprint_without_stories_gives_zeros(api: Any) -> None:
    alice = api("alice")
    project_id = await alice.project()
    sprint_id = await alice.sprint(project_id, [])
    board = await alice.call("GET", f"/sprints/{sprint_id}/tasks")
    sprint = board["sprint"]
    assert (sprint["totalStories"], sprint["totalTasks"], sprint["completedTasks"]) == (0, 0, 0)
    assert sprint["progressPercentage"] == 0.0
    assert board["tasks"] == [] and board["groups"] == {}
