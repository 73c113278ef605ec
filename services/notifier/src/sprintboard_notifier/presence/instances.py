"""`Instances`: which notifier instances are live, from their heartbeats.

Every instance puts its key into the instances bucket (max age = the TTL) every third of the TTL, and hears
the others' puts on one core subscription of that bucket's subjects; at start it lists the keys stored, so
it knows who is live before its first `presence` frame (each key's age read on the server's clock, against
its own first beat's). An instance not heard for the TTL is lost (a killed
process, a lost connection): its entries stay in the entries bucket but are no longer shown. One heartbeat
per instance, whatever the number of sprints it follows.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
from collections.abc import Callable
from typing import cast

import orjson
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js import JetStreamContext
from nats.js.kv import KV_DEL, KV_OP, KV_PURGE, KeyValue

from sprintboard_notifier.presence.bucket import BucketSettings, open_bucket

log = logging.getLogger(__name__)


class Instances:
    """The live set (shared with every `SprintView`); `changed(instance)` is called when one comes or goes."""

    def __init__(
        self, bucket: BucketSettings, me: str, instance_id: str, changed: Callable[[str], None]
    ) -> None:
        self.bucket = bucket
        self.me = me
        self.live: set[str] = set()
        self.heartbeats = 0
        self._value = orjson.dumps({"instance": instance_id})
        self._changed = changed
        self._deadlines: dict[str, float] = {}
        self._js: JetStreamContext | None = None
        self._kv: KeyValue | None = None
        self._sub: Subscription | None = None
        self._last_beat: float | None = None

    async def start(self, nc: NatsClient) -> None:
        """Open the bucket, hear the heartbeats, take the stored keys as live, and beat once."""
        self._js = nc.jetstream()
        self._kv = await open_bucket(self._js, self.bucket)
        prefix = len(self.bucket.subject(""))

        async def heard(msg: Msg) -> None:
            op = msg.headers.get(KV_OP) if msg.headers else None
            self._hear(msg.subject[prefix:], gone=op in (KV_DEL, KV_PURGE))

        if self._sub is None:
            self._sub = await nc.subscribe(self.bucket.subject("*"), cb=heard)
        await self.beat()
        stored = await self._stored()
        mine, ttl = stored.get(self.me), self.bucket.max_age_seconds
        for instance, created in stored.items():
            age = 0.0 if mine is None else max(0.0, (mine - created).total_seconds())
            if age < ttl:
                self._hear(instance, gone=False, within=ttl - age)

    async def _stored(self) -> dict[str, datetime.datetime]:
        """Every key stored, with the time the server stored it."""
        assert self._kv is not None
        watcher = await self._kv.watchall(ignore_deletes=True, meta_only=True)
        stored = {}
        try:
            async for entry in watcher:
                if entry is None:
                    break
                if entry.created is not None:  # the message's stored time (nats-py annotates it `int`)
                    stored[entry.key] = cast("datetime.datetime", entry.created)
        finally:
            with contextlib.suppress(Exception):
                await watcher.stop()  # type: ignore[no-untyped-call]
        return stored

    async def stop(self) -> None:
        if self._sub is not None:
            with contextlib.suppress(Exception):
                await self._sub.unsubscribe()

    async def beat(self) -> bool:
        """Put this instance's heartbeat; True when this instance was not heard for a TTL before it (a
        stall, an outage: the others took it for lost, and may have missed its entries meanwhile)."""
        assert self._js is not None and self._kv is not None
        now = asyncio.get_running_loop().time()
        try:
            await self._kv.put(self.me, self._value)
        except Exception as exc:  # NATS away, or the bucket lost (created again for the next beat)
            log.warning("presence: heartbeat failed (%s)", type(exc).__name__)
            with contextlib.suppress(Exception):
                self._kv = await open_bucket(self._js, self.bucket)
            return False
        self.heartbeats += 1
        lapsed = self._last_beat is not None and now - self._last_beat > self.bucket.max_age_seconds
        self._last_beat = now
        return lapsed

    def expire(self, now: float) -> None:
        """Drop the instances not heard for the TTL."""
        for instance in [i for i, deadline in self._deadlines.items() if deadline <= now]:
            self._drop(instance)

    def _hear(self, instance: str, gone: bool, within: float | None = None) -> None:
        """A heartbeat (or a key listed at start, `within` seconds of its TTL left)."""
        if instance == self.me:
            return
        if gone:
            self._drop(instance)
            return
        deadline = asyncio.get_running_loop().time() + (
            self.bucket.max_age_seconds if within is None else within
        )
        self._deadlines[instance] = max(deadline, self._deadlines.get(instance, deadline))
        if instance not in self.live:
            self.live.add(instance)
            self._changed(instance)

    def _drop(self, instance: str) -> None:
        self._deadlines.pop(instance, None)
        if instance in self.live:
            self.live.discard(instance)
            self._changed(instance)
