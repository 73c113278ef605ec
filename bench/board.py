"""A bench tenant's board made through the backlog API: a project, a ready story in a sprint, many tasks."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass

from bench.httpload import HttpConnection

API = "/api/v1"


@dataclass(frozen=True)
class Board:
    project_id: str
    sprint_id: str
    story_id: str
    task_ids: list[str]


async def create_board(base_url: str, token: str, tasks: int, name: str = "Bench") -> Board:
    """Everything a mutation needs: tasks of a story committed to a sprint (so events carry `sprint_id`)."""
    http = HttpConnection(base_url, token)
    try:
        project = await http.expect(
            "POST",
            f"{API}/projects",
            {"name": f"{name} {uuid.uuid4().hex[:6]}", "description": "bench"},
            (201,),
        )
        pid = project["id"]
        story = await http.expect(
            "POST",
            f"{API}/projects/{pid}/stories",
            {"title": f"{name} story", "description": "Measured, not asserted.", "story_points": 3},
            (201,),
        )
        sid = story["story_id"]
        for i in range(3):
            await http.expect(
                "POST",
                f"{API}/stories/{sid}/acceptance-criteria",
                {"given": f"a board {i}", "when": "a task changes", "then": "every socket hears of it"},
                (200, 201),
            )
        await http.expect("PATCH", f"{API}/stories/{sid}/status", {"status": "ready"})
        sprint = await http.expect(
            "POST",
            f"{API}/projects/{pid}/sprints",
            {"name": f"{name} sprint", "goal": "speed", "stories": [sid]},
            (201,),
        )
        task_ids = await _create_tasks(base_url, token, sid, tasks)
        return Board(str(pid), str(sprint["sprint_id"]), str(sid), task_ids)
    finally:
        http.close()


async def _create_tasks(base_url: str, token: str, story_id: str, count: int, lanes: int = 8) -> list[str]:
    ids: list[str] = []

    async def lane(n: int) -> None:
        http = HttpConnection(base_url, token)
        try:
            for i in range(n):
                body = {
                    "title": f"Bench task {len(ids) + i}",
                    "acceptance_criteria_refs": ["AC-1"],
                    "estimated_hours": 2,
                }
                created = await http.expect("POST", f"{API}/stories/{story_id}/tasks", body, (201,))
                ids.append(str(created["task_id"]))
        finally:
            http.close()

    shares = [count // lanes + (1 if i < count % lanes else 0) for i in range(lanes)]
    await asyncio.gather(*(lane(n) for n in shares if n))
    return ids
