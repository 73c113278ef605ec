"""Fault tests: each starts its own stack of real processes (embedded PostgreSQL and NATS, so they can be
killed), injects faults, and records its figures; the session summary prints them all. The helpers live
in `fault_*.py` next to this file."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from sprintboard_devstack.cluster import nats_cluster as start_cluster
from sprintboard_devstack.servers import EmbeddedNats
from sprintboard_devstack.stack import Stack
from sprintboard_devstack.stack import start_stack as start_processes

# importlib import mode does not put test folders on sys.path; the kit is imported by name.
sys.path.insert(0, str(Path(__file__).parent))

from fault_checks import FIGURES

StartStack = Callable[..., Awaitable[Stack]]


def _start(notifiers: int, nats_url: str | None, relay_process: bool, extra_env: dict[str, str]) -> Stack:
    # Never the servers named by DATABASE_URL / NATS_URL: these tests stop and kill their servers.
    stack = Stack(
        nats_url=nats_url, relay_process=relay_process, extra_env={"BACKLOG_ACCESS_LOG": "false", **extra_env}
    )
    return start_processes(stack, notifiers)


@pytest_asyncio.fixture
async def start_stack() -> AsyncIterator[StartStack]:
    """`await start_stack(notifiers=1, nats_url=None, relay_process=False, **env)`: a running stack, stopped
    after the test; with `relay_process` the relay runs alone, as `make up` runs it. Started in a worker
    thread: start-up blocks and runs event loops of its own."""
    stacks: list[Stack] = []

    async def start(
        notifiers: int = 1, nats_url: str | None = None, relay_process: bool = False, **env: str
    ) -> Stack:
        stack = await asyncio.to_thread(_start, notifiers, nats_url, relay_process, env)
        stacks.append(stack)
        return stack

    try:
        yield start
    finally:
        for stack in stacks:
            await asyncio.to_thread(stack.stop)


@pytest.fixture
def nats_cluster() -> Iterator[list[EmbeddedNats]]:
    """Three nats-servers clustered by routes (`sprintboard_devstack.cluster`), started from this thread."""
    with start_cluster(3) as cluster:
        yield cluster.nodes


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not FIGURES:
        return
    terminalreporter.section("fault and abuse figures")
    for test, figures in FIGURES.items():
        line = ", ".join(f"{name}={value}" for name, value in figures.items())
        terminalreporter.write_line(f"{test}: {line}")
    totals: dict[str, int] = {}
    for figures in FIGURES.values():
        for name in ("events_checked", "client_events_checked", "faults_injected", "inputs_tried"):
            if isinstance(figures.get(name), int):
                totals[name] = totals.get(name, 0) + figures[name]
    terminalreporter.write_line("total: " + ", ".join(f"{k}={v}" for k, v in totals.items()))


@pytest.fixture
def test_name(request: pytest.FixtureRequest) -> str:
    return str(request.node.name)
