"""A lean WebSocket client connection: hand-made HTTP upgrade, unmasked server frames parsed by hand."""

from __future__ import annotations

import asyncio
import base64
import os
import time
from collections.abc import Callable
from typing import cast
from urllib.parse import urlsplit

EVENT_MARK = b'"event_id"'
OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING = 0x1, 0x2, 0x8, 0x9


def encode_client_frame(payload: bytes, opcode: int = OP_TEXT) -> bytes:
    """A masked client frame (RFC 6455 §5.3): clients must mask, servers must not."""
    mask = os.urandom(4)
    n = len(payload)
    if n < 126:
        header = bytes((0x80 | opcode, 0x80 | n))
    elif n < 65536:
        header = bytes((0x80 | opcode, 0x80 | 126)) + n.to_bytes(2, "big")
    else:
        header = bytes((0x80 | opcode, 0x80 | 127)) + n.to_bytes(8, "big")
    if not n:
        return header + mask
    key = (mask * (n // 4 + 1))[:n]
    masked = (int.from_bytes(payload, "big") ^ int.from_bytes(key, "big")).to_bytes(n, "big")
    return header + mask + masked


def upgrade_request(url: str, origin: str | None = None) -> bytes:
    """GET with the upgrade headers and no Sec-WebSocket-Extensions: per-message compression stays off."""
    parts = urlsplit(url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    key = base64.b64encode(os.urandom(16)).decode()
    lines = [
        f"GET {path} HTTP/1.1",
        f"Host: {parts.netloc}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}",
        "Sec-WebSocket-Version: 13",
    ]
    if origin:
        lines.append(f"Origin: {origin}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


class Sampler:
    """Keeps (arrival, raw frame) of sampled connections, bounded, for lag and e2e matching afterwards."""

    __slots__ = ("frames", "limit")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.frames: list[tuple[float, bytes]] = []

    def add(self, arrival: float, payload: bytes) -> None:
        if len(self.frames) < self.limit:
            self.frames.append((arrival, payload))


class ClientConnection(asyncio.Protocol):
    """Counts frames and events per connection; events are counted by their `"event_id"` key, so a batch
    frame counts as many events as it carries and control frames count as none."""

    __slots__ = (
        "_buf",
        "_head",
        "_on_ready",
        "_ready_left",
        "closed",
        "error",
        "events",
        "first_frames",
        "frames",
        "last_at",
        "request",
        "sampler",
        "transport",
        "upgraded",
    )

    def __init__(
        self,
        request: bytes,
        first_frames: list[bytes],
        ready_frames: int,
        on_ready: Callable[[ClientConnection], None],
    ) -> None:
        self.request = request
        self.first_frames = first_frames
        self._ready_left = ready_frames
        self._on_ready = on_ready
        self._buf = b""
        self._head = b""
        self.transport: asyncio.Transport | None = None
        self.upgraded = False
        self.closed = False
        self.error: str | None = None
        self.frames = 0
        self.events = 0
        self.last_at = 0.0
        self.sampler: Sampler | None = None

    @property
    def ready(self) -> bool:
        return self.upgraded and self._ready_left <= 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports are not subclasses
        self.transport.write(self.request)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed:
            self.closed = True
            if not self.ready and self.error is None:
                self.error = f"lost before ready: {exc!r}"
                self._on_ready(self)

    def send(self, payload: bytes) -> None:
        if self.transport is not None and not self.closed:
            self.transport.write(encode_client_frame(payload))

    def close(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    def data_received(self, data: bytes) -> None:
        if not self.upgraded:
            data = self._handshake(data)
            if not data:
                return
        if self._buf:
            data = self._buf + data
        self._buf = self._parse(data)

    def _handshake(self, data: bytes) -> bytes:
        self._head += data
        end = self._head.find(b"\r\n\r\n")
        if end < 0:
            if len(self._head) > 16384:
                self._fail("oversized upgrade response")
            return b""
        head, rest = self._head[:end], self._head[end + 4 :]
        self._head = b""
        if not head.startswith(b"HTTP/1.1 101"):
            self._fail(head.split(b"\r\n", 1)[0].decode(errors="replace"))
            return b""
        self.upgraded = True
        for frame in self.first_frames:
            self.send(frame)
        if self._ready_left <= 0:
            self._on_ready(self)
        return rest

    def _fail(self, reason: str) -> None:
        self.error = reason
        self.closed = True
        self._on_ready(self)
        self.close()

    def _parse(self, data: bytes) -> bytes:
        i, n = 0, len(data)
        now = 0.0
        while n - i >= 2:
            b1 = data[i + 1] & 0x7F
            if b1 < 126:
                start = i + 2
            elif b1 == 126:
                if n - i < 4:
                    break
                b1 = int.from_bytes(data[i + 2 : i + 4], "big")
                start = i + 4
            else:
                if n - i < 10:
                    break
                b1 = int.from_bytes(data[i + 2 : i + 10], "big")
                start = i + 10
            end = start + b1
            if end > n:
                break
            op = data[i] & 0x0F
            if op <= OP_BINARY:
                self._frame(data, start, end, now or (now := time.time()))
            elif op == OP_PING and self.transport is not None:
                self.transport.write(encode_client_frame(data[start:end], 0xA))
            elif op == OP_CLOSE:
                self.closed = True
                code = int.from_bytes(data[start : start + 2], "big") if end - start >= 2 else 1005
                self.error = self.error or f"closed by server: {code}"
                if self.transport is not None:
                    self.transport.write(encode_client_frame(data[start : start + 2], OP_CLOSE))
                    self.transport.close()
                if not self.ready:
                    self._on_ready(self)
            i = end
        return data[i:] if i < n else b""

    def _frame(self, data: bytes, start: int, end: int, now: float) -> None:
        if self._ready_left > 0:
            self._ready_left -= 1
            if self._ready_left == 0:
                self._on_ready(self)
            return
        self.frames += 1
        count = data.count(EVENT_MARK, start, end)
        if count:
            self.events += count
            self.last_at = now
            if self.sampler is not None:
                self.sampler.add(now, data[start:end])
