"""The system under test, started once for these modules: by containers or embedded (see environment)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio

from sprintboard_e2e.api import BacklogApi
from sprintboard_e2e.environment import Deployment, running_deployment, select_mode

OTHER_ORG_ID = "other-org"
# Building both images and pulling PostgreSQL, NATS and Python on a cold machine takes minutes; the
# first test pays for it (pytest-timeout counts fixture set-up). Embedded, the stack is up in seconds.
CONTAINERS_TIMEOUT_SECONDS = 1200


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if select_mode() == "containers":
        for item in items:
            if "tests/system/" in item.nodeid:
                item.add_marker(pytest.mark.timeout(CONTAINERS_TIMEOUT_SECONDS))


@pytest.fixture(scope="session")
def deployment() -> Iterator[Deployment]:
    """Two notifier instances, one backlog (API and relay), PostgreSQL and NATS."""
    with running_deployment(notifiers=2) as started:
        yield started


@pytest_asyncio.fixture(scope="session")
async def alice(deployment: Deployment) -> AsyncIterator[BacklogApi]:
    async with BacklogApi(deployment.backlog_url, deployment.token("alice")) as api:
        yield api


@pytest_asyncio.fixture(scope="session")
async def bob(deployment: Deployment) -> AsyncIterator[BacklogApi]:
    """alice's teammate: the same tenant."""
    async with BacklogApi(deployment.backlog_url, deployment.token("bob")) as api:
        yield api


@pytest_asyncio.fixture(scope="session")
async def olga(deployment: Deployment) -> AsyncIterator[BacklogApi]:
    """Someone of another organization: another tenant."""
    async with BacklogApi(deployment.backlog_url, deployment.token("olga", org_id=OTHER_ORG_ID)) as api:
        yield api
