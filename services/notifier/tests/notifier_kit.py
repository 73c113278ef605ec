"""Notifier test kit: in-process uvicorn notifiers, JetStream publishing of contract events, ws clients."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import nats
import uvicorn
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from websockets.asyncio.client import connect

from sprintboard_contracts import events as contract
from sprintboard_contracts.subjects import STREAM_NAME, EventType, subject_v2_for
from sprintboard_devstack.servers import free_port
from sprintboard_e2e.sockets import BoardSocket
from sprintboard_kit.tokens import mint_dev_token
from sprintboard_notifier.app import create_app, server_config
from sprintboard_notifier.client import Clients
from sprintboard_notifier.hub import Hub
from sprintboard_notifier.metrics import NotifierMetrics
from sprintboard_notifier.settings import NotifierSettings

SECRET = "notifier-test-secret-with-enough-bytes"


@dataclass
class Notifier:
    """A notifier served by uvicorn in this process, on a free port."""

    settings: NotifierSettings
    server: uvicorn.Server
    app: Any

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.settings.port}/api/v1/ws/tasks"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.settings.port}"

    @property
    def hub(self) -> Hub:
        hub: Hub = self.app.state.bridge.hub
        return hub

    @property
    def clients(self) -> Clients:
        clients: Clients = self.app.state.clients
        return clients

    def most_queued(self) -> int:
        """The most frames any socket's writer holds right now."""
        return max((c.writer.queued for c in self.clients), default=0)

    @property
    def metrics(self) -> NotifierMetrics:
        metrics: NotifierMetrics = self.app.state.bridge.hub._metrics
        return metrics


@contextlib.asynccontextmanager
async def run_notifier(nats_url: str, **overrides: Any) -> AsyncIterator[Notifier]:
    settings = NotifierSettings(nats_url=nats_url, jwt_secret=SECRET, port=free_port(), **overrides)
    app = create_app(settings)
    server = uvicorn.Server(server_config(settings, app, log_level="warning"))
    task = asyncio.create_task(server.serve())
    notifier = Notifier(settings, server, app)
    try:
        async with httpx.AsyncClient(base_url=notifier.http_url) as http:
            for _ in range(300):
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get("/health/ready")).status_code == 200:
                        break
                if task.done():
                    task.result()
                await asyncio.sleep(0.05)
            else:
                raise RuntimeError("notifier not ready")
        yield notifier
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 30)


async def caught_up(notifier: Notifier, tenant_id: str, seq: int, timeout: float = 10.0) -> None:
    """Until the notifier's live path has come to `seq` for `tenant_id` (which it must follow: a socket of
    that tenant is open, or the instance follows every tenant)."""
    hub = notifier.hub
    async with asyncio.timeout(timeout):
        while hub.position(tenant_id) < seq:
            await asyncio.sleep(0.01)


def token(org_id: str | None, sub: str = "alice", ttl_seconds: int = 3600) -> str:
    return mint_dev_token(
        SECRET, sub, sub.title(), f"{sub}@example.com", org_id=org_id, ttl_seconds=ttl_seconds
    )


@dataclass
class Board:
    """Ids of one tenant's project, sprint and stories, to build events against."""

    tenant_id: str
    project_id: uuid.UUID = field(default_factory=uuid.uuid4)
    sprint_id: uuid.UUID = field(default_factory=uuid.uuid4)
    stories: list[uuid.UUID] = field(default_factory=lambda: [uuid.uuid4() for _ in range(3)])


def make_event(board: Board, story: uuid.UUID | None = None, sprint: bool = True, version: int = 2) -> Any:
    """A valid `ownership_taken` for a fresh task of the board."""
    owner = uuid.uuid4()
    return contract.OwnershipTaken(
        event_id=uuid.uuid4(),
        timestamp=datetime.now(UTC),
        tenant_id=board.tenant_id,
        org_id=board.tenant_id,
        project_id=board.project_id,
        sprint_id=board.sprint_id if sprint else None,
        story_id=story or board.stories[0],
        task_id=uuid.uuid4(),
        task_version=version,
        actor_user_id=owner,
        status="owned",
        owner_user_id=owner,
    )


class Publisher:
    """Publishes like the backlog's relay: contract JSON, its subject, `Nats-Msg-Id` = event_id."""

    def __init__(self, nc: NatsClient) -> None:
        self.nc = nc
        self.js: JetStreamContext = nc.jetstream()

    async def publish(self, event: Any) -> int:
        ack = await self.js.publish(
            subject_v2_for(event.tenant_id, event.project_id, event.sprint_id, EventType.OWNERSHIP_TAKEN),
            contract.event_to_json(event),
            headers={"Nats-Msg-Id": str(event.event_id)},
            stream=STREAM_NAME,
        )
        return int(ack.seq)

    async def publish_raw(self, subject: str, data: bytes) -> int:
        return int((await self.js.publish(subject, data, stream=STREAM_NAME)).seq)


@contextlib.asynccontextmanager
async def publisher(nats_url: str) -> AsyncIterator[Publisher]:
    nc = await nats.connect(nats_url)
    try:
        yield Publisher(nc)
    finally:
        await nc.close()


# The notifier tests read their sockets in turn: the one board-socket client of the tests.
Client = BoardSocket


@contextlib.asynccontextmanager
async def client(
    notifier: Notifier, tok: str | None, auth: str = "url", **kwargs: Any
) -> AsyncIterator[Client]:
    """`auth="url"`: the token on the URL, as the reference client does; `"frame"`: an auth frame first,
    as the board does (a client that means to resume)."""
    url = notifier.ws_url + (f"?token={tok}" if tok and auth == "url" else "")
    async with connect(url, **kwargs) as ws:
        c = BoardSocket.reading(ws)
        if tok and auth == "frame":
            await c.send({"type": "auth", "token": tok})
        yield c


def start_notifier_process(nats_url: str, port: int, log: Path, **env: str) -> subprocess.Popen[bytes]:
    """`python -m sprintboard_notifier` as the stack runs it: a process of its own, configured by
    environment only (`env`: more `NOTIFIER_*` settings), its output in `log`."""
    environ = dict(os.environ) | {
        "NATS_URL": nats_url,
        "SPRINTBOARD_JWT_SECRET": SECRET,
        "NOTIFIER_PORT": str(port),
        **env,
    }
    with open(log, "wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "sprintboard_notifier"], env=environ, stdout=out, stderr=out
        )
