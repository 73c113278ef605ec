"""The republish live path on real JetStream (`stream/live.py`): a tenant's live messages that never
arrive are found (at the tenant's next message, or by the look at its last stored event) and read from
the stream, in order and once; the live stream gone is made again."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from nats.aio.msg import Msg
from notifier_kit import (
    Board,
    Client,
    Notifier,
    Publisher,
    caught_up,
    client,
    make_event,
    publisher,
    run_notifier,
    token,
)

from sprintboard_contracts.events import event_to_json
from sprintboard_contracts.subjects import LIVE_STREAM_NAME, STREAM_NAME, live_subject
from sprintboard_contracts.tenant_token import tenant_token
from sprintboard_e2e.waiting import until
from sprintboard_kit.stream import ensure_stream
from sprintboard_notifier.stream import LiveFollower
from sprintboard_notifier.stream.live import Interest, stored_seq

pytestmark = pytest.mark.integration


@dataclass
class Live:
    """A notifier on the republish path, a publisher and one welcomed socket of the tenant."""

    notifier: Notifier
    follower: LiveFollower
    pub: Publisher
    c: Client


@asynccontextmanager
async def live(nats_url: str, tenant: str, **settings: Any) -> AsyncIterator[Live]:
    async with (
        run_notifier(nats_url, **settings) as notifier,
        publisher(nats_url) as pub,
        client(notifier, token(tenant)) as c,
    ):
        await c.control("welcome")
        follower = notifier.app.state.bridge.follower
        assert isinstance(follower, LiveFollower)
        yield Live(notifier, follower, pub, c)


async def blind(follower: LiveFollower, tenant_id: str) -> Interest:
    """Take away the tenant's live subscription: what is republished meanwhile is lost to this instance."""
    interest = follower._interests[tenant_id]
    assert interest.sub is not None
    await interest.sub.unsubscribe()
    return interest


async def see_again(follower: LiveFollower, interest: Interest) -> None:
    """Subscribe the tenant again, as NATS would after a reconnect (nothing tells the follower)."""
    nc = follower._nc
    assert nc is not None
    interest.sub = await nc.subscribe(
        live_subject(interest.tenant_id),
        cb=functools.partial(follower._live, interest, interest.generation),
    )
    await nc.flush()


async def test_live_messages_lost_are_read_from_the_stream_at_the_tenants_next_one(
    nats_url: str, tenant: str
) -> None:
    board, other = Board(tenant), Board(f"{tenant}-other")
    async with live(nats_url, tenant, live_check_seconds=3600) as t:
        follower, pub, c = t.follower, t.pub, t.c
        first = make_event(board)
        await pub.publish(first)
        assert [e["event_id"] for e in await c.events(1)] == [str(first.event_id)]
        interest = await blind(follower, tenant)
        lost = [make_event(board) for _ in range(3)]
        for event in lost:
            await pub.publish(make_event(other))
            await pub.publish(event)
        await asyncio.sleep(0.3)
        assert await c.quiet(0.1) == []  # nothing came: the subscription was away
        await see_again(follower, interest)
        repairs = follower.repairs
        after = make_event(board)
        await pub.publish(after)
        got = await c.events(4)
        assert [e["event_id"] for e in got] == [str(e.event_id) for e in [*lost, after]]
        assert follower.repairs == repairs + 1
        assert await c.quiet(0.3) == []  # none twice


async def test_a_lost_last_event_is_found_by_looking_at_the_tenants_last_stored_one(
    nats_url: str, tenant: str
) -> None:
    board = Board(tenant)
    async with live(nats_url, tenant, live_check_seconds=0.2) as t:
        notifier, follower, pub, c = t.notifier, t.follower, t.pub, t.c
        interest = await blind(follower, tenant)
        lost = make_event(board)
        seq = await pub.publish(lost)
        await see_again(follower, interest)
        # No later event shows the gap: two looks in a row find it stored and not come, and read it.
        assert [e["event_id"] for e in await c.events(1, timeout=10)] == [str(lost.event_id)]
        await caught_up(notifier, tenant, seq)
        assert follower.repairs >= 1
        assert await c.quiet(0.5) == []


