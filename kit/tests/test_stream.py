"""Stream setup against a real (throwaway) NATS: created as configured when missing, else left alone."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator

import nats
import pytest
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, StreamConfig
from nats.js.errors import BadRequestError

from sprintboard_contracts.subjects import (
    ALL_TASK_EVENTS,
    ALL_V1,
    STREAM_NAME,
    STREAM_SUBJECTS,
    V1_STREAM_NAME,
    V1_STREAM_SUBJECTS,
    EventType,
    filter_v2_for_tenant,
    subject_for,
    subject_v2_for,
)
from sprintboard_devstack.servers import EmbeddedNats
from sprintboard_kit.stream import (
    StreamSettings,
    UnsupportedServer,
    ensure_stream,
    require_server_version,
    stream_epoch,
    v1_source,
)


@pytest.fixture
async def js() -> AsyncIterator[JetStreamContext]:
    server = EmbeddedNats().start()
    try:
        nc = await nats.connect(server.url)
        try:
            yield nc.jetstream()
        finally:
            await nc.close()
    finally:
        server.cleanup()


async def test_the_stream_takes_more_consumers_than_the_servers_default() -> None:
    # A notifier holds a consumer per followed tenant; NATS 2.15 caps a stream that sets no limit at 1,000.
    server = EmbeddedNats().start()
    try:
        nc = await nats.connect(server.url)
        js = nc.jetstream()
        info = await ensure_stream(js)
        assert info.config.max_consumers == 100_000
        for n in range(1_001):
            inbox = nc.new_inbox()
            await nc.subscribe(inbox)
            config = ConsumerConfig(
                deliver_subject=inbox, ack_policy=AckPolicy.NONE, filter_subject=filter_v2_for_tenant(f"t{n}")
            )
            await js.add_consumer(STREAM_NAME, config)
        assert (await js.stream_info(STREAM_NAME)).state.consumer_count == 1_001
        await nc.close()
    finally:
        server.cleanup()


async def test_a_missing_stream_is_created_with_the_settings(js: JetStreamContext) -> None:
    info = await ensure_stream(
        js, StreamSettings(max_age_seconds=3600, duplicate_window_seconds=300, max_msgs=50)
    )
    assert info.config.name == STREAM_NAME and info.config.subjects == list(STREAM_SUBJECTS)
    assert (info.config.max_age, info.config.duplicate_window, info.config.max_msgs) == (3600, 300, 50)
    assert stream_epoch(info) == stream_epoch(await js.stream_info(STREAM_NAME))
    v1 = (await js.stream_info(V1_STREAM_NAME)).config
    assert v1.subjects == list(V1_STREAM_SUBJECTS) and v1.sources == [v1_source()]
    assert (v1.max_age, v1.max_msgs) == (3600, 50)  # the v1 stream keeps what BACKLOG_TASKS keeps


async def test_an_existing_stream_keeps_what_was_tuned(js: JetStreamContext) -> None:
    first = await ensure_stream(js)
    again = await ensure_stream(js, StreamSettings(max_age_seconds=60, duplicate_window_seconds=600))
    assert (again.config.max_age, again.config.duplicate_window) == (7 * 24 * 3600, 120)
    assert stream_epoch(again) == stream_epoch(first)
    await js.delete_stream(STREAM_NAME)
    assert stream_epoch(await ensure_stream(js)) != stream_epoch(first)  # a recreated stream is a new epoch


async def test_the_v1_stream_follows_a_recreated_stream_from_its_first_event(js: JetStreamContext) -> None:
    await ensure_stream(js)
    project = uuid.uuid4()
    for kind in (EventType.TASK_CREATED, EventType.TASK_UPDATED):
        await js.publish(subject_v2_for("acme", project, None, kind), kind.value.encode(), stream=STREAM_NAME)
    await js.delete_stream(STREAM_NAME)
    await ensure_stream(js)
    new = subject_v2_for("acme", project, None, EventType.STATUS_CHANGED)
    await js.publish(new, b"new", stream=STREAM_NAME)
    sub = await js.subscribe(ALL_V1, ordered_consumer=True)
    first = await sub.next_msg(timeout=5)
    assert (first.subject, first.data) == (subject_for(project, EventType.STATUS_CHANGED), b"new")
    assert first.metadata.sequence.stream == 1  # the v1 copy of the new epoch holds the new events only


async def test_many_processes_setting_up_at_once_agree(js: JetStreamContext) -> None:
    infos = await asyncio.gather(*(ensure_stream(js) for _ in range(4)))
    assert len({stream_epoch(info) for info in infos}) == 1
    assert (await js.stream_info(V1_STREAM_NAME)).config.sources == [v1_source()]


async def test_a_stream_made_for_v1_subjects_is_upgraded_and_v1_consumers_read_on(
    js: JetStreamContext,
) -> None:
    # A deployment from before v2: BACKLOG_TASKS over every task subject, a tuned retention, v1 events.
    await js.add_stream(
        StreamConfig(name=STREAM_NAME, subjects=["backlog.tasks.>"], max_age=3600, duplicate_window=300)
    )
    project = uuid.uuid4()
    legacy = subject_for(project, EventType.TASK_CREATED)
    await js.publish(legacy, b'{"n": 1}', headers={"Nats-Msg-Id": "e1"})
    created = (await js.stream_info(STREAM_NAME)).created

    info = await ensure_stream(js)
    assert info.config.subjects == list(STREAM_SUBJECTS)
    assert info.created == created  # the same stream: the same epoch, every resume position still good
    assert (info.config.max_age, info.config.duplicate_window) == (3600, 300)
    assert info.state.messages == 1  # what was stored stays, on its v1 subject

    v2 = subject_v2_for("a.b c", project, None, EventType.STATUS_CHANGED)
    ack = await js.publish(v2, b'{"n": 2}', headers={"Nats-Msg-Id": "e2"}, stream=STREAM_NAME)
    assert (ack.stream, ack.seq) == (STREAM_NAME, 2)
    with pytest.raises(BadRequestError):  # a v1 publish can never be taken for one of BACKLOG_TASKS's
        await js.publish(legacy, b"{}", stream=STREAM_NAME)

    # A v1 consumer, found by its subject: both events, in order, once, on v1 subjects, same payloads.
    sub = await js.subscribe(ALL_V1, ordered_consumer=True)
    got = [await sub.next_msg(timeout=5) for _ in range(2)]
    assert [(m.subject, m.data, m.metadata.stream) for m in got] == [
        (legacy, b'{"n": 1}', V1_STREAM_NAME),
        (subject_for(project, EventType.STATUS_CHANGED), b'{"n": 2}', V1_STREAM_NAME),
    ]
    with pytest.raises(nats.errors.TimeoutError):
        await sub.next_msg(timeout=0.5)
    # BACKLOG_TASKS read with ALL_TASK_EVENTS: the stored v1 event, then the v2 one.
    everything = await js.subscribe(ALL_TASK_EVENTS, stream=STREAM_NAME, ordered_consumer=True)
    assert [(await everything.next_msg(timeout=5)).subject for _ in range(2)] == [legacy, v2]


async def test_a_server_new_enough_passes_the_version_check() -> None:
    server = EmbeddedNats().start()
    try:
        nc = await nats.connect(server.url)
        try:
            require_server_version(nc)
        finally:
            await nc.close()
    finally:
        server.cleanup()


async def test_an_older_server_is_refused_naming_both_versions(too_old_nats_url: str) -> None:
    nc = await nats.connect(too_old_nats_url)
    try:
        version = nc.connected_server_version
        have = f"{version.major}.{version.minor}.{version.patch}"
        expected = rf"NATS server {re.escape(have)} is too old.*>= 2\.10\.0"
        with pytest.raises(UnsupportedServer, match=expected):
            require_server_version(nc)
    finally:
        await nc.close()
