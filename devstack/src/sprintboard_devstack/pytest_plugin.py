"""Pytest fixtures: the PostgreSQL and NATS URLs every test suite shares (given by env, else embedded)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sprintboard_devstack.servers import EmbeddedNats, nats_server, older_nats_binary, postgres_server
from sprintboard_kit.stream import MINIMUM_SERVER_VERSION


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A PostgreSQL server URL (`DATABASE_URL`, else an embedded server for the test session)."""
    with postgres_server() as url:
        yield url


@pytest.fixture(scope="session")
def nats_url() -> Iterator[str]:
    """A NATS JetStream URL (`NATS_URL`, else an embedded server for the test session)."""
    with nats_server() as url:
        yield url


@pytest.fixture(scope="session")
def too_old_nats_url() -> Iterator[str]:
    """A NATS older than the stack runs on (the OS's 2.9, say), started for the session; skips without one."""
    binary = older_nats_binary(MINIMUM_SERVER_VERSION)
    if binary is None:
        pytest.skip("no nats-server older than the minimum on this machine")
    server = EmbeddedNats(binary=binary).start()
    try:
        yield server.url
    finally:
        server.cleanup()
