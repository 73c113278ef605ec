"""The follower refuses a NATS older than the stream setup needs, before it touches any stream."""

from __future__ import annotations

import nats
import pytest

from sprintboard_kit.stream import UnsupportedServer
from sprintboard_notifier.metrics import NotifierMetrics
from sprintboard_notifier.stream.follower import StreamFollower

pytestmark = pytest.mark.integration


async def test_an_older_nats_is_refused_with_both_versions_and_no_stream_is_made(
    too_old_nats_url: str,
) -> None:
    follower = StreamFollower(too_old_nats_url, lambda *_: None, NotifierMetrics())
    try:
        with pytest.raises(UnsupportedServer, match=r"NATS server 2\.\d+\.\d+ is too old.*>= 2\.10\.0"):
            await follower.start()
        assert not follower.running
    finally:
        await follower.stop()
    nc = await nats.connect(too_old_nats_url)
    try:
        assert await nc.jetstream().streams_info() == []
    finally:
        await nc.close()
