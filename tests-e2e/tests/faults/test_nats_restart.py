"""Stop NATS mid-stream, once cleanly (SIGTERM) and once with kill -9, then start it on the same storage."""

from __future__ import annotations

import asyncio
import signal
from typing import TYPE_CHECKING

import pytest
from fault_boards import check_followers
from fault_checks import check_stack, record
from fault_clients import Driver, User, new_sprint
from fault_stack import (
    pending_outbox,
    read_stream,
    servers,
    stream_position,
    task_versions,
    until,
    wait_drained,
)

from sprintboard_e2e.following import Follower, following

if TYPE_CHECKING:
    from conftest import StartStack

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


async def test_nothing_is_lost_or_duplicated_across_nats_restarts(
    start_stack: StartStack, test_name: str
) -> None:
    stack = await start_stack(notifiers=1)
    assert stack.nats is not None and stack.seed is not None
    nats = stack.nats
    users = [User(stack, f"nats-{n}") for n in range(4)]
    sprint = await new_sprint(users[0], tasks=8)
    baseline = await task_versions(stack)
    await wait_drained(stack)
    position = await stream_position(servers(stack))
    ws_url = f"ws://{stack.host}:{stack.notifiers[0].port}/api/v1/ws/tasks"
    followers = [
        Follower(
            f"board-{n}",
            [ws_url],
            users[n].token,
            stack.seed.org_id,
            sprint.sprint_id,
            position,
            batch=n == 1,
        )
        for n in range(2)
    ]
    driver = Driver({u: sprint.task_ids[2 * n : 2 * n + 2] for n, u in enumerate(users)}, pace=0.005)
    async with following(followers):
        driver.start()
        try:
            for sig in (signal.SIGTERM, signal.SIGKILL):
                await driver.wait_sent(driver.sent + 100)
                await asyncio.to_thread(nats.stop, sig)
                # Changes keep committing while NATS is away: they wait in the outbox.
                await driver.wait_sent(driver.sent + 100)

                async def piling_up() -> bool:
                    return await pending_outbox(stack) > 0

                await until(piling_up, 10, "outbox rows waiting while NATS is down")
                await asyncio.to_thread(nats.start)
                await wait_drained(stack)
            await driver.wait_sent(driver.sent + 100)
        finally:
            await driver.stop()
            for u in users:
                await u.close()
        await wait_drained(stack)
        events = await read_stream(servers(stack))
        for f in followers:
            await f.wait_for(events[-1].seq, timeout=20)
    figures = await check_stack(stack, driver.outcomes, baseline, events)
    expected = [e for e in events if e.seq > position[0] and e.data["sprint_id"] == sprint.sprint_id]
    record(
        test_name,
        **figures,
        **check_followers(followers, expected),
        mutations=driver.sent,
        faults_injected=2,
    )
