"""A stream made before v2 subjects: the notifier upgrades it in place and a resume crosses the upgrade."""

from __future__ import annotations

from collections.abc import Iterator

import nats
import pytest
from nats.js.api import StreamConfig
from notifier_kit import Board, client, make_event, publisher, run_notifier, token

from sprintboard_contracts import events as contract
from sprintboard_contracts.subjects import STREAM_NAME, STREAM_SUBJECTS, EventType, subject_for
from sprintboard_devstack.servers import EmbeddedNats
from sprintboard_kit.stream import stream_epoch

pytestmark = pytest.mark.integration

TENANT = "org.upgraded"


@pytest.fixture
def old_nats() -> Iterator[str]:
    """A NATS of our own, with BACKLOG_TASKS as the version before v2 subjects created it."""
    server = EmbeddedNats().start()
    try:
        yield server.url
    finally:
        server.cleanup()


async def stored_before_the_upgrade(nats_url: str, events: list[contract.OwnershipTaken]) -> str:
    """BACKLOG_TASKS as the version before v2 made it, holding `events` on v1 subjects; its epoch."""
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        await js.add_stream(
            StreamConfig(
                name=STREAM_NAME, subjects=["backlog.tasks.>"], duplicate_window=120, allow_direct=True
            )
        )
        for event in events:  # as the relay before v2 published them
            await js.publish(
                subject_for(event.project_id, EventType.OWNERSHIP_TAKEN),
                contract.event_to_json(event),
                headers={"Nats-Msg-Id": str(event.event_id)},
            )
        return stream_epoch(await js.stream_info(STREAM_NAME))
    finally:
        await nc.close()


@pytest.mark.parametrize("scope", ["project", "sprint", "tenant"])
async def test_a_resume_from_before_the_upgrade_gets_the_v1_and_the_v2_events(
    old_nats: str, scope: str
) -> None:
    board = Board(TENANT)
    old = [make_event(board) for _ in range(3)]
    epoch = await stored_before_the_upgrade(old_nats, old)

    sub = {f"{scope}_id": str(getattr(board, f"{scope}_id"))} if scope != "tenant" else {}
    new = [make_event(board) for _ in range(3)]
    async with run_notifier(old_nats) as notifier, publisher(old_nats) as pub:
        info = await pub.js.stream_info(STREAM_NAME)
        assert info.config.subjects == list(STREAM_SUBJECTS)
        assert notifier.hub.epoch == epoch  # the same stream: a board's resume position stays good
        for event in new:
            await pub.publish(event)  # on its v2 subject
        async with client(notifier, token(TENANT), auth="frame") as c:
            await c.control("welcome")
            await c.send({"type": "subscribe", **sub, "resume_from": {"seq": 0, "epoch": epoch}})
            got = await c.events(6)  # the v1 ones from the stream, the v2 ones from the instance's memory
            assert [e["event_id"] for e in got] == [str(e.event_id) for e in old + new]
            assert [e["seq"] for e in got] == list(range(1, 7))
    # Another instance, with nothing in memory: every event comes from the stream, on both subject versions.
    async with (
        run_notifier(old_nats) as notifier,
        publisher(old_nats) as pub,
        client(notifier, token(TENANT), auth="frame") as c,
    ):
        await c.control("welcome")
        await c.send({"type": "subscribe", **sub, "resume_from": {"seq": 0, "epoch": epoch}})
        got = await c.events(6)
        assert [e["event_id"] for e in got] == [str(e.event_id) for e in old + new]
        live = make_event(board)
        await pub.publish(live)
        assert [e["event_id"] for e in await c.events(1)] == [str(live.event_id)]


async def test_a_stored_resume_reads_only_its_sprints_and_projects_and_the_v1_events(old_nats: str) -> None:
    """A resume from the stream reads what the socket may get, not every tenant's events in the range:
    the v2 events of its subscriptions' tenant, sprints and projects, and the v1 ones (which carry no
    tenant); it still sends exactly its own, in order. Other tenants share the ids, so only the tenant
    token of the subject keeps their events out of the read."""
    board, elsewhere = Board(TENANT), Board(TENANT)  # elsewhere: another project and sprint, same tenant
    twins = [Board(f"{TENANT}-{i}", board.project_id, board.sprint_id, board.stories) for i in range(3)]
    old = [make_event(b) for b in (board, elsewhere, twins[0], board)]
    epoch = await stored_before_the_upgrade(old_nats, old)
    new = []
    async with publisher(old_nats) as pub:
        for i in range(300):  # more than one stream read of other tenants' events
            new.append(make_event(twins[i % 3]))
            if i % 20 == 0:
                new.append(make_event(board))
                new.append(make_event(board, sprint=False))  # the sprint's project, in no sprint
                new.append(make_event(elsewhere))
        for event in new:
            await pub.publish(event)
    for sub, wanted in (
        ([{"sprint_id": str(board.sprint_id)}], lambda e: e.sprint_id == board.sprint_id),
        (
            [{"sprint_id": str(board.sprint_id)}, {"project_id": str(elsewhere.project_id)}],
            lambda e: e.sprint_id == board.sprint_id or e.project_id == elsewhere.project_id,
        ),
        ([{"project_id": str(board.project_id)}], lambda e: e.project_id == board.project_id),
    ):
        # A fresh instance remembers nothing: the whole gap is read from the stream.
        async with run_notifier(old_nats) as notifier, client(notifier, token(TENANT), auth="frame") as c:
            await c.control("welcome")
            # With one subscription the resume names it; with several, it is of the socket's whole feed.
            resume = {"type": "subscribe", **sub[0]} if len(sub) == 1 else {"type": "subscribe"}
            for one in sub if len(sub) > 1 else []:
                await c.send({"type": "subscribe", **one})
                await c.control("subscribed")
            await c.send({**resume, "resume_from": {"seq": 0, "epoch": epoch}})
            mine = [e for e in old + new if e.tenant_id == TENANT and wanted(e)]
            got = await c.events(len(mine))
            assert [e["event_id"] for e in got] == [str(e.event_id) for e in mine]
            assert [e["seq"] for e in got] == sorted(e["seq"] for e in got)
            assert await c.quiet(0.3) == []
            # Read: every v1 event of the stream when a sprint is followed (v1 subjects carry no sprint),
            # else only the project's; and the v2 events of this tenant that the feed may get.
            v1_read = [e for e in old if len(sub) > 1 or "sprint_id" in sub[0] or wanted(e)]
            v2_read = [e for e in new if e.tenant_id == TENANT and wanted(e)]
            assert notifier.app.state.bridge.history.messages == len(v1_read) + len(v2_read)
