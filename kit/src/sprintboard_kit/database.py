"""PostgreSQL URLs in the two forms the services need: SQLAlchemy's (asyncpg driver) and asyncpg's own."""

from __future__ import annotations


def sqlalchemy_url(url: str) -> str:
    """`postgresql://` / `postgres://` → `postgresql+asyncpg://` (any driver replaced); only PostgreSQL."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ValueError(f"not a database URL: {url!r}")
    if scheme.split("+")[0] not in ("postgresql", "postgres"):
        raise ValueError(f"only PostgreSQL is supported, got {scheme!r}")
    return f"postgresql+asyncpg://{rest}"


def asyncpg_dsn(url: str) -> str:
    """The libpq form asyncpg itself takes: the driver suffix dropped (`postgresql+asyncpg://` → `postgresql://`)."""
    scheme, _, rest = url.partition("://")
    return f"{scheme.split('+')[0]}://{rest}"
