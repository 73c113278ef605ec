"""The ingest floors: a bare nats-py ordered consumer that only decodes each event, or also writes it.

`consume` reads stored (or live) events with one check per message; the check `decode_event+write` also
writes each event as one WebSocket text frame to its tenant's socket, on sockets this process accepted
after `listen` (the hand-written upgrade of `floor.py`): what one socket write costs with nothing else.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import nats
import orjson
import uvloop
from nats.aio.msg import Msg
from nats.js.api import ConsumerConfig, DeliverPolicy

from bench.machine import raise_open_files
from bench.servers.control import answer_commands
from bench.servers.floor import OPEN, Upgrade, frame
from sprintboard_contracts.events import parse_event
from sprintboard_contracts.subjects import ALL_TASK_EVENTS, STREAM_NAME
from sprintboard_contracts.wire import decode_event

WRITE = "decode_event+write"

# What each message costs on top of receiving it: nothing but JSON, the fast contract check, or pydantic's.
CHECKS: dict[str, Callable[[bytes], Any]] = {
    "orjson": orjson.loads,
    "decode_event": decode_event,
    "parse_event": lambda data: parse_event(orjson.loads(data)),
}
SERVERS: list[asyncio.AbstractServer] = []


def writer() -> Callable[[bytes], None]:
    """decode_event, then one unmasked text frame of the event to its tenant's socket: the sockets open
    now, given to the tenants in the order they are first seen (one each while there are enough)."""
    sockets = list(OPEN)
    if not sockets:
        raise RuntimeError("no socket is open: `listen`, then connect the sockets first")
    by_tenant: dict[str, asyncio.Transport] = {}

    def write(data: bytes) -> None:
        tenant = decode_event(data).tenant_id
        transport = by_tenant.get(tenant)
        if transport is None:
            transport = by_tenant[tenant] = sockets[len(by_tenant) % len(sockets)]
        transport.write(frame(data))

    return write


async def consume(url: str, from_seq: int, count: int, check: str, timeout: float) -> dict[str, Any]:
    """Read `count` messages from `from_seq` on (stored, or live as they come), as an ordered consumer
    with a callback."""
    decode = writer() if check == WRITE else CHECKS[check]
    nc = await nats.connect(url, name="sprintboard-bench-floor")
    seen = 0
    done = asyncio.Event()

    async def on_msg(msg: Msg) -> None:
        nonlocal seen
        decode(msg.data)
        seen += 1
        if seen >= count:
            done.set()

    cpu0, wall0 = time.process_time(), time.monotonic()
    try:
        config = ConsumerConfig(
            deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=from_seq, mem_storage=True
        )
        sub = await nc.jetstream().subscribe(
            ALL_TASK_EVENTS, stream=STREAM_NAME, cb=on_msg, ordered_consumer=True, config=config
        )
        try:
            await asyncio.wait_for(done.wait(), timeout)
        finally:
            await sub.unsubscribe()
    finally:
        await nc.close()
    cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
    return {"events": seen, "cpu_us_per_event": round(cpu * 1e6 / max(1, seen), 2), "seconds": round(wall, 2)}


async def listen() -> dict[str, Any]:
    """Accept WebSocket upgrades on 127.0.0.1 (any path) from now on; the port."""
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Upgrade, "127.0.0.1", 0, backlog=4096)
    SERVERS.append(server)
    return {"port": server.sockets[0].getsockname()[1]}


async def handle(cmd: dict[str, Any]) -> dict[str, Any]:
    name = cmd.get("cmd")
    if name == "listen":
        return await listen()
    if name == "count":
        return {"connections": len(OPEN)}
    if name != "consume":
        return {"error": f"unknown command {name!r}"}
    return await consume(
        cmd["nats_url"], int(cmd["from_seq"]), int(cmd["count"]), cmd["check"], float(cmd["timeout"])
    )


if __name__ == "__main__":
    raise_open_files()
    uvloop.run(answer_commands({"ready": True}, handle))
