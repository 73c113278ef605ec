"""The leading relay loses its PostgreSQL session mid-load while a standby waits: the session's advisory
lock goes with it, the standby leads, and the old leader notices before it publishes again; when its
link is back it stands by. The stream holds every event exactly once, each task's in version order."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

import pytest
from fault_checks import check_all_committed, record
from fault_clients import Driver, User, new_sprint
from fault_relays import (
    LOST_LEADERSHIP,
    PostgresLink,
    extra_relay,
    leads,
    lock_holder,
    log_messages,
    published,
    terminate_lock_holder,
)
from fault_stack import task_versions

from sprintboard_e2e.waiting import until

if TYPE_CHECKING:
    from conftest import StartStack

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

CLIENTS = 6


@pytest.mark.parametrize(
    "cut",
    [
        "terminated",  # pg_terminate_backend: the server ends the session and tells the relay
        "partitioned",  # the server's side of the link closes; the relay's stays open and silent
    ],
)
async def test_a_relay_that_lost_its_lock_stops_before_the_next_one_publishes(
    start_stack: StartStack, test_name: str, cut: str
) -> None:
    stack = await start_stack(notifiers=0, relay_process=True)
    assert stack.relay is not None and stack.database_url is not None
    second = stack.relay
    second.stop()  # it comes back as the standby, once the relay behind the link leads
    link = await PostgresLink(stack.database_url).start()
    first = await asyncio.to_thread(extra_relay, stack, "first", link.url)
    try:

        async def first_leads() -> bool:
            return leads(first)

        await until(first_leads, 30, "the relay behind the link leads")
        await asyncio.to_thread(second.start)
        holder = await lock_holder(stack)
        users = [User(stack, f"relay-lock-{n}") for n in range(CLIENTS)]
        sprint = await new_sprint(users[0], tasks=2 * CLIENTS)
        baseline = await task_versions(stack)
        driver = Driver({u: sprint.task_ids[2 * n : 2 * n + 2] for n, u in enumerate(users)}, pace=0.005)
        driver.start()
        try:
            await driver.wait_sent(300)
            published_before_cut = published(first)
            if cut == "terminated":
                link.refuse()  # else the old leader may simply win the lock again (a fair election)
                await terminate_lock_holder(stack)
            else:
                assert link.partition() >= 1
            cut_at = time.monotonic()

            async def second_leads() -> bool:
                return leads(second)

            await until(second_leads, 30, "the standby leads once the lock went with the session")
            second_leads_s = time.monotonic() - cut_at

            async def first_noticed() -> bool:
                return not leads(first) and LOST_LEADERSHIP in log_messages(first)

            await until(first_noticed, 30, "the relay that lost its session knows it no longer leads")
            first_noticed_s = time.monotonic() - cut_at
            published_when_noticed = published(first)
            link.heal()
            await driver.wait_sent(driver.sent + 300)
        finally:
            await driver.stop()
            for u in users:
                await u.close()
        figures = await check_all_committed(stack, driver, baseline)
        # Once it knew, the old leader published nothing more and stood by.
        assert published(first) == published_when_noticed, "the old leader published after losing the lock"
        assert not leads(first) and leads(second)
        assert log_messages(first).count("outbox relay is the leader") == 1, "the old leader led again"
        assert await lock_holder(stack) not in (None, holder), "the lock is held by the old session"
        print(
            f"\nrelay lock lost ({cut}): the standby leads {second_leads_s:.3f}s after the cut, "
            f"the old leader knew by {first_noticed_s:.3f}s (polled after); it had published and marked "
            f"{published_before_cut} events before the cut, {published_when_noticed} when it knew, none after"
        )
        record(
            test_name,
            **figures,
            faults_injected=1,
            old_leader_published=published(first),
            new_leader_published=published(second),
            standby_leads_s=round(second_leads_s, 3),
            old_leader_knew_s=round(first_noticed_s, 3),
        )
    finally:
        first.stop()
        await link.close()
