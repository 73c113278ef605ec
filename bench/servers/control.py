"""The control loop shared by the Python baselines: `count`, and `send` E events at a rate or flat out."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from bench.servers.payload import message


async def pace(
    broadcast: Callable[[bytes], None], events: int, rate: float, size: int, batch: int
) -> dict[str, Any]:
    """Send `events` events in messages of `batch`; `rate` events/s (0 = as fast as possible)."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    sent = 0
    behind = 0.0
    while sent < events:
        k = min(batch, events - sent)
        if rate > 0:
            due = start + sent / rate
            now = loop.time()
            if due > now:
                await asyncio.sleep(due - now)
            else:
                behind = max(behind, now - due)
                await asyncio.sleep(0)
        else:
            await asyncio.sleep(0)  # let reads and write completions in between events
        broadcast(message(sent, size, k))
        sent += k
    return {"sent": sent, "seconds": loop.time() - start, "behind_ms": round(behind * 1000, 1)}


async def answer_commands(
    hello: dict[str, Any], handle: Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]
) -> None:
    """Print the ready line, then answer one JSON line per command until stdin closes or `quit`."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 26)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    out = sys.stdout.buffer
    out.write(orjson.dumps(hello) + b"\n")
    out.flush()
    while line := await reader.readline():
        cmd = orjson.loads(line)
        if cmd.get("cmd") == "quit":
            break
        try:
            reply = await handle(cmd)
        except Exception as exc:
            reply = {"error": repr(exc)}
        out.write(orjson.dumps(reply) + b"\n")
        out.flush()


async def serve_commands(count: Callable[[], int], broadcast: Callable[[bytes], None], port: int) -> None:
    """The baselines' commands: `count` connections, `send` events."""

    async def handle(cmd: dict[str, Any]) -> dict[str, Any]:
        name = cmd.get("cmd")
        if name == "count":
            return {"connections": count()}
        if name == "send":
            return await pace(
                broadcast, int(cmd["events"]), float(cmd.get("rate", 0)), int(cmd["size"]), int(cmd["batch"])
            )
        return {"error": f"unknown command {name!r}"}

    await answer_commands({"ready": True, "port": port}, handle)
