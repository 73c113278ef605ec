"""Standalone relays under fault: more of them on one stack, what each says of itself, a cuttable link to
PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import json
import urllib.request
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

from fault_stack import db_fetch

from sprintboard_backlog.adapters.relay import LEADER_LOCK_KEY
from sprintboard_devstack.servers import free_port
from sprintboard_devstack.stack import ServiceProcess, Stack

LOST_LEADERSHIP = "outbox relay is no longer the leader"


def extra_relay(stack: Stack, name: str, database_url: str | None = None) -> ServiceProcess:
    """Another `python -m sprintboard_backlog.entrypoints.relay` on the stack's servers (or `database_url`),
    its metrics on a port of its own; started, and stopped by the caller."""
    port = free_port()
    env = stack.base_env() | {"BACKLOG_HOST": stack.host, "BACKLOG_RELAY_METRICS_PORT": str(port)}
    if database_url is not None:
        env["DATABASE_URL"] = database_url
    relay = ServiceProcess(
        "sprintboard_backlog.entrypoints.relay",
        stack.host,
        port,
        env,
        stack.logs / f"relay-{name}-{port}.log",
        health_path="/metrics",
    )
    return relay.start()


def relay_metrics(relay: ServiceProcess) -> dict[str, float]:
    """The relay's own figures: `sprintboard_relay_is_leader`, `..._published_total`, ... (empty if down)."""
    try:
        with urllib.request.urlopen(f"{relay.url}/metrics", timeout=2) as response:
            text = response.read().decode()
    except OSError:
        return {}
    figures = {}
    for line in text.splitlines():
        if line.startswith("sprintboard_relay_") or line.startswith("sprintboard_outbox_"):
            name, _, value = line.rpartition(" ")
            figures[name] = float(value)
    return figures


def leads(relay: ServiceProcess) -> bool:
    return relay_metrics(relay).get("sprintboard_relay_is_leader") == 1.0


def published(relay: ServiceProcess) -> int:
    return int(relay_metrics(relay).get("sprintboard_relay_published_total", 0))


def log_messages(relay: ServiceProcess) -> list[str]:
    """The `message` of each JSON log line the relay wrote."""
    messages = []
    for line in relay.log.read_text(errors="replace").splitlines():
        with contextlib.suppress(ValueError):
            messages.append(str(json.loads(line).get("message", "")))
    return messages


async def lock_holder(stack: Stack) -> int | None:
    """The backend pid of the session that holds the relay's leader lock, if any."""
    rows = await db_fetch(
        stack,
        "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted "
        "AND ((classid::bigint << 32) | objid::bigint) = $1",
        LEADER_LOCK_KEY,
    )
    return int(rows[0]["pid"]) if rows else None


async def terminate_lock_holder(stack: Stack) -> int:
    """`pg_terminate_backend` of the leader's session: the server ends it and tells the client."""
    pid = await lock_holder(stack)
    assert pid is not None, "no relay holds the leader lock"
    rows = await db_fetch(stack, "SELECT pg_terminate_backend($1) AS done", pid)
    assert rows[0]["done"], f"backend {pid} not terminated"
    return pid


@dataclass
class Link:
    client: asyncio.StreamWriter
    server: asyncio.StreamWriter
    pumps: list[asyncio.Task[None]] = field(default_factory=list)


class PostgresLink:
    """A TCP proxy between one relay and PostgreSQL. `partition()` cuts every open connection the way a
    network partition does: the server's side is closed (PostgreSQL ends the session, releasing its locks),
    the relay's side stays open and silent (what it sends is swallowed, nothing ever comes back). New
    connections are refused until `heal()`."""

    def __init__(self, database_url: str) -> None:
        parts = urlsplit(database_url)
        assert parts.hostname and parts.port
        self._target = (parts.hostname, parts.port)
        self._parts = parts
        self._server: asyncio.Server | None = None
        self._links: list[Link] = []
        self._silenced: list[Link] = []
        self._refusing = False
        self.port = 0

    @property
    def url(self) -> str:
        """`database_url` with this proxy as its host and port."""
        netloc = self._parts.netloc.rsplit("@", 1)
        host = f"127.0.0.1:{self.port}"
        return urlunsplit(self._parts._replace(netloc=f"{netloc[0]}@{host}" if len(netloc) == 2 else host))

    async def start(self) -> PostgresLink:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def _accept(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        if self._refusing:
            client_w.close()
            return
        server_r, server_w = await asyncio.open_connection(*self._target)
        link = Link(client_w, server_w)
        link.pumps = [
            asyncio.create_task(self._pump(client_r, server_w)),
            asyncio.create_task(self._pump(server_r, client_w)),
        ]
        self._links.append(link)

    @staticmethod
    async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Copy one way; at the end of the stream, or a reset (PostgreSQL ending a session with a query
        unread resets it), pass the close on. A cancel by `partition` does not."""
        with contextlib.suppress(OSError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()

    def refuse(self) -> None:
        """Refuse new connections (close them at once) until `heal()`."""
        self._refusing = True

    def heal(self) -> None:
        self._refusing = False

    def partition(self) -> int:
        """Cut every open connection (see the class) and refuse new ones; how many were cut."""
        self.refuse()
        links, self._links = self._links, []
        for link in links:
            for pump in link.pumps:
                pump.cancel()
            link.server.close()  # PostgreSQL reads EOF: the backend exits, its advisory locks go
            # Swallow what the relay sends from now on, and never answer; its socket stays open (the
            # writer is kept too: a collected StreamWriter closes its transport).
            link.client.transport.set_protocol(asyncio.Protocol())
            self._silenced.append(link)
        return len(links)

    async def close(self) -> None:
        for link in self._silenced:
            link.client.transport.close()
        for link in self._links:
            for pump in link.pumps:
                pump.cancel()
            link.client.close()
            link.server.close()
        if self._server is not None:
            self._server.close()
