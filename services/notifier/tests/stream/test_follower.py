"""The live follower on real JetStream: the stream is created, never clobbered; bad messages are skipped."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid

import httpx
import nats
import pytest
from nats.js.api import StorageType
from notifier_kit import Board, Notifier, client, make_event, publisher, run_notifier, token

from sprintboard_contracts.subjects import STREAM_NAME, subject_v2_for
from sprintboard_contracts.tenant_token import tenant_token
from sprintboard_devstack.servers import EmbeddedNats
from sprintboard_kit.stream import StreamSettings, ensure_stream
from sprintboard_notifier.stream import StreamFollower

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True, params=["republish", "consumers"])
def interest_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each test with either live path of interest routing (the notifiers read NOTIFIER_INTEREST_PATH)."""
    path: str = request.param
    monkeypatch.setenv("NOTIFIER_INTEREST_PATH", path)
    return path


async def test_creates_the_stream_when_missing(fresh_nats: str) -> None:
    async with run_notifier(fresh_nats), publisher(fresh_nats) as pub:
        info = await pub.js.stream_info(STREAM_NAME)
        assert info.config.subjects == ["backlog.tasks.v2.>"]
        assert info.config.max_age == pytest.approx(7 * 24 * 3600)
        assert info.config.duplicate_window == pytest.approx(120)
        assert info.config.storage == StorageType.FILE


async def test_an_existing_stream_is_left_as_it_is(fresh_nats: str) -> None:
    nc = await nats.connect(fresh_nats)
    try:
        await ensure_stream(
            nc.jetstream(), StreamSettings(max_age_seconds=3600, duplicate_window_seconds=300)
        )
    finally:
        await nc.close()
    async with run_notifier(fresh_nats), publisher(fresh_nats) as pub:
        info = await pub.js.stream_info(STREAM_NAME)
        assert info.config.max_age == pytest.approx(3600)
        assert info.config.duplicate_window == pytest.approx(300)


async def test_invalid_messages_are_counted_and_the_consumer_goes_on(nats_url: str, tenant: str) -> None:
    board = Board(tenant)
    async with (
        run_notifier(nats_url) as notifier,
        publisher(nats_url) as pub,
        client(notifier, token(tenant)) as c,
    ):
        await c.control("welcome")
        before = notifier.metrics.invalid_events._value.get()
        subject = subject_v2_for(tenant, board.project_id, None, "ownership_taken")
        await pub.publish_raw(subject, b"{not json")
        await pub.publish_raw(
            subject, b'{"type": "ownership_taken", "tenant_id": "' + tenant.encode() + b'"}'
        )
        await pub.publish_raw(f"backlog.tasks.v2.{tenant_token(tenant)}.{uuid.uuid4()}.none.mystery", b"[]")
        good = make_event(board)
        await pub.publish(good)
        assert [e["event_id"] for e in await c.events(1)] == [str(good.event_id)]
        assert notifier.metrics.invalid_events._value.get() - before == 3
        # A resume across the bad messages skips them, and what this socket already got is not sent again.
        await c.send({"type": "subscribe", "resume_from": {"seq": 0, "epoch": notifier.hub.epoch}})
        await c.control("subscribed")
        assert await c.quiet(0.5) == []


async def test_health_and_metrics(nats_url: str, tenant: str) -> None:
    board = Board(tenant)
    async with (
        run_notifier(nats_url) as notifier,
        publisher(nats_url) as pub,
        client(notifier, token(tenant)) as c,
    ):
        await c.control("welcome")
        event = make_event(board)
        await pub.publish(event)
        got = await c.events(1)
        sent_at = dt.datetime.fromisoformat(got[0]["timestamp"])
        assert sent_at.tzinfo is not None
        async with httpx.AsyncClient(base_url=notifier.http_url) as http:
            assert (await http.get("/health/live")).status_code == 200
            ready = await http.get("/health/ready")
            assert ready.status_code == 200 and ready.json()["checks"] == {"nats_consumer": "ok"}
            text = (await http.get("/metrics")).text
        for name in (
            "notifier_sockets_connected 1.0",
            "notifier_events_received_total",
            "notifier_invalid_events_total",
            "notifier_frames_sent_total",
            "notifier_slow_client_closes_total",
            "notifier_delivery_lag_seconds_bucket",
        ):
            assert name in text
        assert "notifier_delivery_lag_seconds_count" in text


