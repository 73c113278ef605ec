"""The stack under fault: deadline waits, the database's truth (tasks, outbox), the stream as stored."""

from __future__ import annotations

import contextlib
from typing import Any

import asyncpg
import nats

from sprintboard_contracts.subjects import STREAM_NAME
from sprintboard_devstack import stream_reader as reader
from sprintboard_devstack.stack import Stack
from sprintboard_devstack.stream_reader import StoredEvent
from sprintboard_e2e.waiting import until
from sprintboard_kit.database import asyncpg_dsn
from sprintboard_kit.stream import stream_epoch


def servers(stack: Stack) -> list[str]:
    assert stack.nats_url is not None
    return [url.strip() for url in stack.nats_url.split(",") if url.strip()]


async def db_fetch(stack: Stack, sql: str, *args: Any) -> list[asyncpg.Record]:
    assert stack.database_url is not None
    conn = await asyncpg.connect(asyncpg_dsn(stack.database_url), timeout=5)
    try:
        return list(await conn.fetch(sql, *args))
    finally:
        await conn.close()


async def pending_outbox(stack: Stack) -> int:
    rows = await db_fetch(stack, "SELECT count(*) AS n FROM outbox WHERE published_at IS NULL")
    return int(rows[0]["n"])


async def wait_drained(stack: Stack, timeout: float = 30.0) -> None:
    """Every committed outbox row published and marked."""

    async def drained() -> bool:
        with contextlib.suppress(OSError, asyncpg.PostgresError):
            return await pending_outbox(stack) == 0
        return False

    await until(drained, timeout, "the outbox drained (published_at set on every row)", every=0.1)


async def task_versions(stack: Stack) -> dict[str, int]:
    rows = await db_fetch(stack, "SELECT id, version FROM tasks")
    return {str(r["id"]): int(r["version"]) for r in rows}


async def outbox_event_ids(stack: Stack) -> set[str]:
    return {str(r["event_id"]) for r in await db_fetch(stack, "SELECT event_id FROM outbox")}


Stored = StoredEvent


async def read_stream(nats_servers: list[str]) -> list[Stored]:
    """Every stored message in order, asked of the stream leader (not a replica that may lag behind)."""
    return await reader.read_stream(nats_servers, from_leader=True)


async def stream_position(nats_servers: list[str]) -> tuple[int, str]:
    """The stream's last sequence and epoch: where a client that has seen everything so far resumes."""
    nc = await nats.connect(nats_servers, connect_timeout=2)
    try:
        info = await nc.jetstream(timeout=5).stream_info(STREAM_NAME)
        return info.state.last_seq, stream_epoch(info)
    finally:
        await nc.close()
