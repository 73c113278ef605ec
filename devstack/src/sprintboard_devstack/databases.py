"""Throwaway databases on a PostgreSQL server, so tests never touch a database they did not create."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from sprintboard_kit.database import asyncpg_dsn


def with_database(url: str, name: str) -> str:
    """The same server URL pointing at database `name`."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


async def create_database(url: str, prefix: str = "sprintboard_test") -> str:
    """Create a uniquely named database on the server of `url`; return its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return with_database(url, name)


async def drop_database(url: str) -> None:
    """Drop the database of `url`, ending its sessions first."""
    name = urlsplit(url).path.lstrip("/")
    conn = await asyncpg.connect(asyncpg_dsn(with_database(url, "postgres")))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@contextlib.asynccontextmanager
async def fresh_database(url: str, prefix: str = "sprintboard_test") -> AsyncIterator[str]:
    """A new empty database for the duration of the block."""
    db_url = await create_database(url, prefix)
    try:
        yield db_url
    finally:
        with contextlib.suppress(OSError, asyncpg.PostgresError):
            await drop_database(db_url)