async def _ready(notifier: Notifier, want: int, timeout: float = 30) -> None:
    async with httpx.AsyncClient(base_url=notifier.http_url) as http, asyncio.timeout(timeout):
        while (await http.get("/health/ready")).status_code != want:
            await asyncio.sleep(0.1)


async def test_survives_a_nats_restart(tenant: str) -> None:
    server = EmbeddedNats().start()
    board = Board(tenant)
    try:
        async with run_notifier(server.url):
            pass  # creates the stream
        async with publisher(server.url) as pub:
            for _ in range(5):
                await pub.publish(make_event(board))
        async with run_notifier(server.url) as notifier, client(notifier, token(tenant)) as c:
            await c.control("welcome")
            # Idle since start: nothing delivered yet when NATS goes away.
            server.stop()
            await _ready(notifier, 503)
            server.start()
            await _ready(notifier, 200)
            async with publisher(server.url) as pub:
                second = make_event(board)
                await pub.publish(second)
            assert [e["event_id"] for e in await c.events(1, timeout=30)] == [str(second.event_id)]
            follower = notifier.app.state.bridge.follower
            if isinstance(follower, StreamFollower):
                # The recreated consumer started after what this instance had seen, not at the start.
                assert follower.redelivered == 0
    finally:
        server.cleanup()


@pytest.mark.parametrize("interest_path", ["consumers"], indirect=True)  # the republish path has none
async def test_a_consumer_deleted_on_the_server_is_recreated_after_the_last_event(
    fresh_nats: str, tenant: str
) -> None:
    board = Board(tenant)
    async with (
        run_notifier(fresh_nats) as notifier,
        publisher(fresh_nats) as pub,
        client(notifier, token(tenant)) as c,
    ):
        await c.control("welcome")
        first = make_event(board)
        await pub.publish(first)
        assert [e["event_id"] for e in await c.events(1)] == [str(first.event_id)]
        consumers = await pub.js.consumers_info(STREAM_NAME)
        assert len(consumers) == 1
        await pub.js.delete_consumer(STREAM_NAME, consumers[0].name)
        # Its heartbeats stop: the follower creates a new consumer right after the event it handed on.
        second = make_event(board)
        await pub.publish(second)
        got = await c.events(1, timeout=30)
        assert [e["event_id"] for e in got] == [str(second.event_id)]
        assert got[0]["seq"] == 2
        assert await c.quiet(0.5) == []
        assert notifier.app.state.bridge.follower.redelivered == 0
        now = [ci.name for ci in await pub.js.consumers_info(STREAM_NAME)]
        assert len(now) == 1 and now[0] != consumers[0].name


async def test_a_recreated_stream_is_a_new_epoch(fresh_nats: str, tenant: str) -> None:
    board = Board(tenant)
    async with (
        run_notifier(fresh_nats, stream_watch_seconds=0.2) as notifier,
        publisher(fresh_nats) as pub,
        client(notifier, token(tenant)) as c,
    ):
        old = (await c.control("welcome"))["epoch"]
        await pub.publish(make_event(board))
        await c.events(1)
        await pub.js.delete_stream(STREAM_NAME)
        await asyncio.sleep(0.01)  # a later creation time
        await ensure_stream(pub.js)
        resync = await c.control("resync_required")
        assert resync["epoch"] != old and resync["epoch"] == notifier.hub.epoch
        event = make_event(board)
        await pub.publish(event)
        got = await c.events(1)
        assert got[0]["event_id"] == str(event.event_id) and got[0]["seq"] == 1
