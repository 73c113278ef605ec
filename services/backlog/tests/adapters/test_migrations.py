"""Migrations: `upgrade` builds the schema, is idempotent, and concurrent runs serialize."""

from __future__ import annotations

import asyncio

import asyncpg

from sprintboard_backlog.adapters.migrations import upgrade
from sprintboard_devstack.databases import fresh_database
from sprintboard_kit.database import asyncpg_dsn


async def test_concurrent_and_repeated_upgrades(postgres_url: str) -> None:
    async with fresh_database(postgres_url, prefix="backlog_migrations") as url:
        await asyncio.gather(upgrade(url), upgrade(url))
        await upgrade(url)
        conn = await asyncpg.connect(asyncpg_dsn(url))
        try:
            tables = {
                r["tablename"]
                for r in await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            }
            version = await conn.fetchval("SELECT version_num FROM alembic_version")
        finally:
            await conn.close()
    assert {"users", "projects", "sprints", "stories", "tasks", "outbox", "idempotency_keys"} <= tables
    assert version == "0002_idempotency_keys"
