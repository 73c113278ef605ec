"""kill -9 a notifier with 200 board sockets on it: they resume on a second instance or on the restarted
one, and each ends with every event of the sprint exactly once."""

from __future__ import annotations

import asyncio
import signal
from collections import Counter
from typing import TYPE_CHECKING

import pytest
from fault_boards import check_followers
from fault_checks import check_stack, record
from fault_clients import Driver, User
from fault_stack import (
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

SOCKETS = 200


async def test_sockets_resume_after_a_notifier_crash_with_every_event_once(
    start_stack: StartStack, test_name: str
) -> None:
    stack = await start_stack(notifiers=2)
    assert stack.seed is not None
    crashed, second = stack.notifiers
    sprint_id, story_id = str(stack.seed.sprint_id), str(stack.seed.story_ids[0])
    users = [User(stack, f"busy-{n}") for n in range(4)]
    tasks = [
        (
            await users[0].call(
                "POST", f"/stories/{story_id}/tasks", {"title": f"T{n}", "acceptance_criteria_refs": ["AC1"]}
            )
        )["task_id"]
        for n in range(8)
    ]
    await wait_drained(stack)
    baseline = await task_versions(stack)  # from here on every change must be accounted for by an answer
    position = await stream_position(servers(stack))
    ws = [f"ws://{stack.host}:{n.port}/api/v1/ws/tasks" for n in (crashed, second)]
    tokens = [stack.token("alice"), stack.token("bob")]
    followers = [
        # Even sockets come back to the restarted instance; odd ones move to the second instance.
        Follower(
            f"board-{n}",
            ws if n % 2 else ws[:1],
            tokens[n % 2],
            stack.seed.org_id,
            sprint_id,
            position,
            batch=n % 4 < 2,
            rotate=bool(n % 2),
        )
        for n in range(SOCKETS)
    ]
    driver = Driver({u: tasks[2 * n : 2 * n + 2] for n, u in enumerate(users)}, pace=0.02)
    async with following(followers, timeout=60):
        driver.start()
        try:
            await driver.wait_sent(150)
            crashed.stop(signal.SIGKILL)
            await asyncio.to_thread(crashed.start)

            async def all_resumed() -> bool:
                return all(f.sessions >= 2 for f in followers)

            await until(all_resumed, 60, "every socket resumed on a notifier")
            await driver.wait_sent(driver.sent + 150)
        finally:
            await driver.stop()
            for u in users:
                await u.close()
        await wait_drained(stack)
        events = await read_stream(servers(stack))
        expected = [e for e in events if e.seq > position[0] and e.data["sprint_id"] == sprint_id]
        await asyncio.gather(*(f.wait_for(expected[-1].seq, timeout=30) for f in followers))
    figures = await check_stack(stack, driver.outcomes, baseline, events)
    client_figures = check_followers(followers, expected)
    # Where each socket's resume (its second subscription) was acknowledged, as the sockets saw it.
    resumed_on = Counter(f.subscribed_on[1] for f in followers)
    record(
        test_name,
        **figures,
        **client_figures,
        sprint_events=len(expected),
        resumed_on_restarted=resumed_on[ws[0]],
        resumed_on_second=resumed_on[ws[1]],
        faults_injected=1,
    )
