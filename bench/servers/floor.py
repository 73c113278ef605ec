"""The floor: a bare uvloop protocol that upgrades by hand and writes one pre-built frame per socket."""

from __future__ import annotations

import asyncio
import base64
import hashlib
from typing import cast

import uvloop

from bench.machine import raise_open_files
from bench.servers.control import serve_commands

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
OPEN: set[asyncio.Transport] = set()


def frame(payload: bytes) -> bytes:
    """An unmasked text frame, built once and written to every socket."""
    n = len(payload)
    if n < 126:
        return bytes((0x81, n)) + payload
    if n < 65536:
        return bytes((0x81, 126)) + n.to_bytes(2, "big") + payload
    return bytes((0x81, 127)) + n.to_bytes(8, "big") + payload


class Upgrade(asyncio.Protocol):
    """Answers the HTTP upgrade, then only watches for the peer going away (client frames are ignored)."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.head = b""
        self.open = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports are not subclasses

    def data_received(self, data: bytes) -> None:
        if self.open or self.transport is None:
            if data and data[0] & 0x0F == 0x8 and self.transport is not None:
                self.transport.close()
            return
        self.head += data
        if b"\r\n\r\n" not in self.head:
            return
        key = b""
        for line in self.head.split(b"\r\n"):
            if line.lower().startswith(b"sec-websocket-key:"):
                key = line.split(b":", 1)[1].strip()
        accept = base64.b64encode(hashlib.sha1(key + GUID).digest())
        self.transport.write(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n"
        )
        self.open = True
        OPEN.add(self.transport)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.transport is not None:
            OPEN.discard(self.transport)


def broadcast(payload: bytes) -> None:
    data = frame(payload)
    for transport in OPEN:
        transport.write(data)


async def main() -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Upgrade, "127.0.0.1", 0, backlog=4096)
    port = server.sockets[0].getsockname()[1]
    await serve_commands(lambda: len(OPEN), broadcast, port)
    server.close()


if __name__ == "__main__":
    raise_open_files()
    uvloop.run(main())
