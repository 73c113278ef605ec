"""The outbox relay against real PostgreSQL and real NATS: order, exactly once, outages, two instances."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator

import asyncpg
import pytest

from sprintboard_backlog.adapters.migrations import upgrade
from sprintboard_backlog.adapters.nats_publisher import JetStreamPublisher, OutgoingMessage
from sprintboard_backlog.adapters.relay import OutboxRelay, first_row_per_task
from sprintboard_contracts.subjects import V1_STREAM_NAME, EventType, subject_for, subject_v2_for
from sprintboard_devstack.databases import fresh_database
from sprintboard_devstack.servers import EmbeddedNats
from sprintboard_devstack.stream_reader import read_stream
from sprintboard_kit.stream import UnsupportedServer


@pytest.fixture
async def dsn(postgres_url: str) -> AsyncIterator[str]:
    async with fresh_database(postgres_url, "relay_test") as url:
        await upgrade(url)  # the relay reads the outbox table the migrations create
        yield url


SUBJECT = subject_v2_for("acme", uuid.UUID(int=0), None, EventType.STATUS_CHANGED)


@pytest.fixture
def nats_server() -> AsyncIterator[EmbeddedNats]:
    server = EmbeddedNats().start()
    yield server
    server.cleanup()


async def insert_events(dsn: str, tasks: list[uuid.UUID], versions: int) -> list[dict[str, object]]:
    """Write `versions` events per task, interleaved across tasks as concurrent writers would."""
    conn = await asyncpg.connect(dsn)
    written = []
    try:
        for version in range(1, versions + 1):
            for task in tasks:
                event = {"event_id": str(uuid.uuid4()), "task_id": str(task), "task_version": version}
                await conn.execute(
                    "INSERT INTO outbox (event_id, task_id, subject, payload) VALUES ($1, $2, $3, $4)",
                    uuid.UUID(event["event_id"]),
                    task,
                    SUBJECT,
                    json.dumps(event),
                )
                written.append(event)
    finally:
        await conn.close()
    return written


@contextlib.asynccontextmanager
async def running(relay: OutboxRelay) -> AsyncIterator[OutboxRelay]:
    task = asyncio.create_task(relay.run())
    try:
        yield relay
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def wait_published(dsn: str, expected: int, timeout: float = 30.0) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        async with asyncio.timeout(timeout):
            while (
                await conn.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NOT NULL") < expected
            ):
                await asyncio.sleep(0.05)
    finally:
        await conn.close()


def assert_exactly_once_in_order(stored: list[dict[str, object]], written: list[dict[str, object]]) -> None:
    assert sorted(e["event_id"] for e in stored) == sorted(e["event_id"] for e in written)  # type: ignore[type-var]
    versions: dict[object, list[object]] = defaultdict(list)
    for e in stored:
        versions[e["task_id"]].append(e["task_version"])
    for seen in versions.values():
        assert seen == sorted(seen), seen


def make_relay(dsn: str, nats_url: str, **kw: float) -> OutboxRelay:
    return OutboxRelay(
        dsn, JetStreamPublisher(nats_url, ack_timeout=1.0), poll_interval=0.2, max_backoff=0.5, **kw
    )  # type: ignore[arg-type]


def test_a_batch_keeps_only_the_oldest_row_of_each_task() -> None:
    a, b = uuid.uuid4(), uuid.uuid4()
    rows = [{"id": 1, "task_id": a}, {"id": 2, "task_id": b}, {"id": 3, "task_id": a}]
    assert [r["id"] for r in first_row_per_task(rows)] == [1, 2]


async def test_relay_publishes_every_row_once_in_task_order(dsn: str, nats_server: EmbeddedNats) -> None:
    written = await insert_events(dsn, [uuid.uuid4() for _ in range(10)], versions=5)
    async with running(make_relay(dsn, nats_server.url)):
        await wait_published(dsn, len(written))
    stored = await read_stream(nats_server.url)
    assert [s.msg_id for s in stored] == [s.data["event_id"] for s in stored]
    assert_exactly_once_in_order([s.data for s in stored], written)


async def test_each_event_is_stored_once_on_its_v2_subject_and_copied_to_the_v1_stream(
    dsn: str, nats_server: EmbeddedNats
) -> None:
    written = await insert_events(dsn, [uuid.uuid4() for _ in range(3)], versions=2)
    async with running(make_relay(dsn, nats_server.url)):
        await wait_published(dsn, len(written))
        stored = await read_stream(nats_server.url)
        async with asyncio.timeout(10):
            while len(v1 := await read_stream(nats_server.url, stream=V1_STREAM_NAME)) < len(written):
                await asyncio.sleep(0.05)
    assert [s.subject for s in stored] == [SUBJECT] * len(written)
    assert [(s.data, s.subject) for s in v1] == [
        (s.data, subject_for(uuid.UUID(int=0), EventType.STATUS_CHANGED)) for s in stored
    ]


async def test_a_row_written_before_the_upgrade_is_published_on_its_v2_subject(
    dsn: str, nats_server: EmbeddedNats
) -> None:
    project, sprint, task = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    event = {
        "type": "task_created",
        "event_id": str(uuid.uuid4()),
        "tenant_id": "org.with dots",
        "project_id": str(project),
        "sprint_id": str(sprint),
        "task_id": str(task),
        "task_version": 1,
    }
    conn = await asyncpg.connect(dsn)
    try:  # an outbox row as the relay before v2 subjects wrote it, still pending at the upgrade
        await conn.execute(
            "INSERT INTO outbox (event_id, task_id, subject, payload) VALUES ($1, $2, $3, $4)",
            uuid.UUID(event["event_id"]),  # type: ignore[arg-type]
            task,
            subject_for(project, EventType.TASK_CREATED),
            json.dumps(event),
        )
    finally:
        await conn.close()
    async with running(make_relay(dsn, nats_server.url)):
        await wait_published(dsn, 1)
    [stored] = await read_stream(nats_server.url)
    assert stored.subject == subject_v2_for("org.with dots", project, sprint, EventType.TASK_CREATED)
    assert stored.data == event and stored.msg_id == event["event_id"]


async def test_rows_wait_while_nats_is_down_then_drain_exactly_once(
    dsn: str, nats_server: EmbeddedNats
) -> None:
    nats_server.stop()
    relay = make_relay(dsn, nats_server.url)
    async with running(relay):
        written = await insert_events(dsn, [uuid.uuid4() for _ in range(20)], versions=5)
        relay.wake()
        await asyncio.sleep(1.0)
        conn = await asyncpg.connect(dsn)
        assert await conn.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL") == 100
        await conn.close()
        nats_server.start()
        await wait_published(dsn, len(written))
    assert_exactly_once_in_order([s.data for s in await read_stream(nats_server.url)], written)


async def test_a_row_published_but_not_marked_is_stored_once(dsn: str, nats_server: EmbeddedNats) -> None:
    written = await insert_events(dsn, [uuid.uuid4()], versions=1)
    publisher = JetStreamPublisher(nats_server.url)
    await publisher.publish_batch(
        [
            OutgoingMessage(
                str(written[0]["event_id"]),
                SUBJECT,
                json.dumps(written[0]).encode(),
            )
        ]
    )
    await publisher.close()  # "crash" before marking the row
    async with running(make_relay(dsn, nats_server.url)):
        await wait_published(dsn, 1)
    assert len(await read_stream(nats_server.url)) == 1


async def test_two_relays_elect_one_leader_and_fail_over(dsn: str, nats_server: EmbeddedNats) -> None:
    first, second = make_relay(dsn, nats_server.url), make_relay(dsn, nats_server.url)
    tasks = [uuid.uuid4() for _ in range(8)]
    async with running(first), running(second):
        written = await insert_events(dsn, tasks, versions=3)
        second.wake()  # a commit in the non-leader reaches the leader through NOTIFY
        await wait_published(dsn, len(written))
        assert [first.is_leader, second.is_leader].count(True) == 1
    async with running(second):
        written += await insert_events(dsn, tasks, versions=2)
        await wait_published(dsn, len(written))
        assert second.is_leader
    stored = [s.data for s in await read_stream(nats_server.url)]
    assert len(stored) == len(written)
    assert len({e["event_id"] for e in stored}) == len(written)


async def test_a_nats_older_than_the_minimum_is_refused_and_the_rows_wait(
    dsn: str, too_old_nats_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    written = await insert_events(dsn, [uuid.uuid4()], versions=1)
    with pytest.raises(UnsupportedServer, match=r"too old: Sprintboard needs NATS >= 2\.10\.0"):
        await JetStreamPublisher(too_old_nats_url).publish_batch([])
    async with running(make_relay(dsn, too_old_nats_url)), asyncio.timeout(10):
        while not any("too old" in r.getMessage() and r.levelname == "ERROR" for r in caplog.records):
            await asyncio.sleep(0.05)
    conn = await asyncpg.connect(dsn)
    try:
        assert await conn.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL") == len(written)
    finally:
        await conn.close()


class _SlowMarker:
    """A marking connection whose UPDATE waits until released (a slow commit, say)."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn
        self.release = asyncio.Event()
        self.marks = 0

    async def execute(self, query: str, *args: object) -> str:
        self.marks += 1
        await self.release.wait()
        result: str = await self.conn.execute(query, *args)
        return result


