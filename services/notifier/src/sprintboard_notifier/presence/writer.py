"""`EntryWriter`: this instance's entry of each followed sprint, put into the entries bucket when it changes.

A write is a plain publish on the key's subject (the bucket's stream stores it as a put; a delete is the
same with the `KV-Operation: DEL` header), with no acknowledgement to wait for: what a lost write would
miss, the heartbeat's checks catch (a reconnect, a lost bucket: every entry is written again). One drain
per instance publishes the follows queued, each with its value at that moment, in the order queued, so the
delete that ended a sprint's follow goes out before the first write of its next follow.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
from collections.abc import Callable
from typing import Any

from nats.aio.client import Client as NatsClient
from nats.js.errors import NotFoundError
from nats.js.kv import KV_DEL, KV_OP, KeyValue

from sprintboard_notifier.presence.bucket import BucketSettings, encode, open_bucket
from sprintboard_notifier.presence.follow import Follow
from sprintboard_notifier.presence.settings import PresenceStats

log = logging.getLogger(__name__)


class EntryWriter:
    """`written(follow)` is called after each put (the tracker schedules the key's refresh)."""

    def __init__(
        self, bucket: BucketSettings, me: str, stats: PresenceStats, written: Callable[[Follow[Any]], None]
    ) -> None:
        self.kv: KeyValue | None = None  # set once the bucket is open (the reader's gets use it)
        self.unwritten: set[Follow[Any]] = set()  # publishes that failed: `retry` after a heartbeat
        self._bucket = bucket
        self._me = me
        self._stats = stats
        self._written = written
        self._nc: NatsClient | None = None
        self._created: datetime.datetime | None = None
        self._queue: dict[Follow[Any], None] = {}  # ordered: the follows to publish
        self._draining: asyncio.Task[None] | None = None

    async def open(self, nc: NatsClient) -> None:
        js = nc.jetstream()
        self.kv = await open_bucket(js, self._bucket)
        self._created = (await js.stream_info(self._bucket.stream)).created
        self._nc = nc

    async def stop(self) -> None:
        if self._draining is not None:
            self._draining.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._draining

    async def renewed(self) -> bool:
        """True when the bucket is not the one written to (deleted, and created again here or elsewhere)."""
        assert self._nc is not None
        js = self._nc.jetstream()
        try:
            try:
                created = (await js.stream_info(self._bucket.stream)).created
            except NotFoundError:
                self.kv = await open_bucket(js, self._bucket)
                created = (await js.stream_info(self._bucket.stream)).created
        except Exception:  # NATS away: the next heartbeat looks again
            return False
        renewed = created != self._created
        self._created = created
        return renewed

    def write(self, follow: Follow[Any]) -> None:
        follow.dirty_entry = False
        if self._nc is None:
            follow.dirty_entry = True  # written once NATS is there
            return
        self._queue[follow] = None
        if self._draining is None or self._draining.done():
            self._draining = asyncio.create_task(self._drain(self._nc))

    def retry(self, current: Callable[[tuple[str, str]], Follow[Any] | None]) -> None:
        """Write the failed ones again; a sprint followed again since needs only its new follow's write."""
        for follow in list(self.unwritten):
            now = current(follow.key)
            if now is not None and now is not follow:
                self.unwritten.discard(follow)
                self.write(now)
            else:
                self.write(follow)

    async def _drain(self, nc: NatsClient) -> None:
        while self._queue:
            follow = next(iter(self._queue))
            del self._queue[follow]
            await self._publish(nc, follow)

    async def _publish(self, nc: NatsClient, follow: Follow[Any]) -> None:
        subject = self._bucket.subject(follow.prefix + self._me)
        users = follow.view.own()
        try:
            if users:
                follow.written = True  # also when the publish fails: it may have been stored
                await nc.publish(subject, encode(users))
                follow.last_write = asyncio.get_running_loop().time()
                self._stats.writes += 1
                self._written(follow)
            elif follow.written:
                await nc.publish(subject, b"", headers={KV_OP: KV_DEL})
                follow.written = False
                self._stats.writes += 1
            self.unwritten.discard(follow)
        except Exception as exc:  # the connection closed: written again after a heartbeat
            if not self.unwritten:  # once per outage, not once per sprint
                log.warning("presence: write of %s failed (%s)", follow.key[1], type(exc).__name__)
            self.unwritten.add(follow)
