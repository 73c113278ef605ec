"""`EntryReader`: the other instances' entries of each followed sprint, applied to its view.

One core NATS subscription of the sprint's keys (a put or delete of a key is a plain message on its subject,
so no JetStream consumer), and when the follow starts (or after an outage) one get per other live instance.
A change heard while the gets are out is the newer, and wins.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Set
from typing import Any

from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js.errors import KeyNotFoundError
from nats.js.kv import KV_DEL, KV_OP, KV_PURGE, KeyValue

from sprintboard_notifier.presence.bucket import BucketSettings, decode
from sprintboard_notifier.presence.follow import Follow
from sprintboard_notifier.presence.settings import PresenceStats


class EntryReader:
    """`changed(follow)` is called after a change was applied; `current(follow)` says whether the follow is
    still on (a message can come after its end)."""

    def __init__(
        self,
        bucket: BucketSettings,
        me: str,
        live: Set[str],
        stats: PresenceStats,
        changed: Callable[[Follow[Any]], None],
        current: Callable[[Follow[Any]], bool],
    ) -> None:
        self._bucket = bucket
        self._me = me
        self._live = live
        self._stats = stats
        self._changed = changed
        self._current = current

    async def subscribe(self, nc: NatsClient, follow: Follow[Any]) -> None:
        start = len(self._bucket.subject(follow.prefix))

        async def heard(msg: Msg) -> None:
            self._heard(follow, msg.subject[start:], msg)

        follow.sub = await nc.subscribe(self._bucket.subject(follow.prefix + "*"), cb=heard)

    async def fetch(self, kv: KeyValue | None, follow: Follow[Any]) -> None:
        """Get the key of each other live instance (the subscription, already on, brings what follows)."""
        follow.heard.clear()
        others = list(self._live)
        if not others or kv is None:
            return
        got = await asyncio.gather(*(kv.get(follow.prefix + i) for i in others), return_exceptions=True)
        for instance, entry in zip(others, got, strict=True):
            if instance in follow.heard:
                continue  # a change came since the get was sent: it is the newer
            if isinstance(entry, KeyNotFoundError):
                follow.view.drop_remote(instance)
            elif not isinstance(entry, BaseException) and (users := decode(entry.value)) is not None:
                follow.view.put_remote(instance, users)

    def _heard(self, follow: Follow[Any], instance: str, msg: Msg) -> None:
        if instance == self._me or not self._current(follow):
            return
        follow.heard.add(instance)
        self._stats.updates += 1
        op = msg.headers.get(KV_OP) if msg.headers else None
        if op in (KV_DEL, KV_PURGE):
            follow.view.drop_remote(instance)
        else:
            users = decode(msg.data)
            if users is None:
                return
            follow.view.put_remote(instance, users)
        self._changed(follow)
