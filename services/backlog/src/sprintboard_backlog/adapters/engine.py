"""The async SQLAlchemy engine (asyncpg), sized for many short transactions."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine


def async_url(url: str) -> str:
    """`postgresql://` / `postgres://` → `postgresql+asyncpg://`; other drivers are replaced too."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ValueError(f"not a database URL: {url!r}")
    if scheme.split("+")[0] not in ("postgresql", "postgres"):
        raise ValueError(f"only PostgreSQL is supported, got {scheme!r}")
    return f"postgresql+asyncpg://{rest}"


def plain_url(url: str) -> str:
    """The libpq form (`postgresql://`) for asyncpg itself."""
    return "postgresql://" + url.partition("://")[2]


def create_engine(url: str, *, pool_size: int = 10, max_overflow: int = 10) -> AsyncEngine:
    """An engine; nothing connects until the first use."""
    return create_async_engine(
        async_url(url),
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_timeout=10,
        pool_recycle=1800,
        # Units of work end their own transactions (and discard a connection they could not end), so the
        # pool need not send a ROLLBACK with every check-in.
        pool_reset_on_return=None,
        connect_args={"server_settings": {"application_name": "sprintboard-backlog", "jit": "off"}},
    )
