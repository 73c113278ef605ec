"""Board clients over the notifier: follow a sprint or a tenant, resume after each drop, keep every event."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

from fault_stack import Stored, until
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus


class Follower:
    """A board client: follows one sprint over the notifier, resumes from its last seq after every drop,
    and keeps every event frame it got, to be compared with the stream."""

    def __init__(
        self,
        name: str,
        urls: list[str],
        token: str,
        tenant_id: str,
        sprint_id: str | None,
        after: tuple[int, str],
        batch: bool = False,
        rotate: bool = False,
    ) -> None:
        self.name = name
        self.urls = urls
        self.token = token
        self.tenant_id = tenant_id
        self.sprint_id = sprint_id
        self.last_seq, self.epoch = after
        self.batch = batch
        self.rotate = rotate
        self.events: list[dict[str, Any]] = []
        self.duplicates: list[int] = []
        self.foreign: list[dict[str, Any]] = []  # another tenant's or another sprint's event
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
        subscribe: dict[str, Any] = {
            "type": "subscribe",
            "resume_from": {"seq": self.last_seq, "epoch": self.epoch},
            "batch": self.batch,
        }
        if self.sprint_id is not None:
            subscribe["sprint_id"] = self.sprint_id
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
            elif kind in (
                "welcome",
                "heartbeat",
                "pong",
                "options",
                "unsubscribed",
                "token_refreshed",
                "presence",
                "presence_diff",
            ):
                pass
            else:
                self._event(frame)

    def _event(self, event: dict[str, Any]) -> None:
        if event.get("tenant_id") != self.tenant_id or (
            self.sprint_id is not None and event.get("sprint_id") != self.sprint_id
        ):
            self.foreign.append(event)
            return
        seq = event["seq"]
        if seq <= self.last_seq:
            self.duplicates.append(seq)
            return
        self.last_seq = seq
        self.events.append(event)

    async def wait_for(self, seq: int, timeout: float) -> None:
        async def caught_up() -> bool:
            return self.last_seq >= seq

        await until(caught_up, timeout, f"follower {self.name} reached seq {seq} (at {self.last_seq})")


def check_followers(followers: list[Follower], expected: list[Stored]) -> dict[str, int]:
    """Each follower got exactly the expected events: same seqs, same event ids, in order, once."""
    want = [e.seq for e in expected]
    ids = {e.seq: e.data["event_id"] for e in expected}
    problems = []
    lost = duplicated = across_tenants = 0
    for f in followers:
        missing = sorted(set(want) - set(f.seqs))
        lost += len(missing)
        duplicated += len(f.duplicates) + len(f.seqs) - len(set(f.seqs))
        across_tenants += sum(1 for e in f.foreign if e.get("tenant_id") != f.tenant_id)
        if f.seqs != want:
            extra = sorted(set(f.seqs) - set(want))
            problems.append(
                f"{f.name}: {len(f.seqs)} events, want {len(want)}; missing {missing[:10]} extra {extra[:10]}"
            )
        if f.duplicates:
            problems.append(f"{f.name}: {len(f.duplicates)} duplicates, e.g. seq {f.duplicates[:5]}")
        if f.foreign:
            problems.append(f"{f.name}: {len(f.foreign)} frames of another tenant or sprint")
        if f.resyncs:
            problems.append(f"{f.name}: asked to resync {f.resyncs[:2]}")
        wrong = [e["seq"] for e in f.events if ids.get(e["seq"]) != e.get("event_id")]
        if wrong:
            problems.append(f"{f.name}: event ids differ from the stream at seqs {wrong[:5]}")
    assert not problems, "\n".join(problems[:20]) + f"\n({len(problems)} problems)"
    return {
        "client_events_checked": sum(len(f.events) for f in followers),
        "clients": len(followers),
        # Counted over every client's frames (a count above 0 has failed the assert above).
        "client_events_lost": lost,
        "client_events_duplicated": duplicated,
        "frames_across_tenants": across_tenants,
        "reconnects": sum(max(0, f.sessions - 1) for f in followers),
    }


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
