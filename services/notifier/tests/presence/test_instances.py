"""`Instances` against a real NATS: who is live, from the heartbeats, and a silence of this instance's own."""

from __future__ import annotations

import asyncio
import uuid

import nats
import pytest

from sprintboard_notifier.presence.bucket import BucketSettings
from sprintboard_notifier.presence.instances import Instances

pytestmark = pytest.mark.integration


def bucket(ttl: float) -> BucketSettings:
    return BucketSettings(f"PRESENCE_INSTANCES_TEST_{uuid.uuid4().hex[:8]}", max_age_seconds=ttl)


async def test_an_instance_started_later_knows_the_live_ones_at_once_and_hears_them_go(nats_url: str) -> None:
    settings = bucket(ttl=3.0)
    nc = await nats.connect(nats_url)
    try:
        heard_by_a: list[str] = []
        heard_by_b: list[str] = []
        a = Instances(settings, "a", "a", heard_by_a.append)
        await a.start(nc)
        b = Instances(settings, "b", "b", heard_by_b.append)
        await b.start(nc)
        assert b.live == {"a"}  # from the stored heartbeat, before any new one
        async with asyncio.timeout(10):
            while a.live != {"b"}:  # a hears b's first beat
                await asyncio.sleep(0.02)
        # a beats no more: b finds it lost once its TTL is over.
        async with asyncio.timeout(10):
            while b.live:
                b.expire(asyncio.get_running_loop().time())
                await asyncio.sleep(0.05)
        assert heard_by_a == ["b"] and heard_by_b == ["a", "a"]  # a heard b come; b, a come and go
    finally:
        await nc.close()


async def test_a_beat_after_a_silence_longer_than_the_ttl_says_so(nats_url: str) -> None:
    settings = bucket(ttl=0.5)
    nc = await nats.connect(nats_url)
    try:
        me = Instances(settings, "me", "me", lambda _: None)
        await me.start(nc)
        await asyncio.sleep(settings.max_age_seconds * 1.5)  # a stall: the others took it for lost
        assert await me.beat() is True
    finally:
        await nc.close()
