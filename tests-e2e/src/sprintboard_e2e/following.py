"""A board client that stays subscribed across lost sockets: it reconnects and resumes from its last event."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

from websockets.asyncio.client import connect
from websockets.exceptions import WebSocketException

RECONNECT_PAUSE_SECONDS = 0.2


class FollowingClient:
    """Follows one project through `url` (a gateway): every event it is sent, once each, by `event_id`."""

    def __init__(self, url: str, token: str, project_id: str) -> None:
        self.url, self.token, self.project_id = url, token, project_id
        self.events: dict[str, dict[str, Any]] = {}
        self.sockets_opened = 0
        self.subscribed = asyncio.Event()
        self._arrived = asyncio.Event()
        self._last: dict[str, Any] | None = None
        self._task = asyncio.create_task(self._follow())

    async def _follow(self) -> None:
        try:
            await self._reconnecting()
        finally:
            self._arrived.set()  # a waiter sees the failure at once

    async def _reconnecting(self) -> None:
        while True:
            with contextlib.suppress(OSError, WebSocketException, TimeoutError):
                async with connect(self.url, open_timeout=10) as ws:
                    self.sockets_opened += 1
                    await ws.send(json.dumps({"type": "auth", "token": self.token}))
                    subscribe: dict[str, Any] = {"type": "subscribe", "project_id": self.project_id}
                    if self._last is not None:
                        subscribe["resume_from"] = self._last
                    await ws.send(json.dumps(subscribe))
                    async for raw in ws:
                        self._receive(json.loads(raw))
            self.subscribed.clear()
            await asyncio.sleep(RECONNECT_PAUSE_SECONDS)

    def _receive(self, frame: dict[str, Any]) -> None:
        kind = frame.get("type")
        if kind == "subscribed":
            self.subscribed.set()
        elif kind == "resync_required":
            raise AssertionError(f"resync required: the resume found a gap ({frame})")
        elif "event_id" in frame:
            self.events.setdefault(frame["event_id"], frame)
            self._last = {"seq": frame["seq"], "epoch": frame["epoch"]}
            self._arrived.set()

    def changes(self) -> list[tuple[str, str]]:
        """(type, task_id) of every event received, in stream order."""
        ordered = sorted(self.events.values(), key=lambda e: int(e["seq"]))
        return [(e["type"], e["task_id"]) for e in ordered]

    async def wait_for(self, count: int, timeout: float = 60) -> None:
        async def enough() -> None:
            while len(self.events) < count:
                if self._task.done():
                    self._task.result()
                self._arrived.clear()
                await self._arrived.wait()

        try:
            await asyncio.wait_for(enough(), timeout)
        except TimeoutError:
            raise AssertionError(f"{len(self.events)} of {count} events within {timeout}s") from None

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
