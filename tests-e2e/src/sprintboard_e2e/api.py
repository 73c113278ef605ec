"""One user's view of the backlog over HTTP, with the steps the tests take: plan a sprint, move tasks."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import httpx


@dataclass(frozen=True)
class PlannedSprint:
    project_id: str
    sprint_id: str
    story_ids: list[str]
    task_ids: list[str]


class BacklogApi:
    """Calls `/api/v1` with a bearer token; every call asserts the status it expects."""

    def __init__(self, base_url: str, token: str) -> None:
        self.token = token
        self.client = httpx.AsyncClient(
            base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=10
        )

    async def __aenter__(self) -> BacklogApi:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.client.aclose()

    async def call(
        self, method: str, path: str, body: Any = None, expect: tuple[int, ...] = (200, 201)
    ) -> Any:
        response = await self.client.request(method, f"/api/v1{path}", json=body)
        assert response.status_code in expect, f"{method} {path}: {response.status_code} {response.text}"
        return response.json() if response.content else None

    async def me(self) -> dict[str, Any]:
        me: dict[str, Any] = await self.call("GET", "/users/me")
        return me

    async def create_project(self, name: str | None = None) -> str:
        name = name or f"E2E {uuid.uuid4().hex[:8]}"
        return str((await self.call("POST", "/projects", {"name": name}))["id"])

    async def create_ready_story(self, project_id: str, title: str) -> str:
        """A story with a description, points and three acceptance criteria, moved to `ready`."""
        body = {"title": title, "description": f"{title}, end to end.", "story_points": 3, "labels": ["e2e"]}
        story_id = str((await self.call("POST", f"/projects/{project_id}/stories", body))["story_id"])
        for n in range(1, 4):
            criterion = {"given": f"case {n}", "when": "a user acts", "then": "the board shows it"}
            await self.call("POST", f"/stories/{story_id}/acceptance-criteria", criterion)
        await self.call("PATCH", f"/stories/{story_id}/status", {"status": "ready"})
        return story_id

    async def plan_sprint(self, project_id: str, story_ids: list[str]) -> str:
        body = {"name": "E2E sprint", "goal": "Prove the data path", "stories": story_ids}
        return str((await self.call("POST", f"/projects/{project_id}/sprints", body))["sprint_id"])

    async def create_task(self, story_id: str, title: str) -> str:
        body = {"title": title, "description": f"{title}.", "acceptance_criteria_refs": ["AC1", "AC2"]}
        return str((await self.call("POST", f"/stories/{story_id}/tasks", body))["task_id"])

    async def plan(self, tasks_per_story: list[int]) -> PlannedSprint:
        """A new project with an active sprint: one ready story per entry, with that many tasks each."""
        project_id = await self.create_project()
        story_ids = [
            await self.create_ready_story(project_id, f"Story {n + 1}") for n in range(len(tasks_per_story))
        ]
        sprint_id = await self.plan_sprint(project_id, story_ids)
        task_ids = [
            await self.create_task(story_id, f"Task {s + 1}.{t + 1}")
            for s, (story_id, count) in enumerate(zip(story_ids, tasks_per_story, strict=True))
            for t in range(count)
        ]
        return PlannedSprint(project_id, sprint_id, story_ids, task_ids)

    async def take(self, task_id: str) -> dict[str, Any]:
        return dict(await self.call("PUT", f"/tasks/{task_id}/ownership"))

    async def release(self, task_id: str) -> dict[str, Any]:
        return dict(await self.call("DELETE", f"/tasks/{task_id}/ownership"))

    async def start(self, task_id: str) -> dict[str, Any]:
        return dict(await self.call("POST", f"/tasks/{task_id}/work/start"))

    async def complete(self, task_id: str) -> dict[str, Any]:
        return dict(await self.call("POST", f"/tasks/{task_id}/work/complete"))

    async def board(self, sprint_id: str) -> dict[str, Any]:
        return dict(await self.call("GET", f"/sprints/{sprint_id}/tasks"))
