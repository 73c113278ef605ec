"""A notifier WebSocket client as a board holds one: authenticates, then records every frame it receives."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

from websockets.asyncio.client import ClientConnection, connect


class BoardSocket:
    """`await BoardSocket.open(url, token)`; then `wait_for_events(n, project_id=...)` and `close()`."""

    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection
        self.frames: list[dict[str, Any]] = []
        self.welcome: dict[str, Any] = {}
        self._arrived = asyncio.Event()
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def open(cls, url: str, token: str, subscribe: dict[str, Any] | None = None) -> BoardSocket:
        """Connect and authenticate with the first frame; with `subscribe`, narrow the feed and wait for
        its acknowledgement. Without it the socket gets its whole tenant, like the reference client."""
        socket = cls(await connect(url, open_timeout=10))
        await socket.send({"type": "auth", "token": token})
        socket.welcome = await socket.wait_for_frame("welcome")
        if subscribe is not None:
            await socket.send({"type": "subscribe", **subscribe})
            await socket.wait_for_frame("subscribed")
        return socket

    async def send(self, frame: dict[str, Any]) -> None:
        await self.connection.send(json.dumps(frame))

    async def _read(self) -> None:
        with contextlib.suppress(Exception):
            async for raw in self.connection:
                frame = json.loads(raw)
                # An opted-in batch carries several events; a board applies them one by one.
                self.frames.extend(frame["events"] if frame.get("type") == "batch" else [frame])
                self._arrived.set()
        self._arrived.set()

    def events(self, project_id: str | None = None) -> list[dict[str, Any]]:
        """The task events received so far (frames with an `event_id`), optionally of one project."""
        return [
            f
            for f in self.frames
            if "event_id" in f and (project_id is None or f.get("project_id") == project_id)
        ]

    async def _until(self, done: Any, timeout: float, what: str) -> Any:
        async def wait() -> Any:
            while (result := done()) is None:
                if self._reader.done():
                    raise AssertionError(f"socket closed before {what}: {self.connection.close_code}")
                self._arrived.clear()
                await self._arrived.wait()
            return result

        try:
            return await asyncio.wait_for(wait(), timeout)
        except TimeoutError:
            raise AssertionError(f"no {what} within {timeout}s; frames: {self.frames[-10:]}") from None

    async def wait_for_frame(self, kind: str, timeout: float = 10) -> dict[str, Any]:
        frames: dict[str, Any] = await self._until(
            lambda: next((f for f in self.frames if f.get("type") == kind), None), timeout, f"{kind!r} frame"
        )
        return frames

    async def wait_for_events(
        self, count: int, project_id: str | None = None, timeout: float = 15
    ) -> list[dict[str, Any]]:
        """At least `count` events (of `project_id`); returns all of them so far."""
        events: list[dict[str, Any]] = await self._until(
            lambda: found if len(found := self.events(project_id)) >= count else None,
            timeout,
            f"{count} events",
        )
        return events

    async def close(self) -> None:
        await self.connection.close()
        with contextlib.suppress(Exception):
            await self._reader
