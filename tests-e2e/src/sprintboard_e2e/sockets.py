"""The notifier WebSocket client of every test, as a board holds one. Two ways to read it:

- recording (`BoardSocket.open(url, token)`): a background reader keeps every frame, batches unpacked, while
  the test does other things; `wait_for_events`, `wait_for_frame`, `received` read the record;
- in turn (`BoardSocket.reading(connection)`): nothing is read until the test asks, frame by frame —
  `frame`, `control`, `events`, `quiet`, `close_code` — for protocol tests that check what comes next.

The reconnecting client built on the same protocol is `sprintboard_e2e.following.Follower`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed


def unpacked(frame: dict[str, Any]) -> list[dict[str, Any]]:
    """An opted-in batch carries several events; a board applies them one by one."""
    events: list[dict[str, Any]] = frame["events"] if frame.get("type") == "batch" else [frame]
    return events


class BoardSocket:
    """`await BoardSocket.open(url, token)`; then `wait_for_events(n, project_id=...)` and `close()`."""

    def __init__(self, connection: ClientConnection, record: bool = True) -> None:
        self.connection = connection
        self.frames: list[dict[str, Any]] = []  # recording: every frame so far, batches unpacked
        self.controls: list[dict[str, Any]] = []  # in turn: frames `control` and `events` set aside
        self.welcome: dict[str, Any] = {}
        self._arrived = asyncio.Event()
        self._reader = asyncio.create_task(self._read()) if record else None

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

    @classmethod
    def reading(cls, connection: ClientConnection) -> BoardSocket:
        """A socket read in turn by the test (no background reader)."""
        return cls(connection, record=False)

    @property
    def ws(self) -> ClientConnection:
        return self.connection

    async def send(self, frame: dict[str, Any]) -> None:
        await self.connection.send(json.dumps(frame))

    # Recording.

    async def _read(self) -> None:
        with contextlib.suppress(Exception):
            async for raw in self.connection:
                self.frames.extend(unpacked(json.loads(raw)))
                self._arrived.set()
        self._arrived.set()

    def received(self, project_id: str | None = None) -> list[dict[str, Any]]:
        """The task events received so far (frames with an `event_id`), optionally of one project."""
        return [
            f
            for f in self.frames
            if "event_id" in f and (project_id is None or f.get("project_id") == project_id)
        ]

    async def _until(self, done: Any, timeout: float, what: str) -> Any:
        reader = self._reader
        assert reader is not None, "a socket read in turn keeps no record"

        async def wait() -> Any:
            while (result := done()) is None:
                if reader.done():
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
            lambda: found if len(found := self.received(project_id)) >= count else None,
            timeout,
            f"{count} events",
        )
        return events

    async def close(self) -> None:
        await self.connection.close()
        if self._reader is not None:
            with contextlib.suppress(Exception):
                await self._reader

    # In turn.

    async def frame(self, timeout: float = 5.0) -> dict[str, Any]:
        assert self._reader is None, "a recording socket is read by its background reader"
        data: dict[str, Any] = json.loads(await asyncio.wait_for(self.connection.recv(), timeout))
        return data

    async def control(self, kind: str, timeout: float = 5.0) -> dict[str, Any]:
        """The next control frame of `kind` (events and other frames in between are kept aside)."""
        while True:
            data = await self.frame(timeout)
            if data.get("type") == kind:
                return data
            self.controls.append(data)

    async def events(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        """Exactly the next `count` events (batches unpacked); control frames are set aside."""
        out: list[dict[str, Any]] = []
        async with asyncio.timeout(timeout):
            while len(out) < count:
                data = await self.frame(timeout)
                if data.get("type") == "batch":
                    out.extend(data["events"])
                elif "event_id" in data:
                    out.append(data)
                else:
                    self.controls.append(data)
        return out

    async def quiet(self, seconds: float = 0.3) -> list[dict[str, Any]]:
        """Event frames that arrive within `seconds` (expected: none)."""
        out: list[dict[str, Any]] = []
        with contextlib.suppress(TimeoutError):
            while True:
                data = await self.frame(seconds)
                if "event_id" in data or data.get("type") == "batch":
                    out.append(data)
        return out

    async def close_code(self, timeout: float = 10.0) -> int | None:
        """Read until the server closes; its close code."""
        with contextlib.suppress(ConnectionClosed):
            async with asyncio.timeout(timeout):
                while True:
                    await self.connection.recv()
        return self.connection.close_code
