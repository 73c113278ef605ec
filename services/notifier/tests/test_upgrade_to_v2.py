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


@pytest.mark.parametrize("scope", ["project", "tenant"])
async def test_a_resume_from_before_the_upgrade_gets_the_v1_and_the_v2_events(
    old_nats: str, scope: str
) -> None:
    board = Board(TENANT)
    nc = await nats.connect(old_nats)
    try:
        js = nc.jetstream()
        await js.add_stream(
            StreamConfig(
                name=STREAM_NAME, subjects=["backlog.tasks.>"], duplicate_window=120, allow_direct=True
            )
        )
        old = [make_event(board) for _ in range(3)]
        for event in old:  # as the relay before v2 published them
            await js.publish(
                subject_for(event.project_id, EventType.OWNERSHIP_TAKEN),
                contract.event_to_json(event),
                headers={"Nats-Msg-Id": str(event.event_id)},
            )
        epoch = stream_epoch(await js.stream_info(STREAM_NAME))
    finally:
        await nc.close()

    sub = {"project_id": str(board.project_id)} if scope == "project" else {}
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
