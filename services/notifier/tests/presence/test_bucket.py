"""The presence buckets against a real NATS: a bucket of the design before is brought to ours."""

from __future__ import annotations

import uuid

import nats
import pytest
from nats.js.api import KeyValueConfig, StorageType

from sprintboard_notifier.presence.bucket import BucketSettings, open_bucket

pytestmark = pytest.mark.integration


async def test_an_existing_bucket_with_the_old_ttl_gets_our_max_age_and_direct_gets(nats_url: str) -> None:
    settings = BucketSettings(f"PRESENCE_OLD_{uuid.uuid4().hex[:8]}", max_age_seconds=3600.0)
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        # As the design before created it: max age = the 6 s TTL, no direct gets.
        await js.create_key_value(
            KeyValueConfig(bucket=settings.name, history=1, ttl=6.0, storage=StorageType.MEMORY)
        )
        kv = await open_bucket(js, settings)
        config = (await js.stream_info(settings.stream)).config
        assert config.max_age == 3600.0 and config.allow_direct is True
        await kv.put("k", b"v")
        assert (await kv.get("k")).value == b"v"
        await open_bucket(js, settings)  # as it should be now: used as it is
        assert (await js.stream_info(settings.stream)).config.max_age == 3600.0
    finally:
        await nc.close()
