"""Clients of the backlog under fault: users, their mutations and what each was answered, a driver."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import httpx

from sprintboard_devstack.stack import Stack
from sprintboard_e2e.waiting import until
from sprintboard_kit.tokens import mint_dev_token

ACTIONS: dict[str, tuple[str, str]] = {
    "take": ("PUT", "/tasks/{}/ownership"),
    "release": ("DELETE", "/tasks/{}/ownership"),
    "start": ("POST", "/tasks/{}/work/start"),
    "pause": ("POST", "/tasks/{}/work/pause"),
    "complete": ("POST", "/tasks/{}/work/complete"),
}


@dataclass
class Outcome:
    """One mutation request: a 2xx (committed, with the task as it answered), a refusal, or unknown."""

    user: str
    action: str
    task_id: str
    status: int | None  # None: no answer (connection refused, reset, timed out)
    version: int | None = None
    task_status: str | None = None
    owner: str | None = None
    error: str = ""

    @property
    def committed(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def unknown(self) -> bool:
        """The request may or may not have committed: the database decides."""
        return self.status is None or self.status == 503


class User:
    """One signed-in user of the backlog's HTTP API."""

    def __init__(self, stack: Stack, sub: str, org_id: str | None = None, timeout: float = 10) -> None:
        assert stack.backlog is not None and stack.seed is not None
        self.sub = sub
        self.token = mint_dev_token(
            stack.jwt_secret,
            sub=sub,
            name=f"User {sub}",
            email=f"{sub}@example.com",
            org_id=org_id if org_id is not None else stack.seed.org_id,
        )
        self.client = httpx.AsyncClient(
            base_url=f"{stack.backlog.url}/api/v1",
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=timeout,
            limits=httpx.Limits(max_connections=4, max_keepalive_connections=4),
        )

    async def call(self, method: str, path: str, body: Any = None, ok: tuple[int, ...] = (200, 201)) -> Any:
        response = await self.client.request(method, path, json=body)
        assert response.status_code in ok, f"{method} {path}: {response.status_code} {response.text}"
        return response.json()

    async def act(self, action: str, task_id: str) -> Outcome:
        method, path = ACTIONS[action]
        try:
            response = await self.client.request(method, path.format(task_id))
        except httpx.TransportError as exc:
            return Outcome(self.sub, action, task_id, None, error=type(exc).__name__)
        outcome = Outcome(self.sub, action, task_id, response.status_code)
        if outcome.committed:
            task = response.json()["task"]
            outcome.version, outcome.task_status, outcome.owner = (
                task["version"],
                task["status"],
                task["owner_user_id"],
            )
        else:
            outcome.error = response.text[:300]
        return outcome

    async def task(self, task_id: str, timeout: float = 30) -> dict[str, Any]:
        """The task as it is now, retrying while the backlog is away (after an answer that never came)."""
        deadline = time.monotonic() + timeout
        while True:
            with contextlib.suppress(httpx.TransportError):
                response = await self.client.get(f"/tasks/{task_id}")
                if response.status_code == 200:
                    return dict(response.json())
            if time.monotonic() > deadline:
                raise AssertionError(f"task {task_id} could not be read back within {timeout}s")
            await asyncio.sleep(0.05)

    async def close(self) -> None:
        await self.client.aclose()


@dataclass(frozen=True)
class Sprint:
    project_id: str
    sprint_id: str
    story_ids: list[str]
    task_ids: list[str]


async def new_sprint(user: User, tasks: int, name: str = "Fault sprint") -> Sprint:
    """A project of its own with an active sprint of two stories and `tasks` available tasks."""
    project = await user.call("POST", "/projects", {"name": f"{name} {uuid.uuid4().hex[:6]}"})
    story_ids = []
    for n in range(2):
        body = {"title": f"Story {n}", "description": "Under fault.", "story_points": 3}
        story_id = (await user.call("POST", f"/projects/{project['id']}/stories", body))["story_id"]
        for k in range(3):
            criterion = {"given": f"case {k}", "when": "a fault strikes", "then": "nothing is lost"}
            await user.call("POST", f"/stories/{story_id}/acceptance-criteria", criterion)
        await user.call("PATCH", f"/stories/{story_id}/status", {"status": "ready"})
        story_ids.append(str(story_id))
    sprint = await user.call(
        "POST", f"/projects/{project['id']}/sprints", {"name": name, "goal": "Survive", "stories": story_ids}
    )
    task_ids = []
    for n in range(tasks):
        body = {"title": f"Task {n}", "acceptance_criteria_refs": ["AC1"]}
        task_ids.append(str((await user.call("POST", f"/stories/{story_ids[n % 2]}/tasks", body))["task_id"]))
    return Sprint(str(project["id"]), str(sprint["sprint_id"]), story_ids, task_ids)


class Driver:
    """Users cycling their own tasks through take → start → pause/release, as fast as the backlog answers.

    Each user knows its tasks' state from the answers; after an answer that never came (or a 503) it reads
    the task back, since only the database knows whether that request committed."""

    def __init__(self, assignments: dict[User, list[str]], pace: float = 0.0) -> None:
        self.assignments = assignments
        self.pace = pace
        self.outcomes: list[Outcome] = []
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._rng = random.Random(7)

    @property
    def sent(self) -> int:
        return len(self.outcomes)

    def start(self) -> Driver:
        self._tasks = [asyncio.create_task(self._run(u, ids)) for u, ids in self.assignments.items()]
        return self

    async def stop(self) -> None:
        self._stop.set()
        await asyncio.gather(*self._tasks)

    async def wait_sent(self, count: int, timeout: float = 60) -> None:
        async def sent() -> bool:
            for task in self._tasks:
                if task.done() and task.exception() is not None:
                    raise task.exception()  # type: ignore[misc]
            return self.sent >= count

        await until(sent, timeout, f"{count} mutations sent (sent {self.sent})")

    async def _run(self, user: User, task_ids: list[str]) -> None:
        state = {t: (await user.task(t))["status"] for t in task_ids}
        while not self._stop.is_set():
            task_id = self._rng.choice(task_ids)
            action = self._next(state[task_id])
            outcome = await user.act(action, task_id)
            self.outcomes.append(outcome)
            if outcome.committed:
                assert outcome.task_status is not None
                state[task_id] = outcome.task_status
            else:
                if not outcome.unknown and outcome.status not in (403, 409):
                    raise AssertionError(f"unexpected answer to {action}: {outcome.status} {outcome.error}")
                if outcome.status is None:
                    await asyncio.sleep(0.05)  # the backlog is away: do not spin
                state[task_id] = (await user.task(task_id))["status"]
            if self.pace:
                await asyncio.sleep(self.pace)

    def _next(self, status: str) -> str:
        if status == "available":
            return "take"
        if status == "owned":
            return self._rng.choice(("start", "release"))
        if status == "inprogress":
            return "pause"
        raise AssertionError(f"a driven task reached {status}")


def tally(outcomes: Iterable[Outcome]) -> dict[str, int]:
    counts = Counter(
        "committed" if o.committed else "unknown" if o.unknown else f"refused_{o.status}" for o in outcomes
    )
    return dict(sorted(counts.items()))
