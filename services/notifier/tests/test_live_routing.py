"""Live fan-out through real NATS and sockets: tenant isolation, subscription filters, several instances."""

from __future__ import annotations

import contextlib
import random
import uuid
from typing import Any

import pytest
from notifier_kit import Board, client, make_event, publisher, run_notifier, token

pytestmark = pytest.mark.integration


def _selects(subs: list[dict[str, str]], tenant: str, event: dict[str, Any]) -> bool:
    if event["tenant_id"] != tenant:
        return False
    if not subs:
        return True
    return any(event.get(k) == v for sub in subs for k, v in sub.items())


async def test_randomized_two_tenants_each_socket_gets_exactly_its_selection(nats_url: str) -> None:
    rng = random.Random(20240611)
    tenants = [f"org-{uuid.uuid4().hex[:8]}" for _ in range(2)]
    boards = {t: [Board(t), Board(t)] for t in tenants}
    a, b = tenants
    a1, a2 = boards[a]
    b1, _ = boards[b]
    plans: list[tuple[str, list[dict[str, str]], bool]] = [
        (a, [], False),
        (b, [], False),
        (a, [{"sprint_id": str(a1.sprint_id)}], False),
        (a, [{"project_id": str(a2.project_id)}], False),
        (a, [{"story_id": str(a1.stories[0])}], False),
        (a, [{"sprint_id": str(a1.sprint_id)}, {"story_id": str(a2.stories[1])}], True),
        (b, [{"sprint_id": str(b1.sprint_id)}], True),
        # Another tenant's sprint: never matched, whatever is published there.
        (a, [{"sprint_id": str(b1.sprint_id)}], False),
    ]
    async with (
        run_notifier(nats_url) as notifier,
        publisher(nats_url) as pub,
        contextlib.AsyncExitStack() as stack,
    ):
        clients = []
        for tenant, subs, batch in plans:
            c = await stack.enter_async_context(client(notifier, token(tenant)))
            await c.control("welcome")
            for sub in subs:
                await c.send({"type": "subscribe", **sub, "batch": batch})
                await c.control("subscribed")
            clients.append(c)

        published: list[dict[str, Any]] = []
        for _ in range(400):
            board = rng.choice([*boards[a], *boards[b]])
            event = make_event(board, story=rng.choice(board.stories), sprint=rng.random() < 0.8)
            await pub.publish(event)
            published.append({k: str(v) for k, v in event.model_dump(mode="json").items()})

        for c, (tenant, subs, _) in zip(clients, plans, strict=True):
            expected = [e["event_id"] for e in published if _selects(subs, tenant, e)]
            got = await c.events(len(expected), timeout=20)
            assert [e["event_id"] for e in got] == expected
            assert all(e["tenant_id"] == tenant for e in got)
            seqs = [e["seq"] for e in got]
            assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
            assert all(e["epoch"] == notifier.hub.epoch for e in got)
            assert await c.quiet(0.2) == []
        assert plans[-1][1] and not [e for e in published if _selects(plans[-1][1], a, e)]


async def test_unsubscribe_stops_a_filter(nats_url: str, tenant: str) -> None:
    board = Board(tenant)
    async with (
        run_notifier(nats_url) as notifier,
        publisher(nats_url) as pub,
        client(notifier, token(tenant)) as c,
    ):
        await c.control("welcome")
        await c.send({"type": "subscribe", "story_id": str(board.stories[0])})
        await c.control("subscribed")
        await pub.publish(make_event(board, story=board.stories[0]))
        assert len(await c.events(1)) == 1
        await c.send({"type": "unsubscribe", "story_id": str(board.stories[0])})
        await c.control("unsubscribed")
        await c.send({"type": "subscribe", "story_id": str(board.stories[1])})
        await c.control("subscribed")
        await pub.publish(make_event(board, story=board.stories[0]))
        second = make_event(board, story=board.stories[1])
        await pub.publish(second)
        assert [e["event_id"] for e in await c.events(1)] == [str(second.event_id)]


async def test_two_instances_on_one_nats_both_receive_every_event(nats_url: str, tenant: str) -> None:
    board = Board(tenant)
    async with (
        run_notifier(nats_url) as first,
        run_notifier(nats_url) as second,
        publisher(nats_url) as pub,
        client(first, token(tenant)) as c1,
        client(second, token(tenant, sub="bob")) as c2,
    ):
        await c1.control("welcome")
        await c2.control("welcome")
        events = [make_event(board, story=board.stories[i % 3]) for i in range(60)]
        for event in events:
            await pub.publish(event)
        expected = [str(e.event_id) for e in events]
        assert [e["event_id"] for e in await c1.events(60)] == expected
        assert [e["event_id"] for e in await c2.events(60)] == expected
