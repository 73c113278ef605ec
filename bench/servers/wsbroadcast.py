"""The Python library ceiling: a bare `websockets` server and its `broadcast()`, compression off."""

from __future__ import annotations

import uvloop
from websockets.asyncio.server import ServerConnection, broadcast, serve

from bench.machine import raise_open_files
from bench.servers.control import serve_commands

OPEN: set[ServerConnection] = set()


async def handler(ws: ServerConnection) -> None:
    OPEN.add(ws)
    try:
        await ws.wait_closed()
    finally:
        OPEN.discard(ws)


def send_all(payload: bytes) -> None:
    broadcast(OPEN, payload, text=True)


async def main() -> None:
    async with serve(handler, "127.0.0.1", 0, compression=None, backlog=4096) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        await serve_commands(lambda: len(OPEN), send_all, port)


if __name__ == "__main__":
    raise_open_files()
    uvloop.run(main())