async def test_the_next_batch_is_published_while_the_last_one_is_still_being_marked(
    dsn: str, nats_server: EmbeddedNats
) -> None:
    task = uuid.uuid4()
    relay = make_relay(dsn, nats_server.url)
    conn, marker_conn = await asyncpg.connect(dsn), await asyncpg.connect(dsn)
    marker = _SlowMarker(marker_conn)
    try:
        first = await insert_events(dsn, [task], versions=1)
        assert await relay.drain_once(conn, marker) == 1  # type: ignore[arg-type]
        # Its mark is held: the next version of the same task is published now, and the row being
        # marked is not sent again.
        second = await insert_events(dsn, [task], versions=1)
        drained = asyncio.create_task(relay.drain_once(conn, marker))  # type: ignore[arg-type]
        async with asyncio.timeout(10):
            while len(await read_stream(nats_server.url)) < 2:
                await asyncio.sleep(0.02)
        assert not drained.done() and marker.marks == 1  # waiting for the first mark before its own
        marker.release.set()
        assert await drained == 1
        assert await relay.drain_once(conn, marker) == 0  # type: ignore[arg-type]
        assert await conn.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL") == 0
    finally:
        await relay._publisher.close()
        await conn.close()
        await marker_conn.close()
    stored = [s.data for s in await read_stream(nats_server.url)]
    assert [e["event_id"] for e in stored] == [first[0]["event_id"], second[0]["event_id"]]
