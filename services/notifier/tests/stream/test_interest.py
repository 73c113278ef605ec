"""Interest routing on real JetStream: an instance follows from NATS only the tenants its sockets need,
adds a tenant on its first socket and drops it after the last, and a socket gets exactly its events while
interests come and go around it."""

from __future__ import annotations

import asyncio
import contextlib
import random
import uuid

import pytest
from notifier_kit import Board, Notifier, caught_up, client, make_event, publisher, run_notifier, token

from sprintboard_contracts.subjects import STREAM_NAME
from sprintboard_devstack.servers import EmbeddedNats
from sprintboard_e2e.sockets import unpacked
from sprintboard_e2e.waiting import until

pytestmark = pytest.mark.integration


def received(notifier: Notifier) -> int:
    return notifier.metrics.events_in.value


PATHS = ["republish", "consumers"]


@pytest.mark.parametrize("path", PATHS)
async def test_an_instance_reads_only_the_tenants_of_its_sockets_and_drops_one_after_its_last(
    nats_url: str, tenant: str, path: str
) -> None:
    """With either live path: a subscription (republish) or a consumer (consumers) per followed tenant."""
    mine, theirs = Board(tenant), Board(f"{tenant}-other")
    per_tenant = 1 if path == "consumers" else 0  # consumers of BACKLOG_TASKS a followed tenant adds
    async with (
        run_notifier(nats_url, interest_linger_seconds=0.2, interest_path=path) as notifier,
        publisher(nats_url) as pub,
    ):
        consumers = (await pub.js.stream_info(STREAM_NAME)).state.consumer_count
        follower = notifier.app.state.bridge.follower
        async with client(notifier, token(tenant)) as c:
            await c.control("welcome")
            assert follower.tenants == 1
            assert (await pub.js.stream_info(STREAM_NAME)).state.consumer_count == consumers + per_tenant
            assert follower.created == 1
            before = received(notifier)
            wanted = [make_event(mine) for _ in range(5)]
            for event in wanted:
                await pub.publish(make_event(theirs))
                seq = await pub.publish(event)
            got = await c.events(5)
            assert [e["event_id"] for e in got] == [str(e.event_id) for e in wanted]
            await caught_up(notifier, tenant, seq)
            assert received(notifier) - before == 5  # none of the other tenant's came from NATS

        # After its last socket (and the linger) the tenant is no longer followed, its consumer deleted.
        async def dropped() -> bool:
            return follower.tenants == 0

        await until(dropped, timeout=10, what="the tenant dropped")

        async def consumer_gone() -> bool:
            return (await pub.js.stream_info(STREAM_NAME)).state.consumer_count == consumers

        await until(consumer_gone, timeout=10, what="its consumer deleted")
        before = received(notifier)
        await pub.publish(make_event(mine))
        async with client(notifier, token(theirs.tenant_id)) as c:
            await c.control("welcome")
            event = make_event(theirs)
            await pub.publish(event)
            assert [e["event_id"] for e in await c.events(1)] == [str(event.event_id)]
        # Its new feed warmed the memory with its 5 earlier events; `mine`'s, unfollowed, never came.
        assert received(notifier) - before == 6


async def test_an_instance_that_follows_every_tenant_reads_every_event(nats_url: str, tenant: str) -> None:
    async with run_notifier(nats_url, follow="all") as notifier, publisher(nats_url) as pub:
        before = received(notifier)
        seqs = [await pub.publish(make_event(Board(f"{tenant}-{i}"))) for i in range(5)]
        await caught_up(notifier, tenant, seqs[-1])
        assert received(notifier) - before == 5
        assert notifier.app.state.bridge.follower.tenants == 0


