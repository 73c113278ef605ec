"""The unit of work's connection hygiene: no pooled connection is ever left inside a transaction."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

IDLE_IN_TRANSACTION = (
    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
    " AND state LIKE 'idle in transaction%' AND pid <> pg_backend_pid()"
)


async def test_no_connection_is_left_in_a_transaction(
    api: Any, client: Any, tenant: Any, engine: AsyncEngine
) -> None:
    alice, bob = api("alice"), api("bob")
    project_id, story_id, sprint_id, task_id = await alice.board()
    await alice.call("PUT", f"/tasks/{task_id}/ownership")
    await bob.call("POST", f"/tasks/{task_id}/work/start", 403)  # refused after a read
    await alice.call("PATCH", f"/stories/{story_id}", json={"story_points": 9}, expect=422)
    await alice.call(
        "PATCH", f"/stories/{uuid.uuid4()}/status", json={"status": "ready"}, expect=404
    )  # FOR UPDATE miss
    await alice.call(
        "POST", f"/projects/{project_id}/sprints", 409, json={"name": "S", "stories": [story_id]}
    )
    await asyncio.gather(
        *(client.get(f"/api/v1/sprints/{sprint_id}/tasks", headers=tenant.as_("carol")) for _ in range(5))
    )
    async with engine.connect() as conn:
        assert (await conn.execute(text(IDLE_IN_TRANSACTION))).scalar_one() == 0
