"""The follower refuses a NATS older than the stream setup needs, before it touches any stream."""

from __future__ import annotations

import nats
import pytest

from sprintboard_devstack.servers import EmbeddedNats, older_nats_binary
from sprintboard_kit.stream import MINIMUM_SERVER_VERSION, UnsupportedServer
from sprintboard_notifier.metrics import NotifierMetrics
from sprintboard_notifier.stream.follower import StreamFollower

pytestmark = pytest.mark.integration


async def test_an_older_nats_is_refused_with_both_versions_and_no_stream_is_made() -> None:
    binary = older_nats_binary(MINIMUM_SERVER_VERSION)
    if binary is None:
        pytest.skip("no nats-server older than 2.10 on this machine")
    server = EmbeddedNats(binary=binary).start()
    try:
        follower = StreamFollower(server.url, lambda *_: None, NotifierMetrics())
        try:
            with pytest.raises(UnsupportedServer, match=r"NATS server 2\.\d+\.\d+ is too old.*>= 2\.10\.0"):
                await follower.start()
            assert not follower.running
        finally:
            await follower.stop()
        nc = await nats.connect(server.url)
        try:
            assert await nc.jetstream().streams_info() == []
        finally:
            await nc.close()
    finally:
        server.cleanup()
