"""The raw-SQL baseline: the backlog's take/start/pause/release transactions driven straight by asyncpg."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg

from bench.events import subject_of, task_event
from bench.mutations import Record

# The statements the backlog's task repository and unit of work issue (SQLAlchemy Core), written out.
TAKE = """
UPDATE tasks SET status = 'owned', owner_user_id = $3, owned_at = $4, updated_at = $4,
  version = tasks.version + 1
FROM stories
WHERE tasks.id = $1 AND tasks.tenant_id = $2 AND tasks.status = 'available'
  AND stories.id = tasks.story_id AND stories.deleted_at IS NULL
RETURNING tasks.version, tasks.project_id, tasks.story_id, stories.sprint_id
"""
GET_FOR_UPDATE = """
SELECT tasks.*, stories.sprint_id FROM tasks JOIN stories ON stories.id = tasks.story_id
WHERE tasks.tenant_id = $1 AND stories.deleted_at IS NULL AND tasks.id = $2
FOR UPDATE OF tasks
"""
UPDATE = """
UPDATE tasks SET title = $3, description = $4, acceptance_criteria_refs = $5, status = $6, owner_user_id = $7,
  estimated_hours = $8, updated_at = $9, owned_at = $10, completed_at = $11, version = $12
WHERE id = $1 AND tenant_id = $2 AND version = $12 - 1
"""
OUTBOX = "INSERT INTO outbox (event_id, task_id, subject, payload) VALUES ($1, $2, $3, $4)"


async def _take(conn: asyncpg.Connection, tenant: str, task_id: uuid.UUID, user: uuid.UUID) -> None:
    async with conn.transaction():
        row = await conn.fetchrow(TAKE, task_id, tenant, user, datetime.now(UTC))
        if row is None:
            raise RuntimeError("not available")
        await _outbox(conn, "taken", tenant, task_id, user, row, "available", "owned")


async def _change(
    conn: asyncpg.Connection, tenant: str, task_id: uuid.UUID, user: uuid.UUID, to: str
) -> None:
    async with conn.transaction():
        row = await conn.fetchrow(GET_FOR_UPDATE, tenant, task_id)
        if row is None:
            raise RuntimeError("missing")
        now = datetime.now(UTC)
        releasing = to == "available"
        version = row["version"] + 1
        await conn.execute(
            UPDATE,
            task_id,
            tenant,
            row["title"],
            row["description"],
            row["acceptance_criteria_refs"],
            to,
            None if releasing else row["owner_user_id"],
            None if releasing else row["estimated_hours"],
            now,
            None if releasing else row["owned_at"],
            row["completed_at"],
            version,
        )
        fields = {"version": version, "project_id": row["project_id"], "story_id": row["story_id"]}
        kind = "released" if releasing else "status"
        await _outbox(
            conn, kind, tenant, task_id, user, {**fields, "sprint_id": row["sprint_id"]}, row["status"], to
        )


async def _outbox(
    conn: asyncpg.Connection,
    kind: str,
    tenant: str,
    task_id: uuid.UUID,
    user: uuid.UUID,
    row: Any,
    old: str,
    new: str,
) -> None:
    event_id, body = task_event(
        kind,
        tenant_id=tenant,
        project_id=row["project_id"],
        sprint_id=row["sprint_id"],
        story_id=row["story_id"],
        task_id=task_id,
        version=row["version"],
        user_id=user,
        old_status=old,
        new_status=new,
    )
    subject = subject_of(tenant, row["project_id"], row["sprint_id"], kind)
    await conn.execute(OUTBOX, uuid.UUID(event_id), task_id, subject, body.decode())


STEPS = (("take", None), ("start", "inprogress"), ("pause", "owned"), ("release", "available"))


async def drive_sql(
    dsn: str, tenant: str, user: uuid.UUID, task_ids: list[str], seconds: float
) -> tuple[Record, float]:
    """One pooled connection per task, closed loop, the same cycle as over HTTP."""
    record = Record()
    pool = await asyncpg.create_pool(dsn, min_size=len(task_ids), max_size=len(task_ids))
    started = time.monotonic()
    until = started + seconds

    async def worker(task: uuid.UUID) -> None:
        async with pool.acquire() as conn:
            while time.monotonic() < until:
                for kind, to in STEPS:
                    t0 = time.perf_counter()
                    try:
                        if to is None:
                            await _take(conn, tenant, task, user)
                        else:
                            await _change(conn, tenant, task, user, to)
                    except (RuntimeError, asyncpg.PostgresError) as exc:
                        record.fail(f"{kind}: {exc}"[:80])
                        await _change(conn, tenant, task, user, "available")
                        break
                    record.ok(kind, time.perf_counter() - t0)

    try:
        await asyncio.gather(*(worker(uuid.UUID(t)) for t in task_ids))
    finally:
        await pool.close()
    return record, time.monotonic() - started
