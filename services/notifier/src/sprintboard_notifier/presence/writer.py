"""`EntryWriter`: this instance's entry of each followed sprint, put into the entries bucket when it changes.

In order (one write in flight per key, the latest value; a sprint followed again waits for the delete that
ended its last follow), and a write that failed is kept to be tried again (`retry`, after a heartbeat).
"""

from __future__ import annotations

import asyncio
import datetime
import logging
from collections.abc import Callable
from typing import Any

from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from nats.js.kv import KeyValue

from sprintboard_notifier.presence.bucket import BucketSettings, encode, open_bucket
from sprintboard_notifier.presence.follow import Follow
from sprintboard_notifier.presence.settings import PresenceStats

log = logging.getLogger(__name__)


class EntryWriter:
    """`written(follow)` is called after each put (the tracker schedules the key's refresh)."""

    def __init__(
        self, bucket: BucketSettings, me: str, stats: PresenceStats, written: Callable[[Follow[Any]], None]
    ) -> None:
        self.kv: KeyValue | None = None  # set once the bucket is open
        self._bucket = bucket
        self._created: datetime.datetime | None = None
        self.unwritten: set[Follow[Any]] = set()
        self._me = me
        self._stats = stats
        self._written = written
        self._last_writes: dict[str, asyncio.Task[None]] = {}

    async def open(self, js: JetStreamContext) -> None:
        self.kv = await open_bucket(js, self._bucket)
        self._created = (await js.stream_info(self._bucket.stream)).created

    async def renewed(self, js: JetStreamContext) -> bool:
        """True when the bucket is not the one written to (deleted, and created again here or elsewhere)."""
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
        if self.kv is None:
            follow.dirty_entry = True  # written once NATS is there
            return
        if follow.writing is not None and not follow.writing.done():
            follow.write_again = True
            return
        follow.writing = asyncio.create_task(self._writes(follow, self.kv))

    def last(self, follow: Follow[Any]) -> None:
        """The sprint is no longer followed: delete its key (the others see the leave now), before any
        write of a next follow of it."""
        if follow.writing is None:
            return  # never written
        self.write(follow)
        last = follow.writing
        self._last_writes[follow.prefix] = last

        def done(task: asyncio.Task[None]) -> None:
            if self._last_writes.get(follow.prefix) is task:
                del self._last_writes[follow.prefix]

        last.add_done_callback(done)

    def retry(self, current: Callable[[tuple[str, str]], Follow[Any] | None]) -> None:
        """Write the failed ones again; a sprint followed again since needs only its new follow's write."""
        for follow in list(self.unwritten):
            now = current(follow.key)
            if now is not None and now is not follow:
                self.unwritten.discard(follow)
                self.write(now)
            else:
                self.write(follow)

    async def _writes(self, follow: Follow[Any], kv: KeyValue) -> None:
        key = follow.prefix + self._me
        before = self._last_writes.get(follow.prefix)
        if before is not None and before is not asyncio.current_task():
            await asyncio.gather(before, return_exceptions=True)  # a sprint followed again: its delete first
        while True:
            follow.write_again = False
            users = follow.view.own()
            try:
                if users:
                    follow.written = True  # also when the put fails: it may have been stored
                    await kv.put(key, encode(users))
                    follow.last_write = asyncio.get_running_loop().time()
                    self._stats.writes += 1
                    self._written(follow)
                elif follow.written:
                    await kv.delete(key)
                    follow.written = False
                    self._stats.writes += 1
                self.unwritten.discard(follow)
            except Exception as exc:  # NATS away, or the bucket lost: written again after a heartbeat
                if not self.unwritten:  # once per outage, not once per sprint
                    log.warning("presence: write of %s failed (%s)", follow.key[1], type(exc).__name__)
                self.unwritten.add(follow)
            if not follow.write_again:
                return
