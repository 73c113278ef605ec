"""The one board client that stays subscribed across lost sockets: it reconnects (to the next URL, or the
same one) and resumes from its last event, keeping every event frame, to be compared with the stream."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from sprintboard_e2e.waiting import until

CONTROL_FRAMES = ("welcome", "heartbeat", "pong", "options", "unsubscribed", "token_refreshed")


class Follower:
    """A board client: follows one sprint, one project or its whole tenant over the notifier, resumes from
    its last seq after every drop (from `after` = (seq, epoch) at the start, when given), and keeps every
    event frame it got. Events of another tenant, sprint or project are kept apart in `foreign`."""

    def __init__(
        self,
        name: str,
        urls: list[str],
        token: str,
        tenant_id: str,
        sprint_id: str | None = None,
        after: tuple[int, str] | None = None,
        batch: bool = False,
        rotate: bool = False,
        project_id: str | None = None,
    ) -> None:
        self.name = name
        self.urls = urls
        self.token = token
        self.tenant_id = tenant_id
        self.sprint_id = sprint_id
        self.project_id = project_id
        self.last_seq: int | None = after[0] if after else None
        self.epoch: str | None = after[1] if after else None
        self.batch = batch
        self.rotate = rotate
        self.events: list[dict[str, Any]] = []
        self.duplicates: list[int] = []
        self.foreign: list[dict[str, Any]] = []  # another tenant's, sprint's or project's event
        self.resyncs: list[dict[str, Any]] = []
        self.errors: list[dict[str, Any]] = []
        self.sessions = 0  # subscriptions acknowledged, one per (re)connection
        self.subscribed_on: list[str] = []  # the URL of each acknowledged subscription
        self.drops: list[int | None] = []  # close codes seen
        self._url = 0
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> Follower:
        self._task = asyncio.create_task(self._run(), name=f"follower-{self.name}")
        return self

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    @property
    def seqs(self) -> list[int]:
        return [e["seq"] for e in self.events]

    def changes(self) -> list[tuple[str, str]]:
        """(type, task_id) of every event received, in the order received (stream order)."""
        return [(e["type"], e["task_id"]) for e in self.events]

    async def _run(self) -> None:
        backoff = 0.05
        while not self._stop.is_set():
            url = self.urls[self._url % len(self.urls)]
            try:
                async with connect(url, open_timeout=5, max_size=2**22, close_timeout=1) as ws:
                    await self._session(ws, url)
                self.drops.append(ws.close_code)
                backoff = 0.05
            except ConnectionClosed as exc:
                self.drops.append(exc.rcvd.code if exc.rcvd else None)
            except (OSError, InvalidStatus, TimeoutError):
                pass  # not listening (yet): try again
            if self.rotate:
                self._url += 1
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 0.5)

    async def _session(self, ws: ClientConnection, url: str) -> None:
        await ws.send(json.dumps({"type": "auth", "token": self.token}))
        subscribe: dict[str, Any] = {"type": "subscribe", "batch": self.batch}
        if self.last_seq is not None:
            subscribe["resume_from"] = {"seq": self.last_seq, "epoch": self.epoch}
        if self.sprint_id is not None:
            subscribe["sprint_id"] = self.sprint_id
        elif self.project_id is not None:
            subscribe["project_id"] = self.project_id
        await ws.send(json.dumps(subscribe))
        async for message in ws:
            frame = json.loads(message)
            kind = frame.get("type")
            if kind == "batch":
                for event in frame["events"]:
                    self._event(event)
            elif kind == "subscribed":
                self.sessions += 1
                self.subscribed_on.append(url)
            elif kind == "resync_required":
                self.resyncs.append(frame)
            elif kind == "error":
                self.errors.append(frame)
            elif kind in CONTROL_FRAMES:
                pass
            else:
                self._event(frame)

    def _event(self, event: dict[str, Any]) -> None:
        if (
            event.get("tenant_id") != self.tenant_id
            or (self.sprint_id is not None and event.get("sprint_id") != self.sprint_id)
            or (self.project_id is not None and event.get("project_id") != self.project_id)
        ):
            self.foreign.append(event)
            return
        seq = event["seq"]
        if self.last_seq is not None and seq <= self.last_seq:
            self.duplicates.append(seq)
            return
        self.last_seq, self.epoch = seq, event["epoch"]
        self.events.append(event)

    async def wait_for(self, seq: int, timeout: float) -> None:
        async def caught_up() -> bool:
            return self.last_seq is not None and self.last_seq >= seq

        await until(caught_up, timeout, f"follower {self.name} reached seq {seq} (at {self.last_seq})")

    async def wait_for_events(self, count: int, timeout: float = 60) -> None:
        async def enough() -> bool:
            return len(self.events) >= count

        await until(enough, timeout, f"follower {self.name} got {count} events (has {len(self.events)})")


@contextlib.asynccontextmanager
async def following(followers: list[Follower], timeout: float = 30) -> AsyncIterator[list[Follower]]:
    """Start the followers, wait until each is subscribed, stop them at the end."""
    for f in followers:
        f.start()
    try:

        async def all_subscribed() -> bool:
            return all(f.sessions >= 1 for f in followers)

        await until(all_subscribed, timeout, "every follower subscribed")
        yield followers
    finally:
        await asyncio.gather(*(f.stop() for f in followers))
