"""Operations endpoints: liveness, readiness with extra checks, Prometheus metrics, OpenAPI docs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import httpx
from starlette.types import Receive, Scope, Send

from sprintboard_backlog.adapters.engine import is_database_unavailable
from sprintboard_backlog.entrypoints.http import create_app
from sprintboard_backlog.settings import BacklogSettings
from sprintboard_devstack.servers import free_port


async def test_live_ready_and_docs(client: Any) -> None:
    assert (await client.get("/health/live")).json() == {"status": "ok"}
    ready = await client.get("/health/ready")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "checks": {"database": "ok", "nats": "ok"}}
    assert (await client.get("/docs")).status_code == 200
    spec = (await client.get("/openapi.json")).json()
    assert "/api/v1/tasks/{task_id}/ownership" in spec["paths"]
    assert "/api/v1/sprints/{sprint_id}/tasks" in spec["paths"]


async def test_every_api_route_documents_the_error_envelope(client: Any) -> None:
    spec = (await client.get("/openapi.json")).json()
    envelope = spec["components"]["schemas"]["ErrorEnvelope"]
    assert envelope["required"] == ["error"]
    take = spec["paths"]["/api/v1/tasks/{task_id}/ownership"]["put"]["responses"]
    for status in ("401", "403", "404", "409", "422", "503"):
        schema = take[status]["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/ErrorEnvelope"}, status


async def test_an_unreachable_database_is_503_with_the_envelope(
    jwt_secret: str, nats_url: str, tenant: Any
) -> None:
    nowhere = f"postgresql://postgres@127.0.0.1:{free_port()}/none"
    settings = BacklogSettings(
        database_url=nowhere, nats_url=nats_url, jwt_secret=jwt_secret, relay_enabled=False, access_log=False
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app) as state:

        async def asgi(scope: Scope, receive: Receive, send: Send) -> None:
            await app({**scope, "state": dict(state or {})}, receive, send)

        transport = httpx.ASGITransport(app=asgi)
        async with httpx.AsyncClient(transport=transport, base_url="http://backlog") as client:
            response = await client.get("/api/v1/projects", headers=tenant.as_("alice"))
            assert response.status_code == 503, response.text
            error = response.json()["error"]
            assert error["code"] == "service_unavailable"
            assert error["request_id"] == response.headers["x-request-id"]
            assert response.headers["retry-after"]
            ready = await client.get("/health/ready")
            assert ready.status_code == 503
            assert ready.json()["checks"]["database"] != "ok"


def test_only_an_outage_counts_as_unavailable() -> None:
    assert is_database_unavailable(ConnectionRefusedError(111, "refused"))
    assert is_database_unavailable(asyncpg.exceptions.CannotConnectNowError("starting up"))
    assert is_database_unavailable(asyncpg.InterfaceError("cannot call fetch(): connection is closed"))
    assert not is_database_unavailable(asyncpg.exceptions.UniqueViolationError("duplicate key"))
    assert not is_database_unavailable(asyncpg.InterfaceError("another operation is in progress"))


async def test_ready_fails_while_nats_is_unreachable(open_client: Any) -> None:
    async with open_client(nats_url=f"nats://127.0.0.1:{free_port()}") as (client, _):
        ready = await client.get("/health/ready")
        assert ready.status_code == 503
        assert ready.json()["checks"]["database"] == "ok"
        assert ready.json()["checks"]["nats"] != "ok"


async def test_metrics_count_requests_by_route_template(client: Any, tenant: Any, api: Any) -> None:
    *_, task_id = await api("alice").board()
    await client.get(f"/api/v1/tasks/{task_id}", headers=tenant.as_("alice"))
    text = (await client.get("/metrics")).text
    assert (
        'sprintboard_http_requests_total{method="GET",route="/api/v1/tasks/{task_id}",status="200"}' in text
    )
    assert "sprintboard_http_request_duration_seconds_bucket" in text


async def test_hooks_add_readiness_checks_and_on_commit_callbacks(open_client: Any, tenant: Any) -> None:
    commits: list[str] = []

    async def broken() -> None:
        raise ConnectionError("nats down")

    @asynccontextmanager
    async def hook(context: Any) -> AsyncIterator[None]:
        context.readiness_checks["nats"] = broken
        context.on_commit.append(lambda: commits.append("woken"))
        yield
        commits.append("stopped")

    async with open_client(hooks=[hook]) as (client, _):
        ready = await client.get("/health/ready")
        assert ready.status_code == 503
        assert ready.json() == {
            "status": "unavailable",
            "checks": {"database": "ok", "nats": "error: ConnectionError"},
        }
        headers = tenant.as_("alice")
        project = (await client.post("/api/v1/projects", json={"name": "P"}, headers=headers)).json()
        assert commits == []  # no task change, no outbox row, no wake-up
        story = await client.post(
            f"/api/v1/projects/{project['id']}/stories", json={"title": "S"}, headers=headers
        )
        body = {"title": "T", "acceptance_criteria_refs": ["AC1"]}
        await client.post(f"/api/v1/stories/{story.json()['story_id']}/tasks", json=body, headers=headers)
        assert commits == ["woken"]
    assert commits == ["woken", "stopped"]
