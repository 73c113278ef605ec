"""NATS as the distributed engine it is: three nodes clustered by routes, the stream replicated three
times, and one node killed (-9) mid-stream. The relay and the notifiers fail over; nothing is lost or
delivered twice."""

from __future__ import annotations

import asyncio
import json
import signal
import time
import urllib.request
from typing import TYPE_CHECKING, Any

import nats
import pytest
from fault_boards import check_followers
from fault_checks import check_stack, record
from fault_clients import Driver, User, new_sprint
from fault_stack import read_stream, stream_position, task_versions, wait_drained

from sprintboard_contracts.subjects import STREAM_NAME
from sprintboard_devstack.cluster import replicated_stream
from sprintboard_e2e.following import Follower, following

if TYPE_CHECKING:
    from conftest import StartStack

    from sprintboard_devstack.servers import EmbeddedNats

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


async def stream_leader(urls: list[str]) -> str | None:
    nc = await nats.connect(urls, connect_timeout=2)
    try:
        info = await nc.jetstream(timeout=5).stream_info(STREAM_NAME)
        return info.cluster.leader if info.cluster else None
    finally:
        await nc.close()


def client_names(node: EmbeddedNats) -> list[str]:
    url = f"http://127.0.0.1:{node.monitor_port}/connz?limit=1024"
    with urllib.request.urlopen(url, timeout=2) as response:
        return [c.get("name", "") for c in json.load(response)["connections"]]


def relay_node(nodes: list[EmbeddedNats]) -> EmbeddedNats:
    """The node the relay's connection is on (its client name says which connection is the relay's)."""
    holding = [n for n in nodes if any(c.startswith("sprintboard-backlog-relay") for c in client_names(n))]
    assert len(holding) == 1, f"the relay is connected to {[n.name for n in holding]}"
    return holding[0]


async def move_leader_off(urls: list[str], node: EmbeddedNats, timeout: float = 30) -> str:
    """Ask the stream leader to step down until another node than `node` leads; the new leader's name."""
    deadline = time.monotonic() + timeout
    while (leader := await stream_leader(urls)) == node.name or leader is None:
        assert time.monotonic() < deadline, f"the stream leader stays on {node.name}"
        if leader is not None:
            nc = await nats.connect(urls, connect_timeout=2)
            try:
                await nc.request(f"$JS.API.STREAM.LEADER.STEPDOWN.{STREAM_NAME}", b"", timeout=5)
            finally:
                await nc.close()
        await asyncio.sleep(0.5)
    return leader


async def pick_victim(
    nodes: list[EmbeddedNats], urls: list[str], kill: str
) -> tuple[EmbeddedNats, dict[str, Any]]:
    """The node to kill, chosen on purpose: the stream leader, or the node of the relay's connection. The
    two are made different first (the leader steps down off the relay's node), so each case is alone."""
    relay = relay_node(nodes)
    leader_name = await move_leader_off(urls, relay)
    leader = next(n for n in nodes if n.name == leader_name)
    node = leader if kill == "stream_leader" else relay
    names = client_names(node)
    return node, {
        "node": node.name,
        "stream_leader": leader_name,
        "relay_connected_to": relay.name,
        "notifiers_connected": sum(n.startswith("sprintboard-notifier") for n in names),
    }


@pytest.mark.parametrize("kill", ["stream_leader", "relay_node"])
async def test_a_node_dies_and_nothing_is_lost_or_delivered_twice(
    start_stack: StartStack, nats_cluster: list[EmbeddedNats], test_name: str, kill: str
) -> None:
    urls = [node.url for node in nats_cluster]
    await replicated_stream(urls)
    stack = await start_stack(
        notifiers=2, nats_url=",".join(urls), BACKLOG_STREAM_REPLICAS="3", NOTIFIER_STREAM_REPLICAS="3"
    )
    assert stack.seed is not None
    users = [User(stack, f"cluster-{n}") for n in range(4)]
    sprint = await new_sprint(users[0], tasks=8)
    baseline = await task_versions(stack)
    await wait_drained(stack)
    position = await stream_position(urls)
    followers = [
        Follower(
            f"board-{n}",
            [f"ws://{stack.host}:{notifier.port}/api/v1/ws/tasks"],
            users[n].token,
            stack.seed.org_id,
            sprint.sprint_id,
            position,
            batch=bool(n % 2),
        )
        for n, notifier in enumerate(stack.notifiers * 2)
    ]
    driver = Driver({u: sprint.task_ids[2 * n : 2 * n + 2] for n, u in enumerate(users)}, pace=0.01)
    dead, lost = await pick_victim(nats_cluster, urls, kill)
    async with following(followers):
        driver.start()
        try:
            await driver.wait_sent(150)
            assert await stream_leader(urls) == lost["stream_leader"], "the stream leader moved on its own"
            assert relay_node(nats_cluster) is not dead or kill == "relay_node"
            dead.stop(signal.SIGKILL)
            print(
                f"\nkilled {lost['node']} ({kill}): stream leader {lost['stream_leader']}, relay on "
                f"{lost['relay_connected_to']}, {lost['notifiers_connected']} notifier connections on it"
            )
            await driver.wait_sent(driver.sent + 250)
        finally:
            await driver.stop()
            for u in users:
                await u.close()
        survivors = [node.url for node in nats_cluster if node is not dead]
        await wait_drained(stack)
        events = await read_stream(survivors)
        expected = [e for e in events if e.seq > position[0] and e.data["sprint_id"] == sprint.sprint_id]
        await asyncio.gather(*(f.wait_for(expected[-1].seq, timeout=30) for f in followers))
    figures = await check_stack(stack, driver.outcomes, baseline, events)
    record(
        test_name,
        **figures,
        **check_followers(followers, expected),
        killed=lost,
        new_leader=await stream_leader(survivors),
        mutations=driver.sent,
        faults_injected=1,
    )
