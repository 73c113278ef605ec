"""Presence test kit: `Presence` instances on their own NATS connections, and sockets that record frames."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import nats
import orjson

from sprintboard_notifier.presence import Presence, PresenceSettings

FAST = {"ttl_seconds": 2.0, "grace_seconds": 0.6, "diff_interval_seconds": 0.2, "load_timeout_seconds": 2.0}


def fast_settings(bucket: str | None = None, **overrides: Any) -> PresenceSettings:
    return PresenceSettings(bucket=bucket or f"PRESENCE_TEST_{uuid.uuid4().hex[:8]}", **(FAST | overrides))


class Socket:
    """What one watcher was sent, and the users that makes (snapshot, then diffs applied)."""

    def __init__(self) -> None:
        self.frames: list[dict[str, Any]] = []
        self.users: dict[str, str] = {}

    def send(self, text: str) -> None:
        frame = orjson.loads(text)
        self.frames.append(frame)
        if frame["type"] == "presence":
            self.users = {u["user_id"]: u["name"] for u in frame["users"]}
        elif frame["type"] == "presence_diff":
            for u in frame["leaves"]:
                self.users.pop(u["user_id"], None)
            for u in frame["joins"]:
                self.users[u["user_id"]] = u["name"]

    def diffs(self) -> list[dict[str, Any]]:
        return [f for f in self.frames if f["type"] == "presence_diff"]


async def eventually(check: Callable[[], bool], timeout: float = 10.0) -> None:
    """Wait until `check()` holds (a liveness bound for the test run, not a speed assertion)."""
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def running(
    nats_url: str, settings: PresenceSettings, instance_id: str
) -> AsyncIterator[Presence[str]]:
    """A started `Presence` on its own connection; leaving the block is a lost instance (keys left behind)."""
    nc = await nats.connect(nats_url)
    presence: Presence[str] = Presence(settings, instance_id, str)
    await presence.start(nc)
    try:
        yield presence
    finally:
        await presence.stop()
        await nc.close()


class Viewers:
    """A socket's view of a sprint's presence, kept from the frames it reads (events are ignored)."""

    def __init__(self, c: Any) -> None:
        self.c = c
        self.users: dict[str, str] = {}
        self.frames: list[dict[str, Any]] = []

    def apply(self, frame: dict[str, Any]) -> None:
        if frame.get("type") in ("presence", "presence_diff"):
            self.frames.append(frame)
        if frame.get("type") == "presence":
            self.users = {u["user_id"]: u["name"] for u in frame["users"]}
        elif frame.get("type") == "presence_diff":
            for u in frame["leaves"]:
                self.users.pop(u["user_id"], None)
            for u in frame["joins"]:
                self.users[u["user_id"]] = u["name"]

    async def subscribe(self, sprint_id: str) -> dict[str, Any]:
        """Subscribe to the sprint; the frame right after `subscribed` (the `presence` frame)."""
        await self.c.send({"type": "subscribe", "sprint_id": sprint_id})
        await self.c.control("subscribed")
        first: dict[str, Any] = await self.c.frame()
        self.apply(first)
        return first

    async def until(self, check: Callable[[dict[str, str]], bool], timeout: float = 15.0) -> None:
        """Read frames until the users satisfy `check` (a liveness bound, not a speed assertion)."""
        async with asyncio.timeout(timeout):
            while not check(self.users):
                self.apply(await self.c.frame(timeout))

    def diffs(self) -> list[dict[str, Any]]:
        return [f for f in self.frames if f["type"] == "presence_diff"]

    async def drain(self, seconds: float) -> None:
        """Apply whatever arrives within `seconds`."""
        with contextlib.suppress(TimeoutError):
            while True:
                self.apply(await self.c.frame(seconds))