@pytest.mark.parametrize(
    ("path", "wide_above"),
    [("republish", 0), ("consumers", 0), ("consumers", 2)],
    ids=["republish", "consumer-per-tenant", "consumers-wide-and-narrow"],
)
async def test_sockets_that_come_and_go_while_events_flow_get_exactly_their_events(
    nats_url: str, tenant: str, path: str, wide_above: int
) -> None:
    """Events flow over 4 tenants, 2 sprints each, while sockets open, subscribe to both sprints of their
    tenant (the second resuming from `welcome`), unsubscribe one and close, in overlapping waves; with no
    linger each tenant's interest is dropped and added again and again (and, `wide_above` 2, the instance
    goes wide above 2 tenants and back at 1, again and again). Every socket gets, from its `welcome` on,
    every event of each sprint it follows in stream order, none twice, and none of the dropped sprint
    after `unsubscribed`."""
    boards = [Board(f"{tenant}-{i}") for i in range(4)]
    sprints = {b.tenant_id: [str(b.sprint_id), str(uuid.uuid4())] for b in boards}
    published: list[tuple[int, str, str]] = []  # (seq, tenant, sprint)
    rng = random.Random(7)
    async with (
        run_notifier(
            nats_url, interest_linger_seconds=0.0, follow_all_above=wide_above, interest_path=path
        ) as notifier,
        publisher(nats_url) as pub,
    ):
        done = asyncio.Event()

        async def publish() -> None:
            i = 0
            while not done.is_set():
                board = boards[i % len(boards)]
                sprint = sprints[board.tenant_id][(i // len(boards)) % 2]
                event = make_event(Board(board.tenant_id, board.project_id, uuid.UUID(sprint)))
                published.append((await pub.publish(event), board.tenant_id, sprint))
                i += 1
                await asyncio.sleep(0.002)

        async def session(n: int) -> tuple[str, int, dict[str, list[int]], int]:
            await asyncio.sleep(rng.uniform(0, 8))
            board = rng.choice(boards)
            dropped, kept = rng.sample(sprints[board.tenant_id], 2)
            got: dict[str, list[int]] = {dropped: [], kept: []}
            after_unsubscribed = 0
            async with client(notifier, token(board.tenant_id, sub=f"user{n}"), auth="frame") as c:
                welcome = await c.control("welcome")
                await c.send({"type": "subscribe", "sprint_id": dropped})
                # The first subscribe makes the socket live; the second resumes from `welcome`.
                resume = {"seq": welcome["seq"], "epoch": welcome["epoch"]}
                await c.send({"type": "subscribe", "sprint_id": kept, "resume_from": resume})
                loop = asyncio.get_running_loop()
                unsubscribe_at, unsubscribed = loop.time() + rng.uniform(0.3, 1.5), False
                close_at = unsubscribe_at + 3600
                while loop.time() < close_at:
                    if not unsubscribed and loop.time() >= unsubscribe_at:
                        await c.send({"type": "unsubscribe", "sprint_id": dropped})
                        unsubscribe_at = close_at
                    try:
                        frame = await c.frame(max(0.01, min(unsubscribe_at, close_at) - loop.time()))
                    except TimeoutError:
                        continue
                    if frame.get("type") == "unsubscribed":
                        unsubscribed, close_at = True, loop.time() + 0.5
                    for e in unpacked(frame):
                        if "event_id" in e:
                            got[e["sprint_id"]].append(e["seq"])
                            after_unsubscribed += unsubscribed and e["sprint_id"] == dropped
            return board.tenant_id, welcome["seq"], got, after_unsubscribed

        publishing = asyncio.create_task(publish())
        try:
            # Fewer sockets at once when going wide: the tenants followed fall to 1 now and then.
            results = await asyncio.gather(*(session(n) for n in range(16 if wide_above else 40)))
        finally:
            done.set()
            await publishing
        created = notifier.app.state.bridge.follower.created
        follower = notifier.app.state.bridge.follower
    assert created > len(boards)  # interests were dropped and added again while events flowed
    if wide_above:  # and the instance went wide and back, more than once
        assert follower.widened > 1 and follower.narrowed >= 1
    for n, (tenant_id, welcome_seq, got, after_unsubscribed) in enumerate(results):
        assert after_unsubscribed == 0, f"session {n}: events of the dropped sprint after unsubscribed"
        for sprint, seqs in got.items():
            assert seqs, f"session {n} got no event of sprint {sprint}"
            expected = [s for s, t, sp in published if t == tenant_id and sp == sprint and s > welcome_seq]
            assert seqs == expected[: len(seqs)], f"session {n}: a gap, a repeat or another's event"


async def test_above_its_limit_an_instance_goes_wide_and_back_without_a_gap(
    nats_url: str, tenant: str
) -> None:
    """`follow_all_above` 2: the third tenant's socket replaces the tenant consumers by one of every event
    (while events of all three flow), and once one tenant is left it has its own consumer again. Each
    socket gets every event of its tenant after its `welcome`, in order, once. (The consumer path only:
    the republish path has no every-tenant mode.)"""
    boards = [Board(f"{tenant}-{i}") for i in range(3)]
    published: list[tuple[int, str]] = []
    async with (
        run_notifier(
            nats_url, interest_linger_seconds=0.1, follow_all_above=2, interest_path="consumers"
        ) as notifier,
        publisher(nats_url) as pub,
        contextlib.AsyncExitStack() as open_,
    ):
        follower = notifier.app.state.bridge.follower
        base = (await pub.js.stream_info(STREAM_NAME)).state.consumer_count
        done = asyncio.Event()

        async def publish() -> None:
            i = 0
            while not done.is_set():
                board = boards[i % 3]
                published.append((await pub.publish(make_event(board)), board.tenant_id))
                i += 1
                await asyncio.sleep(0.002)

        async def consumers() -> int:
            return int((await pub.js.stream_info(STREAM_NAME)).state.consumer_count) - base

        publishing = asyncio.create_task(publish())
        sockets = []
        try:
            for b in boards:
                c = await open_.enter_async_context(client(notifier, token(b.tenant_id)))
                sockets.append((b.tenant_id, c, int((await c.control("welcome"))["seq"])))
                await asyncio.sleep(0.2)
            assert follower.wide and follower.tenants == 3

            async def one_consumer() -> bool:
                return await consumers() == 1

            await until(
                one_consumer, timeout=10, what="the tenant consumers deleted, one of every event left"
            )
            assert notifier.metrics.registry.get_sample_value("notifier_follows_every_event") == 1
            await asyncio.sleep(0.3)
            # Two sockets close (after their events so far): the instance follows one tenant, on a
            # consumer of its own again.
            for tenant_id, c, welcome_seq in sockets[:2]:
                expected = [s for s, t in published if t == tenant_id and s > welcome_seq]
                assert [e["seq"] for e in await c.events(len(expected))] == expected
                await c.close()

            async def narrow() -> bool:
                return not follower.wide and follower.tenants == 1 and await consumers() == 1

            await until(narrow, timeout=10, what="back to one consumer per tenant")
            assert notifier.metrics.registry.get_sample_value("notifier_follows_every_event") == 0
            await asyncio.sleep(0.3)
        finally:
            done.set()
            await publishing
        tenant_id, c, welcome_seq = sockets[2]
        expected = [s for s, t in published if t == tenant_id and s > welcome_seq]
        assert [e["seq"] for e in await c.events(len(expected))] == expected
        assert await c.quiet(0.2) == []
    assert follower.widened == 1


@pytest.mark.parametrize("path", PATHS)
async def test_a_new_tenant_feed_warms_the_memory_so_resumes_need_no_stream_read(
    nats_url: str, tenant: str, path: str
) -> None:
    # Sockets of a dead instance land here, where their tenant was not followed: the first one's feed
    # starts NOTIFIER_HISTORY_EVENTS back, and every resume from inside that is served from memory.
    board = Board(tenant)
    async with run_notifier(nats_url, interest_path=path) as notifier, publisher(nats_url) as pub:
        seqs = [await pub.publish(make_event(board)) for _ in range(30)]
        epoch = notifier.hub.epoch
        for after in (seqs[9], seqs[20]):
            async with client(notifier, token(tenant), auth="frame") as c:
                await c.control("welcome")
                await c.send({"type": "subscribe", "resume_from": {"seq": after, "epoch": epoch}})
                assert [e["seq"] for e in await c.events(len([s for s in seqs if s > after]))] == [
                    s for s in seqs if s > after
                ]
        assert notifier.app.state.bridge.history.reads == 0


@pytest.mark.parametrize(
    ("path", "wide_above"),
    [("republish", 0), ("consumers", 0), ("consumers", 60)],
    ids=["republish", "consumer-per-tenant", "consumers-wide"],
)
async def test_every_tenant_feed_comes_back_after_a_nats_restart(
    tenant: str, path: str, wide_above: int
) -> None:
    """120 tenants followed, NATS restarted: with consumers, each feed finds its consumer gone and makes a
    new one after the last event it handed on (at most NOTIFIER_FOLLOW_CREATES at once; wide above 60
    tenants, the one consumer of every event); with republish, the live stream (in memory) is made again
    and every tenant's last stored event looked at. Every socket then gets the events published after
    the restart, and none published before it twice."""
    server = EmbeddedNats().start()
    boards = [Board(f"{tenant}-{i}") for i in range(120)]
    try:
        async with (
            run_notifier(
                server.url, follow_creates=8, follow_all_above=wide_above, interest_path=path
            ) as notifier,
            contextlib.AsyncExitStack() as open_,
        ):
            sockets = []
            for b in boards:
                c = await open_.enter_async_context(client(notifier, token(b.tenant_id)))
                await c.control("welcome")
                sockets.append(c)
            async with publisher(server.url) as pub:
                for b in boards:
                    await pub.publish(make_event(b))
            for c in sockets:
                assert len(await c.events(1)) == 1
            follower = notifier.app.state.bridge.follower
            created, checks = follower.created, getattr(follower, "checks", 0)
            await asyncio.to_thread(server.stop)
            await asyncio.to_thread(server.start)
            async with publisher(server.url) as pub:
                after = [make_event(b) for b in boards]
                for event in after:
                    await pub.publish(event)
            for c, event in zip(sockets, after, strict=True):
                assert [e["event_id"] for e in await c.events(1, timeout=30)] == [str(event.event_id)]
                assert await c.quiet(0.01) == []
            assert follower.wide == bool(wide_above)
            if path == "republish":
                assert follower.checks - checks >= len(boards)  # each tenant looked at after the restart
            else:
                assert follower.created - created >= (1 if wide_above else len(boards))
    finally:
        server.cleanup()
