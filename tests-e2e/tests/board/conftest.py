"""Board browser tests: the whole stack as processes, Chromium, each user's API client and fresh sprints."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, async_playwright, expect

from sprintboard_devstack.stack import Stack, running_stack
from sprintboard_e2e.browser import BoardPage, launch_chromium

# Every wait is explicit and bounded; live changes cross HTTP, PostgreSQL, the relay, NATS and a socket.
expect.set_options(timeout=10_000)

NAMES = {"alice": "Alice Anders", "bob": "Bob Berger"}


@dataclass(frozen=True)
class Sprint:
    project_id: str
    sprint_id: str
    stories: dict[str, str]  # title -> id
    tasks: dict[str, str]  # title -> id

    @property
    def path(self) -> str:
        return f"/projects/{self.project_id}/sprints/{self.sprint_id}"


class Api:
    """One signed-in user's view of the backlog API (what another user's browser would do)."""

    def __init__(self, base_url: str, token: str, user: dict[str, str]) -> None:
        self.client = httpx.AsyncClient(
            base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=10
        )
        self.token = token
        self.user = user

    async def call(self, method: str, path: str, body: Any = None, ok: tuple[int, ...] = (200, 201)) -> Any:
        response = await self.client.request(method, f"/api/v1{path}", json=body)
        assert response.status_code in ok, f"{method} {path}: {response.status_code} {response.text}"
        return response.json()

    async def take(self, task_id: str) -> Any:
        return await self.call("PUT", f"/tasks/{task_id}/ownership")

    async def release(self, task_id: str) -> Any:
        return await self.call("DELETE", f"/tasks/{task_id}/ownership")

    async def start(self, task_id: str) -> Any:
        return await self.call("POST", f"/tasks/{task_id}/work/start")

    async def complete(self, task_id: str) -> Any:
        return await self.call("POST", f"/tasks/{task_id}/work/complete")

    async def board(self, sprint_id: str) -> Any:
        return await self.call("GET", f"/sprints/{sprint_id}/tasks")

    async def add_task(self, story_id: str, title: str) -> str:
        body = {"title": title, "description": f"{title}.", "acceptance_criteria_refs": ["AC1", "AC2"]}
        created = await self.call("POST", f"/stories/{story_id}/tasks", body)
        return str(created["task_id"])

    async def new_sprint(self, plan: dict[str, list[str]], name: str = "Sprint 7") -> Sprint:
        """A project of its own with an active sprint: each story of `plan` with its tasks, in order."""
        project = await self.call("POST", "/projects", {"name": f"Board test {uuid.uuid4().hex[:6]}"})
        stories: dict[str, str] = {}
        for title in plan:
            body = {"title": title, "description": f"{title}, end to end.", "story_points": 3}
            story_id = (await self.call("POST", f"/projects/{project['id']}/stories", body))["story_id"]
            for n in range(3):
                criterion = {"given": f"case {n + 1}", "when": "a user acts", "then": "the board shows it"}
                await self.call("POST", f"/stories/{story_id}/acceptance-criteria", criterion)
            await self.call("PATCH", f"/stories/{story_id}/status", {"status": "ready"})
            stories[title] = str(story_id)
        sprint = await self.call(
            "POST",
            f"/projects/{project['id']}/sprints",
            {"name": name, "goal": "Prove the board works", "stories": list(stories.values())},
        )
        tasks = {}
        for story, titles in plan.items():
            for title in titles:
                tasks[title] = await self.add_task(stories[story], title)
        return Sprint(str(project["id"]), str(sprint["sprint_id"]), stories, tasks)


@pytest_asyncio.fixture(scope="session")
async def board_stack() -> AsyncIterator[Stack]:
    """Started in a worker thread: the stack's start-up blocks and runs event loops of its own."""
    manager = running_stack()
    stack = await asyncio.to_thread(manager.__enter__)
    try:
        yield stack
    finally:
        await asyncio.to_thread(manager.__exit__, None, None, None)


@pytest.fixture(scope="session")
def base_url(board_stack: Stack) -> str:
    assert board_stack.backlog is not None
    return board_stack.backlog.url


@pytest_asyncio.fixture(scope="session")
async def users(base_url: str) -> AsyncIterator[dict[str, Api]]:
    """alice and bob, the seeded users, signed in through the dev sign-in."""
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as anonymous:
        seeded = (await anonymous.get("/api/v1/auth/dev-users")).json()
        apis = {}
        for user in seeded:
            minted = await anonymous.post("/api/v1/auth/dev-token", json=user)
            apis[user["sub"]] = Api(base_url, minted.json()["token"], user)
    try:
        yield apis
    finally:
        for api in apis.values():
            await api.client.aclose()


NewUser = Callable[[str, str, str], Awaitable[Api]]


@pytest_asyncio.fixture
async def new_user(base_url: str) -> AsyncIterator[NewUser]:
    """`await new_user(sub, name, org_id)`: a user the backlog has not seen yet, with a dev token."""
    made: list[Api] = []

    async def make(sub: str, name: str, org_id: str) -> Api:
        claims = {"sub": sub, "name": name, "email": f"{sub}@example.com", "org_id": org_id}
        async with httpx.AsyncClient(base_url=base_url, timeout=10) as anonymous:
            token = (await anonymous.post("/api/v1/auth/dev-token", json=claims)).json()["token"]
        made.append(Api(base_url, token, claims))
        return made[-1]

    try:
        yield make
    finally:
        for api in made:
            await api.client.aclose()


@pytest.fixture(scope="session")
def alice(users: dict[str, Api]) -> Api:
    return users["alice"]


@pytest.fixture(scope="session")
def bob(users: dict[str, Api]) -> Api:
    return users["bob"]


@pytest_asyncio.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        chromium = await launch_chromium(playwright)
        try:
            yield chromium
        finally:
            await chromium.close()


OpenBoard = Callable[[str, Sprint], Awaitable[BoardPage]]
NewPage = Callable[[], Awaitable[BoardPage]]


@pytest_asyncio.fixture
async def new_page(browser: Browser, base_url: str) -> AsyncIterator[NewPage]:
    """A fresh browser context (its own sessionStorage: its own signed-in user) per call."""
    contexts: list[BrowserContext] = []

    async def new() -> BoardPage:
        context = await browser.new_context(viewport={"width": 1280, "height": 900})
        context.set_default_timeout(10_000)
        contexts.append(context)
        return BoardPage(await context.new_page(), base_url)

    try:
        yield new
    finally:
        for context in contexts:
            await context.close()


@pytest_asyncio.fixture
async def open_board(new_page: NewPage) -> OpenBoard:
    """`await open_board("alice", sprint)`: signed in, on the sprint's board, live."""

    async def open_as(user: str, sprint: Sprint) -> BoardPage:
        board = await new_page()
        await board.open(NAMES[user], sprint.project_id, sprint.sprint_id)
        return board

    return open_as


@pytest_asyncio.fixture
async def sprint(alice: Api) -> Sprint:
    """A sprint no other test touches: two stories, three available tasks."""
    return await alice.new_sprint(
        {
            "Live updates": ["Show the new owner", "Toast the change"],
            "Claiming": ["Roll back refused actions"],
        }
    )


@pytest_asyncio.fixture
async def seeded(alice: Api) -> Sprint:
    """The demo tenant's seeded sprint (tasks in every status). Tests only read it."""
    projects = await alice.call("GET", "/projects")
    demo = next(p for p in projects if p["name"] == "Sprintboard demo")
    active = await alice.call("GET", f"/projects/{demo['id']}/sprints/active")
    return Sprint(str(demo["id"]), str(active["id"]), {}, {})
