"""A socket in memory for the protocol's unit tests: `FakeConnection` is a `client.Connection` (the
write-only `Transport`, the client's messages, flow control) and `Rig` serves such sockets with a real
hub, `Clients` and writers over an in-memory event source — no NATS, no uvicorn, milliseconds per case."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import orjson
from hub_kit import MemorySource
from notifier_kit import SECRET

from sprintboard_notifier.client import Clients
from sprintboard_notifier.hub import Delivery, Hub
from sprintboard_notifier.metrics import NotifierMetrics
from sprintboard_notifier.settings import NotifierSettings
from sprintboard_notifier.transport import FlowControl


def parse_frames(data: bytes) -> list[dict[str, Any]]:
    """The JSON payloads of unmasked server text frames, back to back (RFC 6455 §5.2)."""
    out, i = [], 0
    while i < len(data):
        assert data[i] == 0x81, "a final text frame"
        n, i = data[i + 1], i + 2
        if n == 126:
            n, i = int.from_bytes(data[i : i + 2], "big"), i + 2
        elif n == 127:
            n, i = int.from_bytes(data[i : i + 8], "big"), i + 8
        out.append(orjson.loads(data[i : i + n]))
        i += n
    return out


class FakeConnection:
    """The server's side of one socket; the test plays the client with `send` and `next`."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []  # each `Transport.write`, as written
        self.closed: tuple[int, str] | None = None
        self.flow: FlowControl | None = None
        self.acks_close = True  # the peer answers our close frame (the handshake ends)
        self._inbox: asyncio.Queue[str | bytes | None] = asyncio.Queue()
        self._read = 0  # frames already returned by `next`
        self._changed = asyncio.Event()

    # -- `client.Connection` --------------------------------------------------------------------------

    def write(self, data: bytes) -> None:
        if self.closed is None:
            self.writes.append(data)
            self._changed.set()

    def close(self, code: int, reason: str = "") -> None:
        if self.closed is None:
            self.closed = (code, reason)
            self._changed.set()
            if self.acks_close:
                self._inbox.put_nowait(None)

    async def receive(self) -> str | bytes | None:
        return await self._inbox.get()

    def follow(self, flow: FlowControl) -> None:
        self.flow = flow

    # -- the test's side ------------------------------------------------------------------------------

    def send(self, message: dict[str, Any] | str | bytes) -> None:
        self._inbox.put_nowait(orjson.dumps(message).decode() if isinstance(message, dict) else message)

    def hang_up(self) -> None:
        """The peer vanishes without a close frame."""
        self._inbox.put_nowait(None)

    def frames(self) -> list[dict[str, Any]]:
        return [f for data in self.writes for f in parse_frames(data)]

    async def next(self, kind: str | None = None, timeout: float = 2.0) -> dict[str, Any]:
        """The next frame not read yet (of `kind`, skipping others)."""
        async with asyncio.timeout(timeout):
            while True:
                frames = self.frames()
                while self._read < len(frames):
                    frame = frames[self._read]
                    self._read += 1
                    if kind is None or frame.get("type") == kind:
                        return frame
                self._changed.clear()
                await self._changed.wait()

    async def close_code(self, timeout: float = 2.0) -> int:
        async with asyncio.timeout(timeout):
            while self.closed is None:
                self._changed.clear()
                await self._changed.wait()
        return self.closed[0]

    def pause(self) -> None:
        assert self.flow is not None
        self.flow.pause_writing()

    def resume(self) -> None:
        assert self.flow is not None
        self.flow.resume_writing()


@dataclass
class Rig:
    """A hub, `Clients` and their settings, serving fake sockets."""

    hub: Hub
    source: MemorySource
    clients: Clients
    metrics: NotifierMetrics
    settings: NotifierSettings
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def connect(self, url_token: str | None = None) -> FakeConnection:
        """A new socket, served at once (`url_token`: a token on the URL, as `?token=`)."""
        conn = FakeConnection()
        self.tasks.append(asyncio.create_task(self.clients.serve(conn, url_token)))
        return conn

    def publish(self, *ds: Delivery) -> None:
        for d in ds:
            self.source.events.append(d)
            self.hub.publish(d)

    async def settle(self) -> None:
        """Let every socket read what it was sent and every flush run."""
        for _ in range(5):
            await asyncio.sleep(0)
        await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def rig(**overrides: Any) -> AsyncIterator[Rig]:
    settings = NotifierSettings(jwt_secret=SECRET, **overrides)
    source, metrics = MemorySource(), NotifierMetrics()
    hub = Hub(
        source,
        metrics,
        hold_frames=settings.resume_hold_frames,
        stall_seconds=settings.replay_stall_seconds,
        history_events=settings.history_events,
    )
    source.hub = hub
    hub.start(source.epoch, 0)
    clients = Clients(hub, settings.token_verifier(), settings, metrics)
    r = Rig(hub, source, clients, metrics, settings)
    try:
        yield r
    finally:
        for task in r.tasks:
            task.cancel()
        await asyncio.gather(*r.tasks, return_exceptions=True)
