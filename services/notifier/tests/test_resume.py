"""Resume over real JetStream: replay then live, no gap and no duplicate; resync when it cannot be done."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

import pytest
from notifier_kit import Board, Notifier, caught_up, client, make_event, publisher, run_notifier, token

from sprintboard_contracts.subjects import STREAM_NAME
from sprintboard_devstack.servers import EmbeddedNats
from sprintboard_kit.stream import ensure_stream

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def small_nats() -> Iterator[str]:
    """A NATS of our own: its stream (created by the first notifier) keeps only 20 messages."""
    server = EmbeddedNats().start()
    try:
        yield server.url
    finally:
        server.cleanup()


async def test_resume_replays_exactly_the_missed_events_then_live(nats_url: str, tenant: str) -> None:
    board, other = Board(tenant), Board(tenant)
    sprint = {"sprint_id": str(board.sprint_id)}
    async with run_notifier(nats_url) as notifier, publisher(nats_url) as pub:
        async with client(notifier, token(tenant)) as c:
            welcome = await c.control("welcome")
            await c.send({"type": "subscribe", **sprint})
            await c.control("subscribed")
            for _ in range(7):
                await pub.publish(make_event(board))
            seen = await c.events(7)
        last = seen[-1]["seq"]

        missed = []
        for i in range(50):
            missed.append(make_event(board, story=board.stories[i % 3]))
            await pub.publish(missed[-1])
            await pub.publish(make_event(other))  # same tenant, other sprint: filtered out of the replay

        async with client(notifier, token(tenant), auth="frame") as c:
            await c.control("welcome")
            await c.send(
                {"type": "subscribe", **sprint, "resume_from": {"seq": last, "epoch": welcome["epoch"]}}
            )

            live = [make_event(board) for _ in range(30)]

            async def publish_live() -> None:
                for event in live:
                    await pub.publish(event)
                    await asyncio.sleep(0.002)

            publishing = asyncio.create_task(publish_live())
            got = await c.events(80, timeout=20)
            await publishing
            assert [e["event_id"] for e in got] == [str(e.event_id) for e in missed + live]
            seqs = [e["seq"] for e in got]
            assert seqs == sorted(seqs) and seqs[0] > last
            assert await c.quiet(0.3) == []
            after = make_event(board)
            await pub.publish(after)
            assert [e["event_id"] for e in await c.events(1)] == [str(after.event_id)]


async def test_tenant_wide_resume(nats_url: str, tenant: str) -> None:
    board = Board(tenant)
    async with run_notifier(nats_url) as notifier, publisher(nats_url) as pub:
        epoch = notifier.hub.epoch
        seqs = [await pub.publish(make_event(board)) for _ in range(10)]
        await asyncio.sleep(0.2)
        async with client(notifier, token(tenant)) as c:
            await c.control("welcome")
            await c.send({"type": "subscribe", "resume_from": {"seq": seqs[4], "epoch": epoch}})
            got = await c.events(5)
            assert [e["seq"] for e in got] == seqs[5:]
            assert await c.quiet(0.3) == []


async def test_wrong_epoch_requires_resync_and_live_continues(small_nats: str, tenant: str) -> None:
    board = Board(tenant)
    async with (
        run_notifier(small_nats, stream_max_msgs=20) as notifier,
        publisher(small_nats) as pub,
        client(notifier, token(tenant)) as c,
    ):
        await c.control("welcome")
        await c.send(
            {
                "type": "subscribe",
                "sprint_id": str(board.sprint_id),
                "resume_from": {"seq": 0, "epoch": "x"},
            }
        )
        resync = await c.control("resync_required")
        assert resync["epoch"] == notifier.hub.epoch
        event = make_event(board)
        await pub.publish(event)
        assert [e["event_id"] for e in await c.events(1)] == [str(event.event_id)]


async def test_resume_older_than_the_stream_keeps_requires_resync(small_nats: str, tenant: str) -> None:
    board = Board(tenant)
    # The instance remembers only the last 10: older gaps are read from the stream, which keeps 20.
    async with (
        run_notifier(small_nats, stream_max_msgs=20, history_events=10) as notifier,
        publisher(small_nats) as pub,
    ):
        seqs = [await pub.publish(make_event(board)) for _ in range(50)]
        first_seq = (await pub.js.stream_info(STREAM_NAME)).state.first_seq
        assert first_seq == seqs[-1] - 19
        epoch = notifier.hub.epoch
        async with client(notifier, token(tenant)) as c:
            await c.control("welcome")
            await c.send({"type": "subscribe", "resume_from": {"seq": first_seq - 2, "epoch": epoch}})
            await c.control("resync_required")
        async with client(notifier, token(tenant)) as c:
            # The oldest kept minus one is still a complete resume.
            await c.control("welcome")
            await c.send({"type": "subscribe", "resume_from": {"seq": first_seq - 1, "epoch": epoch}})
            got = await c.events(20)
            assert [e["seq"] for e in got] == seqs[-20:]
            assert all(f.get("type") != "resync_required" for f in c.controls)


def _twin(board: Board, tenant: str) -> Board:
    """Another tenant's board with the same ids: only the tenant tells their events apart."""
    return Board(tenant, board.project_id, board.sprint_id, list(board.stories))


@pytest.mark.parametrize("path", ["recent", "stored"])
@pytest.mark.parametrize("scope", ["tenant", "sprint"])
async def test_a_resume_gets_exactly_its_own_tenants_events(
    nats_url: str, tenant: str, path: str, scope: str
) -> None:
    """Two tenants interleave changes while one's socket is away: `recent` resumes from the instance's
    memory of what went by live, `stored` from the stream (the events predate the instance, which keeps
    no memory: a new tenant feed would otherwise fill it with them)."""
    mine = Board(tenant)
    theirs = _twin(mine, f"{tenant}-other")
    sub = {"sprint_id": str(mine.sprint_id)} if scope == "sprint" else {}
    async with publisher(nats_url) as pub:
        await ensure_stream(pub.js)
        before = await pub.publish(make_event(mine))
        missed: list[str] = []

        async def interleave() -> None:
            for i in range(40):
                event = make_event(mine if i % 2 else theirs, story=mine.stories[i % 3])
                await pub.publish(event)
                if i % 2:
                    missed.append(str(event.event_id))

        if path == "stored":
            await interleave()
        memory = {"history_events": 0} if path == "stored" else {}
        async with run_notifier(nats_url, **memory) as notifier:
            epoch = notifier.hub.epoch
            async with contextlib.AsyncExitStack() as held:
                if path == "recent":
                    # A socket of the tenant is open while they go by: the instance follows the tenant.
                    watcher = await held.enter_async_context(client(notifier, token(tenant)))
                    await watcher.control("welcome")
                    await interleave()
                    await caught_up(notifier, tenant, before + 40)
                await _resume_own_tenant(notifier, tenant, sub, before, epoch, missed, path)


async def _resume_own_tenant(
    notifier: Notifier,
    tenant: str,
    sub: dict[str, str],
    before: int,
    epoch: str,
    missed: list[str],
    path: str,
) -> None:
    async with client(notifier, token(tenant), auth="frame") as c:
        await c.control("welcome")
        await c.send({"type": "subscribe", **sub, "resume_from": {"seq": before, "epoch": epoch}})
        got = await c.events(len(missed))
        assert [e["event_id"] for e in got] == missed
        assert {e["tenant_id"] for e in got} == {tenant}
        stream_reads = notifier.app.state.bridge.history.reads
        assert (stream_reads > 0) == (path == "stored")
        assert await c.quiet(0.3) == []
