"""kill -9 the backlog (its relay runs in-process) in the middle of ~1,000 mutations, then restart it."""

from __future__ import annotations

import asyncio
import signal
from typing import TYPE_CHECKING

import pytest
from fault_checks import check_stack, record
from fault_clients import Driver, User, new_sprint, tally
from fault_stack import task_versions, wait_drained

if TYPE_CHECKING:
    from conftest import StartStack

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

MUTATIONS = 1000
CLIENTS = 10
KILL_AT = (300, 650)  # mutations sent when each kill -9 lands


async def test_every_committed_mutation_has_exactly_one_event(
    start_stack: StartStack, test_name: str
) -> None:
    stack = await start_stack(notifiers=0)
    assert stack.backlog is not None
    users = [User(stack, f"crash-{n}") for n in range(CLIENTS)]
    sprint = await new_sprint(users[0], tasks=2 * CLIENTS)
    baseline = await task_versions(stack)
    driver = Driver({u: sprint.task_ids[2 * n : 2 * n + 2] for n, u in enumerate(users)}).start()
    try:
        for at in KILL_AT:
            await driver.wait_sent(at)
            stack.backlog.stop(signal.SIGKILL)  # mid-request, mid-commit, mid-publish: whatever is in flight
            await asyncio.to_thread(stack.backlog.start)  # same port, same settings
        await driver.wait_sent(MUTATIONS)
    finally:
        await driver.stop()
        for u in users:
            await u.close()

    await wait_drained(stack)
    figures = await check_stack(stack, driver.outcomes, baseline)
    outcomes = tally(driver.outcomes)
    assert not [k for k in outcomes if k not in ("committed", "unknown")], outcomes
    record(test_name, **figures, mutations=driver.sent, outcomes=outcomes, faults_injected=len(KILL_AT))
