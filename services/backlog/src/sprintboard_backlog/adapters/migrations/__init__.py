"""Alembic migrations of the backlog schema and `upgrade(database_url)` to apply them from Python."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

from alembic import command
from alembic.config import Config

HERE = Path(__file__).resolve().parent
# Alembic's `context` is process-global: one migration run per process at a time (other processes wait
# on the advisory lock in env.py).
_IN_PROCESS = threading.Lock()


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(HERE))
    config.set_main_option("path_separator", "os")
    config.attributes["database_url"] = database_url
    return config


def upgrade_sync(database_url: str, revision: str = "head") -> None:
    """Migrate to `revision`; blocking (env.py runs its own event loop), so never call it inside one."""
    with _IN_PROCESS:
        command.upgrade(alembic_config(database_url), revision)


async def upgrade(database_url: str, revision: str = "head") -> None:
    """Migrate to `revision` from async code (in a worker thread, since alembic runs its own loop).
    Concurrent callers are serialized by an advisory lock, so several instances may start at once."""
    await asyncio.to_thread(upgrade_sync, database_url, revision)
