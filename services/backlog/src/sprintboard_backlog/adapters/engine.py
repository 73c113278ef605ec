"""The async SQLAlchemy engine (asyncpg), sized for many short transactions."""

from __future__ import annotations

import asyncpg
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from sprintboard_kit.database import sqlalchemy_url

# What an unreachable database looks like from here: refused, reset or timed-out connections (OSError),
# connections lost or refused by the server, a server shutting down or starting up, a pool with no
# connection free in time. Anything else (a constraint, a syntax error) is a bug, not an outage.
_UNAVAILABLE: tuple[type[BaseException], ...] = (
    OSError,
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CrashShutdownError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.TooManyConnectionsError,
    PoolTimeout,
)


def create_engine(url: str, *, pool_size: int = 20, max_overflow: int = 10) -> AsyncEngine:
    """An engine; nothing connects until the first use."""
    return create_async_engine(
        sqlalchemy_url(url),
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_timeout=10,
        pool_recycle=1800,
        # Units of work end their own transactions (and discard a connection they could not end), so the
        # pool need not send a ROLLBACK with every check-in.
        pool_reset_on_return=None,
        connect_args={"server_settings": {"application_name": "sprintboard-backlog", "jit": "off"}},
    )


def is_database_unavailable(exc: BaseException) -> bool:
    """True when `exc` (or what it wraps) says the database cannot be reached right now."""
    pending: list[BaseException | None] = [exc]
    for _ in range(8):  # SQLAlchemy wraps the driver's error, which may wrap the socket's
        if not pending:
            break
        current = pending.pop()
        if current is None:
            continue
        if isinstance(current, _UNAVAILABLE):
            return True
        if isinstance(current, asyncpg.InterfaceError) and "connection is closed" in str(current):
            return True
        if isinstance(current, DBAPIError) and current.connection_invalidated:
            return True
        pending.extend((getattr(current, "orig", None), current.__cause__))
    return False