async def test_the_periodic_look_skips_a_tenant_that_took_live_messages_and_looks_once_it_is_quiet(
    nats_url: str, tenant: str
) -> None:
    """A taken live message shows by its chain that nothing before it was lost, so a busy tenant costs no
    periodic look; a quiet one is looked at every interval (where a lost last event would wait)."""
    board = Board(tenant)
    async with live(nats_url, tenant, live_check_seconds=0.2) as t:
        follower, pub, c = t.follower, t.pub, t.c
        await asyncio.sleep(0.5)  # the looks of a new tenant are done
        checks, skipped = follower.checks, follower.skipped
        for _ in range(30):  # 1.5 s of an event every 50 ms: one at least between two turns
            await pub.publish(make_event(board))
            await asyncio.sleep(0.05)
        assert len(await c.events(30)) == 30
        busy_checks, busy_skipped = follower.checks - checks, follower.skipped - skipped
        assert busy_skipped >= 3
        assert busy_checks <= busy_skipped // 2  # a stall of the machine may leave a turn with no event
        checks, skipped = follower.checks, follower.skipped
        await asyncio.sleep(1.2)
        assert follower.checks - checks >= 2
        assert follower.skipped - skipped <= 1  # the first turn after the last event
        assert await c.quiet(0.1) == []


async def test_the_live_stream_deleted_is_made_again_and_nothing_is_lost(nats_url: str, tenant: str) -> None:
    board = Board(tenant)
    async with live(nats_url, tenant, stream_watch_seconds=0.3) as t:
        pub, c = t.pub, t.c
        before = make_event(board)
        await pub.publish(before)
        assert [e["event_id"] for e in await c.events(1)] == [str(before.event_id)]
        created = (await pub.js.stream_info(LIVE_STREAM_NAME)).created
        await pub.js.delete_stream(LIVE_STREAM_NAME)
        meanwhile = make_event(board)  # stored while there is no live stream: nothing republishes it
        await pub.publish(meanwhile)
        later = [make_event(board) for _ in range(3)]

        async def publish_later() -> None:
            await asyncio.sleep(1.0)  # after the watch made the live stream again
            for event in later:
                await pub.publish(event)

        publishing = asyncio.create_task(publish_later())
        got = await c.events(4, timeout=15)
        await publishing
        assert [e["event_id"] for e in got] == [str(e.event_id) for e in [meanwhile, *later]]
        assert (await pub.js.stream_info(LIVE_STREAM_NAME)).created != created
        assert await c.quiet(0.3) == []


async def test_a_live_message_names_its_stream_seq_and_subject(nats_url: str, tenant: str) -> None:
    """What the follower reads from a republished message: the live stream's seqs, and where the event is
    stored in BACKLOG_TASKS (the resume position)."""
    board = Board(tenant)
    async with run_notifier(nats_url), publisher(nats_url) as pub:
        sub = await pub.nc.subscribe(live_subject(tenant))
        seqs = [await pub.publish(make_event(board)) for _ in range(2)]
        msgs = [await sub.next_msg(timeout=5) for _ in range(2)]
        headers = [m.headers or {} for m in msgs]
        assert [stored_seq(h) for h in headers] == seqs
        # The source header also names the stored subject (NATS 2.15), the tenant's v2 subject.
        prefix = f"backlog.tasks.v2.{tenant_token(tenant)}."
        assert all(any(t.startswith(prefix) for t in h["Nats-Stream-Source"].split(" ")) for h in headers)
        first, second = (int(h["Nats-Sequence"]) for h in headers)
        assert int(headers[1]["Nats-Last-Sequence"]) == first < second


async def test_after_the_stream_is_made_again_the_old_subscription_is_not_heard(
    fresh_nats: str, tenant: str
) -> None:
    """What the old live stream republished names seqs of the old BACKLOG_TASKS: once the stream is made
    again, a message still arriving on the tenant's old subscription is not handed on (it would claim a
    seq of the new stream), and the new stream's events come from seq 1."""
    board = Board(tenant)
    async with live(fresh_nats, tenant, stream_watch_seconds=0.2) as t:
        follower, pub, c = t.follower, t.pub, t.c
        interest = follower._interests[tenant]
        old = interest.generation
        await pub.publish(make_event(board))
        await c.events(1)
        await pub.js.delete_stream(STREAM_NAME)
        await asyncio.sleep(0.01)  # a later creation time
        await ensure_stream(pub.js)
        await c.control("resync_required")

        async def resubscribed() -> bool:
            return interest.generation != old and interest.sub is not None

        await until(resubscribed, timeout=10, what="the tenant subscribed again")
        # A message of the old live stream, late on the old subscription: far past the new stream's end,
        # and its chain the one the follower waits for (any, after the new epoch).
        headers = {
            "Nats-Sequence": "99",
            "Nats-Last-Sequence": str(interest.live_last),
            "Nats-Stream-Source": "BACKLOG_TASKS 1000 x y z",
        }
        stale = Msg(pub.nc, live_subject(tenant), "", event_to_json(make_event(board)), headers)
        await follower._live(interest, old, stale)
        assert await c.quiet(0.3) == []
        event = make_event(board)
        await pub.publish(event)
        got = await c.events(1)
        assert (got[0]["event_id"], got[0]["seq"]) == (str(event.event_id), 1)
