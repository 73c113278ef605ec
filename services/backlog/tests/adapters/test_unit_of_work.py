"""The unit of work's connection hygiene: no pooled connection is ever left inside a transaction."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from sprintboard_backlog.adapters.engine import is_database_unavailable
from sprintboard_backlog.adapters.unit_of_work import SqlUnitOfWorkFactory
from sprintboard_backlog.domain.project import Project
from sprintboard_backlog.domain.user import Actor

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


async def test_a_connection_that_failed_mid_statement_is_never_reused(engine: AsyncEngine) -> None:
    """Found by the PostgreSQL restart fault test: a statement run on the driver and cut off by the server
    going away left its connection mid-protocol; back in the pool, the next request got a 500."""
    uow = SqlUnitOfWorkFactory(engine)()
    raw = None
    try:
        async with uow:
            raw = uow.transaction.driver
            raise ConnectionResetError(104, "the server went away")
    except ConnectionResetError:
        pass
    assert raw is not None and raw.is_closed(), "the connection went back to the pool"
    async with uow:  # the pool still serves healthy connections
        assert uow.transaction.driver is not raw
        assert await uow.transaction.driver.fetchval("SELECT 1") == 1


async def test_a_connection_the_server_closed_under_a_statement_is_an_outage(engine: AsyncEngine) -> None:
    """Found by the PostgreSQL restart fault test: a shutdown's FATAL reaching an idle pooled connection
    made the next statement fail with an InternalClientError (a 500); it is the database going away."""
    uow = SqlUnitOfWorkFactory(engine)()
    with pytest.raises(ConnectionResetError) as raised:
        async with uow:
            uow.transaction.driver.terminate()  # what the server's FATAL and EOF leave behind
            raise asyncpg.exceptions.InternalClientError("cannot switch to state 12")
    assert isinstance(raised.value.__cause__, asyncpg.exceptions.InternalClientError)
    assert is_database_unavailable(raised.value)


class Refused(Exception):
    pass


async def test_inside_single_transaction_a_block_left_uncommitted_undoes_only_its_own_writes(
    engine: AsyncEngine,
) -> None:
    """The enclosing transaction of an idempotent request: a block that fails after writing (its savepoint
    rolled back) leaves the blocks before it and the enclosing transaction intact; all commit at its end."""
    org = f"org-{uuid.uuid4().hex[:8]}"
    who = Actor(user_id=uuid.uuid4(), tenant_id=org, org_id=org)
    kept, undone, after = (Project.create(who, name, None, datetime.now(UTC)) for name in "KUA")
    uow = SqlUnitOfWorkFactory(engine)()
    async with uow.single_transaction():
        async with uow:
            await uow.projects.add(kept)
            await uow.commit()
        with pytest.raises(Refused):
            async with uow:
                await uow.projects.add(undone)  # written at once, inside the block's savepoint
                raise Refused()
        async with uow:
            await uow.projects.add(after)
            await uow.commit()
        async with engine.connect() as other:  # nothing is visible before the enclosing transaction ends
            assert (
                await other.execute(text(f"SELECT count(*) FROM projects WHERE tenant_id = '{org}'"))
            ).scalar_one() == 0
    async with uow:
        assert [p.name for p in await uow.projects.all(org)] == ["K", "A"]
