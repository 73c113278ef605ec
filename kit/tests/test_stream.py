"""Stream setup against a real (throwaway) NATS: created as configured when missing, else left alone."""

from __future__ import annotations

from collections.abc import AsyncIterator

import nats
import pytest
from nats.js import JetStreamContext

from sprintboard_contracts.subjects import STREAM_NAME, STREAM_SUBJECTS
from sprintboard_devstack.servers import EmbeddedNats
from sprintboard_kit.stream import StreamSettings, ensure_stream, stream_epoch


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


async def test_a_missing_stream_is_created_with_the_settings(js: JetStreamContext) -> None:
    info = await ensure_stream(
        js, StreamSettings(max_age_seconds=3600, duplicate_window_seconds=300, max_msgs=50)
    )
    assert info.config.name == STREAM_NAME and info.config.subjects == list(STREAM_SUBJECTS)
    assert (info.config.max_age, info.config.duplicate_window, info.config.max_msgs) == (3600, 300, 50)
    assert stream_epoch(info) == stream_epoch(await js.stream_info(STREAM_NAME))


async def test_an_existing_stream_is_never_changed(js: JetStreamContext) -> None:
    first = await ensure_stream(js)
    again = await ensure_stream(js, StreamSettings(max_age_seconds=60, duplicate_window_seconds=600))
    assert (again.config.max_age, again.config.duplicate_window) == (7 * 24 * 3600, 120)
    assert stream_epoch(again) == stream_epoch(first)
    await js.delete_stream(STREAM_NAME)
    assert stream_epoch(await ensure_stream(js)) != stream_epoch(first)  # a recreated stream is a new epoch
