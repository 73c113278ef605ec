"""The load-client process: holds many WebSocket connections, driven by JSON-line commands on stdin."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sys
import time
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import orjson
import uvloop

from bench.machine import raise_open_files
from bench.wsproto import ClientConnection, Sampler, upgrade_request

IP_BIND_ADDRESS_NO_PORT = 24  # Linux: pick the port at connect, so one address serves many destinations
CONNECT_CONCURRENCY = 256


def _target(url: str, origin: str | None) -> tuple[str, int, bytes]:
    """Host, port and upgrade request of a socket URL."""
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or 80, upgrade_request(url, origin)


class LoadClient:
    """One process's share of the sockets; every command answers with one JSON line."""

    def __init__(self) -> None:
        self.conns: list[ClientConnection] = []
        self._ready = 0
        self._ready_event = asyncio.Event()
        self._target = 0
        self._errors: list[str] = []

    def _on_ready(self, conn: ClientConnection) -> None:
        self._ready += 1
        if conn.error and len(self._errors) < 5:
            self._errors.append(conn.error)
        if self._ready >= self._target:
            self._ready_event.set()

    async def _open(
        self, host: str, port: int, addr: str, request: bytes, first: list[bytes], ready: int
    ) -> ClientConnection:
        loop = asyncio.get_running_loop()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.setblocking(False)
            sock.bind((addr, 0))
            await loop.sock_connect(sock, (host, port))
        except OSError as exc:
            sock.close()
            conn = ClientConnection(request, first, ready, self._on_ready)
            conn.closed, conn.error = True, f"connect: {exc!r}"
            self.conns.append(conn)
            self._on_ready(conn)
            return conn
        conn = ClientConnection(request, first, ready, self._on_ready)
        self.conns.append(conn)
        await loop.create_connection(lambda: conn, sock=sock)
        return conn

    async def connect(self, cmd: dict[str, Any]) -> dict[str, Any]:
        url: str = cmd["url"]
        count: int = cmd["count"]
        addrs: list[str] = cmd["addrs"]
        first = [f.encode() for f in cmd.get("first_frames", [])]
        # Per-socket first frames (socket i sends each[i % len]): tokens of many tenants.
        each = [[f.encode() for f in frames] for frames in cmd.get("first_frames_each") or []]
        ready = int(cmd.get("ready_frames", 0))
        # Per-socket URLs (socket i opens urls[i % len]): a query string per tenant, or another server.
        urls: list[str] = cmd.get("urls_each") or [url]
        targets = {u: _target(u, cmd.get("origin")) for u in set(urls)}
        started = time.monotonic()
        self._target = len(self.conns) + count
        self._ready_event.clear()
        limit = asyncio.Semaphore(CONNECT_CONCURRENCY)

        async def one(i: int) -> None:
            async with limit:
                frames = each[i % len(each)] if each else first
                host, port, request = targets[urls[i % len(urls)]]
                conn = await self._open(host, port, addrs[i % len(addrs)], request, frames, ready)
                # Keep at most CONNECT_CONCURRENCY upgrades in flight, not just TCP connects.
                while not (conn.ready or conn.closed) and time.monotonic() - started < 30:
                    await asyncio.sleep(0.002)

        await asyncio.gather(*(one(i) for i in range(count)))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._ready_event.wait(), cmd.get("timeout", 60))
        live = [c for c in self.conns if c.ready and not c.closed]
        return {
            "open": len(live),
            "failed": len(self.conns) - len(live),
            "errors": self._errors[:5],
            "seconds": time.monotonic() - started,
        }

    def reset(self, cmd: dict[str, Any]) -> dict[str, Any]:
        every = max(1, int(cmd.get("sample_every", 0)) or 10**9)
        limit = int(cmd.get("sample_limit", 20000))
        for i, c in enumerate(self.conns):
            c.frames = c.events = 0
            c.last_at = 0.0
            c.sampler = Sampler(limit) if i % every == 0 else None
        return self.stats()

    def stats(self) -> dict[str, Any]:
        live = [c for c in self.conns if not c.closed]
        events = [c.events for c in live]
        closes: dict[str, int] = {}
        for c in self.conns:
            if c.closed and c.error:
                closes[c.error] = closes.get(c.error, 0) + 1
        return {
            "open": len(live),
            "closed": len(self.conns) - len(live),
            "close_reasons": dict(sorted(closes.items(), key=lambda kv: -kv[1])[:5]),
            "frames": sum(c.frames for c in self.conns),
            "events": sum(c.events for c in self.conns),
            "min_events": min(events) if events else 0,
            "last_at": max((c.last_at for c in self.conns), default=0.0),
        }

    async def wait(self, cmd: dict[str, Any]) -> dict[str, Any]:
        """Until every open connection has `events` events, or `timeout`; then the stats."""
        want, deadline = int(cmd["events"]), time.monotonic() + float(cmd.get("timeout", 10))
        while time.monotonic() < deadline:
            if all(c.events >= want for c in self.conns if not c.closed):
                break
            await asyncio.sleep(0.005)
        return self.stats()

    def samples(self, cmd: dict[str, Any]) -> dict[str, Any]:
        """Per sampled event: lag in ms (arrival minus `timestamp`), and arrivals by task version if asked."""
        lags: list[float] = []
        arrivals: list[tuple[str, float]] = []
        want_arrivals = bool(cmd.get("arrivals"))
        for c in self.conns:
            if c.sampler is None:
                continue
            for arrival, raw in c.sampler.frames:
                with contextlib.suppress(ValueError, TypeError, KeyError):
                    doc = orjson.loads(raw)
                    for event in doc["events"] if doc.get("type") == "batch" else [doc]:
                        sent = datetime.fromisoformat(event["timestamp"]).timestamp()
                        lags.append((arrival - sent) * 1000)
                        if want_arrivals:
                            arrivals.append((f"{event.get('task_id')}:{event.get('task_version')}", arrival))
        sampled = sum(1 for c in self.conns if c.sampler is not None and not c.closed)
        return {"lags_ms": lags, "arrivals": arrivals, "sampled": sampled}

    def close(self) -> dict[str, Any]:
        for c in self.conns:
            c.close()
        count, self.conns = len(self.conns), []
        return {"closed": count}


async def serve() -> None:
    client = LoadClient()
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 26)  # a connect command carries thousands of tokens
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    out = sys.stdout.buffer
    out.write(orjson.dumps({"ready": True}) + b"\n")
    out.flush()
    while line := await reader.readline():
        cmd = orjson.loads(line)
        name = cmd.get("cmd")
        try:
            if name == "connect":
                reply = await client.connect(cmd)
            elif name == "reset":
                reply = client.reset(cmd)
            elif name == "stats":
                reply = client.stats()
            elif name == "wait":
                reply = await client.wait(cmd)
            elif name == "samples":
                reply = client.samples(cmd)
            elif name == "close":
                reply = client.close()
            elif name == "quit":
                client.close()
                break
            else:
                reply = {"error": f"unknown command {name!r}"}
        except Exception as exc:
            reply = {"error": repr(exc)}
        out.write(orjson.dumps(reply) + b"\n")
        out.flush()
    await asyncio.sleep(0.05)


def main() -> None:
    raise_open_files()
    uvloop.run(serve())


if __name__ == "__main__":
    main()
