"""Interest routing seen from outside: each notifier instance reads from NATS the events of the tenants its
sockets follow, not every tenant's (spec §4)."""

from __future__ import annotations

import contextlib
import uuid

import httpx

from sprintboard_e2e.api import BacklogApi
from sprintboard_e2e.environment import Deployment
from sprintboard_e2e.sockets import BoardSocket

RECEIVED = "notifier_events_received_total"
TASKS = 5  # per tenant: each created, then taken, so 2 events each


async def events_received(notifier_url: str) -> float:
    """The instance's `notifier_events_received_total`: events it has read from NATS."""
    async with httpx.AsyncClient(timeout=10) as http:
        text = (await http.get(f"{notifier_url}/metrics")).text
    return next(float(line.split()[-1]) for line in text.splitlines() if line.startswith(f"{RECEIVED} "))


async def test_each_instance_reads_the_events_of_its_own_sockets_tenant_only(deployment: Deployment) -> None:
    assert len(deployment.notifier_urls) >= 2
    # Tenants of their own: no other test's socket follows them.
    tenants = [f"interest-{side}-{uuid.uuid4().hex[:8]}" for side in "ab"]
    async with contextlib.AsyncExitStack() as stack:
        apis = [
            await stack.enter_async_context(
                BacklogApi(deployment.backlog_url, deployment.token(f"user-{t}", org_id=t))
            )
            for t in tenants
        ]
        projects = [await api.create_project() for api in apis]
        stories = [await api.create_ready_story(p, "Interest") for api, p in zip(apis, projects, strict=True)]
        # Tenant a's socket on the first instance, tenant b's on the second, each with the routing hint.
        sockets = []
        for n, (tenant, api, project) in enumerate(zip(tenants, apis, projects, strict=True)):
            url = f"{deployment.socket_url(n)}?tenant={tenant}"
            sockets.append(await BoardSocket.open(url, api.token, {"project_id": project}))
            stack.push_async_callback(sockets[-1].close)
        before = [await events_received(url) for url in deployment.notifier_urls[:2]]
        for api, story in zip(apis, stories, strict=True):
            for n in range(TASKS):
                await api.take(await api.create_task(story, f"Interest {n}"))
        for socket, project in zip(sockets, projects, strict=True):
            await socket.wait_for_events(2 * TASKS, project_id=project)
        after = [await events_received(url) for url in deployment.notifier_urls[:2]]
    own = 2 * TASKS
    for n, read in enumerate(b - a for a, b in zip(before, after, strict=True)):
        # Its own tenant's events, and fewer than half of the other tenant's (an instance reading every
        # tenant would count 2 * own).
        assert own <= read < own + own / 2, f"instance {n} read {read:.0f} events, its tenant had {own}"
