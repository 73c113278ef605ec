"""Pytest fixtures: the PostgreSQL and NATS URLs every test suite shares (given by env, else embedded)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sprintboard_devstack.servers import nats_server, postgres_server


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
