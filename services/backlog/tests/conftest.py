"""Backlog test fixtures: one migrated database per session, a running app, and a fresh tenant per test."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.types import ASGIApp, Receive, Scope, Send

from sprintboard_backlog.adapters.engine import create_engine
from sprintboard_backlog.adapters.migrations import upgrade
from sprintboard_backlog.adapters.tables import outbox
from sprintboard_backlog.entrypoints.http import create_app
from sprintboard_backlog.entrypoints.http.context import ServiceContext
from sprintboard_backlog.settings import BacklogSettings
from sprintboard_devstack.databases import fresh_database
from sprintboard_kit.tokens import mint_dev_token, user_id_for

JWT_SECRET = "backlog-test-secret-" + "x" * 48


@pytest.fixture(scope="session")
async def database_url(postgres_url: str) -> AsyncIterator[str]:
    async with fresh_database(postgres_url, prefix="backlog_test") as url:
        await upgrade(url)
        yield url


@pytest.fixture(scope="session")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url, pool_size=4)
    yield engine
    await engine.dispose()


def make_settings(database_url: str, **overrides: Any) -> BacklogSettings:
    fields: dict[str, Any] = {
        "database_url": database_url,
        "jwt_secret": JWT_SECRET,
        "relay_enabled": False,
        "dev_auth": False,
        "access_log": False,
        "db_pool_size": 25,
        **overrides,
    }
    return BacklogSettings(**fields)


@asynccontextmanager
async def running(app: FastAPI) -> AsyncIterator[tuple[ASGIApp, ServiceContext]]:
    """Run the app's lifespan and hand its state to each request, as an ASGI server does."""
    async with app.router.lifespan_context(app) as state:
        assert state is not None

        async def asgi(scope: Scope, receive: Receive, send: Send) -> None:
            await app({**scope, "state": dict(state)}, receive, send)

        yield asgi, state["context"]


@asynccontextmanager
async def client_for(app: FastAPI) -> AsyncIterator[tuple[httpx.AsyncClient, ServiceContext]]:
    async with running(app) as (asgi, context):
        transport = httpx.ASGITransport(app=asgi)
        async with httpx.AsyncClient(transport=transport, base_url="http://backlog") as client:
            yield client, context


@pytest.fixture(scope="session")
def make_app(database_url: str, nats_url: str) -> Callable[..., FastAPI]:
    def make(hooks: Any = (), **overrides: Any) -> FastAPI:
        return create_app(make_settings(database_url, **{"nats_url": nats_url, **overrides}), hooks=hooks)

    return make


@pytest.fixture(scope="session")
def open_client(make_app: Callable[..., FastAPI]) -> Callable[..., Any]:
    """`async with open_client(**settings_overrides) as (client, context):` a separately configured app."""
    return lambda hooks=(), **overrides: client_for(make_app(hooks, **overrides))


@pytest.fixture(scope="session")
async def app_and_context(
    make_app: Callable[..., FastAPI],
) -> AsyncIterator[tuple[httpx.AsyncClient, ServiceContext]]:
    async with client_for(make_app()) as pair:
        yield pair


@pytest.fixture
def client(app_and_context: tuple[httpx.AsyncClient, ServiceContext]) -> httpx.AsyncClient:
    return app_and_context[0]


@pytest.fixture
def context(app_and_context: tuple[httpx.AsyncClient, ServiceContext]) -> ServiceContext:
    return app_and_context[1]


class Tenant:
    """A fresh organization (or, `personal=True`, fresh personal spaces) with named members."""

    def __init__(self, personal: bool = False) -> None:
        self.key = uuid.uuid4().hex[:12]
        self.org_id = None if personal else f"org-{self.key}"

    def subject(self, sub: str) -> str:
        return f"{self.key}-{sub}"

    def token(self, sub: str, **claims: Any) -> str:
        return mint_dev_token(
            JWT_SECRET, self.subject(sub), sub.title(), f"{sub}@example.com", self.org_id, **claims
        )

    def as_(self, sub: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(sub)}"}

    def user_id(self, sub: str) -> uuid.UUID:
        return user_id_for(None, self.subject(sub))


@pytest.fixture(scope="session")
def jwt_secret() -> str:
    return JWT_SECRET


@pytest.fixture
def tenant() -> Tenant:
    return Tenant()


@pytest.fixture
def other_tenant() -> Tenant:
    return Tenant()


class Api:
    """Shortcuts for building a board through the HTTP API as one user."""

    def __init__(self, client: httpx.AsyncClient, headers: dict[str, str]) -> None:
        self.client = client
        self.headers = headers

    async def call(self, method: str, path: str, expect: int = 200, **kwargs: Any) -> Any:
        response = await self.client.request(method, f"/api/v1{path}", headers=self.headers, **kwargs)
        assert response.status_code == expect, response.text
        return response.json() if response.content else None

    async def project(self, name: str = "P") -> str:
        return str((await self.call("POST", "/projects", 201, json={"name": name}))["id"])

    async def story(self, project_id: str, ready: bool = False, points: int = 3) -> str:
        body = {"title": "Story", "description": "Because", "story_points": points}
        story_id = str(
            (await self.call("POST", f"/projects/{project_id}/stories", 201, json=body))["story_id"]
        )
        if ready:
            for n in range(3):
                criterion = {"given": f"g{n}", "when": "w", "then": "t"}
                await self.call("POST", f"/stories/{story_id}/acceptance-criteria", 201, json=criterion)
            await self.call("PATCH", f"/stories/{story_id}/status", json={"status": "ready"})
        return story_id

    async def sprint(self, project_id: str, story_ids: list[str], **extra: Any) -> str:
        body = {"name": "Sprint", "goal": "Goal", "stories": story_ids, **extra}
        return str((await self.call("POST", f"/projects/{project_id}/sprints", 201, json=body))["sprint_id"])

    async def task(self, story_id: str, title: str = "Task", **extra: Any) -> str:
        body = {"title": title, "acceptance_criteria_refs": ["AC1"], **extra}
        return str((await self.call("POST", f"/stories/{story_id}/tasks", 201, json=body))["task_id"])

    async def board(self) -> tuple[str, str, str, str]:
        """A project with one ready story committed to a new sprint, plus one task: their ids."""
        project_id = await self.project()
        story_id = await self.story(project_id, ready=True)
        sprint_id = await self.sprint(project_id, [story_id])
        return project_id, story_id, sprint_id, await self.task(story_id)


@pytest.fixture
def api_on() -> Callable[[httpx.AsyncClient, Tenant, str], Api]:
    """`api_on(client, tenant, "alice")`: the shortcuts on a separately configured app's client."""
    return lambda client, tenant, sub="alice": Api(client, tenant.as_(sub))


@pytest.fixture
def api(client: httpx.AsyncClient, tenant: Tenant) -> Callable[[str], Api]:
    return lambda sub="alice": Api(client, tenant.as_(sub))


@pytest.fixture
def outbox_rows(engine: AsyncEngine) -> Callable[[str], Awaitable[list[dict[str, Any]]]]:
    async def rows(task_id: str) -> list[dict[str, Any]]:
        async with engine.connect() as conn:
            result = await conn.execute(
                select(outbox).where(outbox.c.task_id == uuid.UUID(task_id)).order_by(outbox.c.id)
            )
            return [dict(r._mapping) for r in result]

    return rows
