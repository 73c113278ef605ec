"""The reconnect-storm client process: viewers that track seq/epoch and event ids, and reconnect as the board.

Each viewer authenticates (`auth` frame), subscribes to its sprint with `batch: true` and, when its
socket drops, reconnects to the other notifier after the board's back-off (1 s doubling to 30 s, each
wait 75-125 % of it: services/backlog/.../static/live.js) with `resume_from` its last seq and epoch.
Driven by JSON-line commands on stdin, one JSON line back per command.
"""

from __future__ import annotations

import asyncio
import random
import socket
import time
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import orjson
import uvloop

from bench.machine import raise_open_files
from bench.servers.control import answer_commands
from bench.wsproto import ClientConnection, upgrade_request

FIRST_DELAY_S, MAX_DELAY_S, JITTER = 1.0, 30.0, 0.5  # as the board's live.js
IP_BIND_ADDRESS_NO_PORT = 24


class ViewerConnection(ClientConnection):
    """One socket of a viewer: every text frame goes to the viewer, parsed."""

    __slots__ = ("viewer",)

    def __init__(self, request: bytes, first: list[bytes], viewer: Viewer) -> None:
        super().__init__(request, first, 0, lambda _: None)
        self.viewer = viewer

    def _frame(self, data: bytes, start: int, end: int, now: float) -> None:
        self.viewer.on_frame(self, orjson.loads(data[start:end]), now)

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        self.viewer.on_lost(self)


