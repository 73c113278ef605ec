"""The two forms of a PostgreSQL URL."""

from __future__ import annotations

import pytest

from sprintboard_kit.database import asyncpg_dsn, sqlalchemy_url


def test_sqlalchemy_url_sets_the_asyncpg_driver() -> None:
    assert sqlalchemy_url("postgresql://u@h/db") == "postgresql+asyncpg://u@h/db"
    assert sqlalchemy_url("postgres://u@h/db") == "postgresql+asyncpg://u@h/db"
    assert sqlalchemy_url("postgresql+psycopg://u@h/db") == "postgresql+asyncpg://u@h/db"
    with pytest.raises(ValueError, match="only PostgreSQL"):
        sqlalchemy_url("sqlite://x")
    with pytest.raises(ValueError, match="not a database URL"):
        sqlalchemy_url("u@h/db")


def test_asyncpg_dsn_drops_the_driver_only() -> None:
    assert (
        asyncpg_dsn("postgresql+asyncpg://u:p@h:5432/db?sslmode=require")
        == "postgresql://u:p@h:5432/db?sslmode=require"
    )
    assert asyncpg_dsn("postgres://u@h/db") == "postgres://u@h/db"
