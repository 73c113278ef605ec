"""The ingest floor: a bare nats-py ordered consumer that only decodes each stored event (one process)."""

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

from bench.servers.control import answer_commands
from sprintboard_contracts.events import parse_event
from sprintboard_contracts.subjects import ALL_TASK_EVENTS, STREAM_NAME
from sprintboard_contracts.wire import decode_event

# What each message costs on top of receiving it: nothing but JSON, the fast contract check, or pydantic's.
CHECKS: dict[str, Callable[[bytes], Any]] = {
    "orjson": orjson.loads,
    "decode_event": decode_event,
    "parse_event": lambda data: parse_event(orjson.loads(data)),
}


async def consume(url: str, from_seq: int, count: int, check: str, timeout: float) -> dict[str, Any]:
    """Read `count` stored messages from `from_seq` on, as an ordered consumer with a callback."""
    decode = CHECKS[check]
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


async def handle(cmd: dict[str, Any]) -> dict[str, Any]:
    if cmd.get("cmd") != "consume":
        return {"error": f"unknown command {cmd.get('cmd')!r}"}
    return await consume(
        cmd["nats_url"], int(cmd["from_seq"]), int(cmd["count"]), cmd["check"], float(cmd["timeout"])
    )


if __name__ == "__main__":
    uvloop.run(answer_commands({"ready": True}, handle))
