"""Restart PostgreSQL mid-stream (a fast shutdown, then a crash): 503s with the envelope while it is down,
recovery without restarting the backlog, and no event lost."""

from __future__ import annotations

import asyncio
import signal
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from fault_checks import check_stack, record
from fault_clients import Driver, User, new_sprint, tally
from fault_stack import task_versions, wait_drained

from sprintboard_e2e.waiting import until

if TYPE_CHECKING:
    from conftest import StartStack

    from sprintboard_devstack.stack import Stack

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

ENVELOPE = {"code", "message", "request_id", "timestamp"}


def assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, f"{response.request.url}: {response.status_code} {response.text}"
    error = response.json()["error"]
    assert ENVELOPE <= set(error) <= ENVELOPE | {"details"}, error
    assert error["code"] == "service_unavailable"
    assert error["request_id"] == response.headers["x-request-id"]


async def probe_outage(stack: Stack, user: User, task_id: str, project_id: str) -> int:
    """While the database is down: each kind of request is a 503 with the envelope, readiness fails."""
    assert stack.backlog is not None
    async with httpx.AsyncClient(base_url=stack.backlog.url, timeout=10) as anonymous:
        ready = await anonymous.get("/health/ready")
        assert ready.status_code == 503 and ready.json()["checks"]["database"] != "ok", ready.text
        assert (await anonymous.get("/health/live")).status_code == 200
    requests: list[tuple[str, str, Any]] = [
        ("PUT", f"/tasks/{task_id}/ownership", None),
        ("GET", f"/tasks/{task_id}", None),
        ("GET", f"/projects/{project_id}/stories", None),
        ("POST", "/projects", {"name": "while the database is down"}),
        ("PATCH", f"/tasks/{task_id}/estimate", {"estimated_hours": 3}),
    ]
    for method, path, body in requests:
        assert_unavailable(await user.client.request(method, path, json=body))
    return len(requests) + 1


async def test_the_backlog_answers_503_and_recovers_without_a_restart(
    start_stack: StartStack, test_name: str
) -> None:
    stack = await start_stack(notifiers=0)
    assert stack.postgres is not None and stack.backlog is not None
    postgres, backlog_pid = stack.postgres, stack.backlog.proc and stack.backlog.proc.pid
    users = [User(stack, f"pg-{n}") for n in range(5)]
    sprint = await new_sprint(users[0], tasks=10)
    baseline = await task_versions(stack)
    probe, probe_task = users[0], sprint.task_ids[0]
    driver = Driver({u: sprint.task_ids[2 * n : 2 * n + 2] for n, u in enumerate(users[1:], 1)}, pace=0.005)
    driver.start()
    probes = 0
    try:
        for sig in (signal.SIGINT, signal.SIGKILL):  # a fast shutdown, then a crash
            await driver.wait_sent(driver.sent + 150)
            await asyncio.to_thread(postgres.stop, sig)
            probes += await probe_outage(stack, probe, probe_task, sprint.project_id)
            await asyncio.to_thread(postgres.start)

            async def ready() -> bool:
                assert stack.backlog is not None
                async with httpx.AsyncClient(timeout=5) as client:
                    return (await client.get(f"{stack.backlog.url}/health/ready")).status_code == 200

            await until(ready, 30, "the backlog ready again once PostgreSQL is back")
            # Recovered: a burst of requests wider than the connection pool, none refused.
            burst = await asyncio.gather(*(probe.client.get(f"/tasks/{probe_task}") for _ in range(40)))
            assert [r.status_code for r in burst] == [200] * 40, [
                r.text for r in burst if r.status_code != 200
            ]
        await driver.wait_sent(driver.sent + 150)
    finally:
        await driver.stop()
        for u in users:
            await u.close()
    assert stack.backlog.proc is not None and stack.backlog.proc.pid == backlog_pid, "the backlog restarted"

    await wait_drained(stack)
    outcomes = tally(driver.outcomes)
    # Only 503s while the database was down (the driver's unknown outcomes): never a 500.
    assert not [k for k in outcomes if k not in ("committed", "unknown")], outcomes
    assert not [o for o in driver.outcomes if o.status is None], "the backlog stopped answering"
    after_last_restart = driver.outcomes[-100:]
    assert all(o.committed for o in after_last_restart), tally(after_last_restart)
    figures = await check_stack(stack, driver.outcomes, baseline)
    record(
        test_name,
        **figures,
        mutations=driver.sent,
        outcomes=outcomes,
        outage_probes_503=probes,
        faults_injected=2,
    )