class Viewer:
    """A board's live feed: one sprint, resumed across reconnects; what it received, by event id."""

    def __init__(self, client: StormClient, token: str, sprint: str, sprint_index: int, probe: bool) -> None:
        self.client, self.token, self.sprint, self.sprint_index = client, token, sprint, sprint_index
        self.probe = probe
        self.conn: ViewerConnection | None = None
        self.url = ""
        self.seq: int | None = None
        self.epoch: str | None = None
        self.delay = FIRST_DELAY_S
        self.resuming = False
        self.subscribed_at = 0.0
        self.lost_at = 0.0
        self.resumed_at = 0.0
        self.attempts = 0
        self.resyncs = 0
        self.ids: list[str] = []
        self.lags: list[tuple[float, float]] = []  # (arrival, ms) of a probe's events

    async def open(self, url: str) -> None:
        self.url, self.attempts = url, self.attempts + 1
        parts = urlsplit(url)
        loop = asyncio.get_running_loop()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        auth = orjson.dumps({"type": "auth", "token": self.token})
        conn = ViewerConnection(upgrade_request(url), [auth], self)
        self.conn = conn
        try:
            sock.setsockopt(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.setblocking(False)
            sock.bind((self.client.next_addr(), 0))
            await loop.sock_connect(sock, (parts.hostname or "127.0.0.1", parts.port or 80))
            await loop.create_connection(lambda: conn, sock=sock)
        except OSError:
            sock.close()
            conn.closed = True
            self.on_lost(conn)

    def on_frame(self, conn: ViewerConnection, doc: dict[str, Any], now: float) -> None:
        kind = doc.get("type")
        if kind == "welcome":
            subscribe: dict[str, Any] = {"type": "subscribe", "sprint_id": self.sprint, "batch": True}
            self.resuming = self.seq is not None and self.epoch is not None
            if self.resuming:
                subscribe["resume_from"] = {"seq": self.seq, "epoch": self.epoch}
            else:
                self._adopt(doc.get("seq"), doc.get("epoch"))
            conn.send(orjson.dumps(subscribe))
        elif kind == "subscribed":
            self.delay = FIRST_DELAY_S
            if self.resuming:
                self.resumed_at = now
            else:
                self.subscribed_at = now
        elif kind == "batch":
            self._events(doc.get("events") or [], now)
        elif kind == "resync_required":
            self.resyncs += 1
            self._adopt(doc.get("seq"), doc.get("epoch"))
        elif doc.get("task_id"):
            self._events([doc], now)

    def _adopt(self, seq: Any, epoch: Any) -> None:
        if isinstance(seq, int):
            self.seq = seq
        if isinstance(epoch, str):
            self.epoch = epoch

    def _events(self, events: list[dict[str, Any]], now: float) -> None:
        for e in events:
            if e.get("sprint_id") != self.sprint:
                continue  # before `subscribed` a socket gets its tenant's feed (the board drops those too)
            self.ids.append(e["event_id"])
            seq = e.get("seq")
            if isinstance(seq, int) and (self.seq is None or seq > self.seq):
                self._adopt(seq, e.get("epoch"))
            if self.probe:
                sent = datetime.fromisoformat(e["timestamp"]).timestamp()
                self.lags.append((now, (now - sent) * 1000))

    def on_lost(self, conn: ViewerConnection) -> None:
        if conn is not self.conn or self.client.stopping:
            return
        self.conn = None
        if not self.lost_at or self.resumed_at:
            self.lost_at, self.resumed_at = time.time(), 0.0
        wait = self.delay * (1 - JITTER / 2 + random.random() * JITTER)
        self.delay = min(self.delay * 2, MAX_DELAY_S)
        asyncio.get_running_loop().call_later(wait, self.client.reconnect, self)


class StormClient:
    def __init__(self) -> None:
        self.viewers: list[Viewer] = []
        self.addrs: list[str] = ["127.0.0.1"]
        self._next = 0
        self.fallback = ""  # where a dropped viewer reconnects
        self.stopping = False
        self._tasks: set[asyncio.Task[None]] = set()

    def next_addr(self) -> str:
        self._next += 1
        return self.addrs[self._next % len(self.addrs)]

    def reconnect(self, viewer: Viewer) -> None:
        task = asyncio.get_running_loop().create_task(viewer.open(self.fallback or viewer.url))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def connect(self, cmd: dict[str, Any]) -> dict[str, Any]:
        """Viewers (token, sprint, sprint index) onto `url`; waits until each is subscribed."""
        self.addrs = cmd.get("addrs") or self.addrs
        self.fallback = cmd.get("fallback") or self.fallback
        new = [Viewer(self, t, s, i, bool(cmd.get("probe"))) for t, s, i in cmd["viewers"]]
        self.viewers += new
        limit = asyncio.Semaphore(256)

        async def one(v: Viewer) -> None:
            async with limit:
                await v.open(cmd["url"])
                while not v.subscribed_at and time.monotonic() < deadline:
                    await asyncio.sleep(0.005)

        deadline = time.monotonic() + float(cmd.get("timeout", 60))
        await asyncio.gather(*(one(v) for v in new))
        return {"subscribed": sum(1 for v in new if v.subscribed_at)}

    def status(self, cmd: dict[str, Any]) -> dict[str, Any]:
        dropped = [v for v in self.viewers if v.lost_at]
        reply = {
            "viewers": len(self.viewers),
            "dropped": len(dropped),
            "resumed": sum(1 for v in dropped if v.resumed_at),
            "events": sum(len(v.ids) for v in self.viewers),
            "resyncs": sum(v.resyncs for v in self.viewers),
        }
        # sprint index -> events published to it: a viewer is still owed events while it has fewer and
        # was not told to resync (a replay may wait for a stream reader for a long time, silently).
        counts: dict[str, int] | None = cmd.get("expected_counts")
        if counts is not None:
            reply["owed"] = sum(
                1
                for v in self.viewers
                if not v.resyncs and len(set(v.ids)) < counts.get(str(v.sprint_index), 0)
            )
        return reply

    def report(self, cmd: dict[str, Any]) -> dict[str, Any]:
        """Lost and duplicated per viewer against what was published to its sprint, resume times."""
        # sprint index -> [event id, wall time built] of every event published to it
        expected: dict[str, list[tuple[str, float]]] = cmd["expected"]
        lost = duplicated = lossy = after_resync = holes = 0
        lost_ids: list[str] = []
        # The lost, by when they were built against the viewer's own drop and resume.
        phases = {"before_drop": 0, "while_away": 0, "after_resume": 0}
        for v in self.viewers:
            sent = dict(expected.get(str(v.sprint_index), []))
            got = set(v.ids)
            missing = set(sent) - got
            # After `resync_required` the board reads the sprint over HTTP: a gap it was told of is not
            # lost silently, so it is counted apart.
            if v.resyncs:
                after_resync += len(missing)
            else:
                lost += len(missing)
                lossy += bool(missing)
                # A missing event built before the newest one received is a hole in the feed; the rest
                # were still on their way (a replay in progress, live events held behind it) at the end.
                newest = max((sent[i] for i in got if i in sent), default=0.0)
                holes += sum(1 for i in missing if sent[i] < newest)
                for i in missing:
                    t = sent[i]
                    at = "before_drop" if not v.lost_at or t < v.lost_at else "while_away"
                    phases["after_resume" if v.resumed_at and t >= v.resumed_at else at] += 1
                if missing and len(lost_ids) < 5000:
                    lost_ids += list(missing)[:20]
            duplicated += len(v.ids) - len(got)
        dropped = [v for v in self.viewers if v.lost_at]
        return {
            "lost": lost,
            "lost_ids": lost_ids,  # a sample, to place the losses in time
            "lost_by_phase": phases,
            "lost_in_holes": holes,
            "viewers_with_losses": lossy,
            "missed_after_resync": after_resync,
            "duplicated": duplicated,
            "received": sum(len(v.ids) for v in self.viewers),
            "resume_at": [v.resumed_at for v in dropped if v.resumed_at],
            "lost_at": [v.lost_at for v in dropped],
            "not_resumed": sum(1 for v in dropped if not v.resumed_at),
            "attempts": sum(v.attempts for v in self.viewers),
            "resyncs": sum(v.resyncs for v in self.viewers),
            "probe_lags": [lag for v in self.viewers if v.probe for lag in v.lags],
        }

    def close(self) -> dict[str, Any]:
        self.stopping = True
        for v in self.viewers:
            if v.conn is not None:
                v.conn.close()
        count, self.viewers = len(self.viewers), []
        self.stopping = False
        return {"closed": count}


async def serve() -> None:
    client = StormClient()

    async def handle(cmd: dict[str, Any]) -> dict[str, Any]:
        name = cmd.get("cmd")
        if name == "connect":
            return await client.connect(cmd)
        if name == "status":
            return client.status(cmd)
        if name == "report":
            return client.report(cmd)
        if name == "close":
            return client.close()
        return {"error": f"unknown command {name!r}"}

    await answer_commands({"ready": True}, handle)
    client.close()


def main() -> None:
    raise_open_files()
    uvloop.run(serve())


if __name__ == "__main__":
    main()
