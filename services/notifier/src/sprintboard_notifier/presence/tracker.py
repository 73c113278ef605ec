"""`Presence`: who has which sprint open, across every notifier instance, for the sockets of this one.

An instance follows the presence of a sprint only while its own sockets watch it: one core NATS subscription
of that sprint's keys in the entries bucket (started by the first local watcher, dropped after the last one
and its users' grace), and when it starts one get of each other live instance's key. It writes its own
viewers of the sprint into its key when they change, and sends each watching socket `presence` once and then
coalesced `presence_diff`s: the diffs of one sprint are at least `diff_interval_seconds` apart however many
people join, so a reconnect storm is no presence storm. Who is live is `Instances`' one heartbeat per
instance: a quiet sprint costs nothing, however many sprints an instance follows.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
from collections.abc import Callable
from typing import Any, Generic, TypeVar

import nats
from nats.aio.client import Client as NatsClient

from sprintboard_notifier.presence.bucket import instance_token, sprint_prefix
from sprintboard_notifier.presence.follow import Follow
from sprintboard_notifier.presence.frames import diff_text, presence_text
from sprintboard_notifier.presence.instances import Instances
from sprintboard_notifier.presence.reader import EntryReader
from sprintboard_notifier.presence.settings import PresenceSettings, PresenceStats
from sprintboard_notifier.presence.view import SprintView, Viewer
from sprintboard_notifier.presence.writer import EntryWriter

log = logging.getLogger(__name__)

T = TypeVar("T")


_Due = tuple[float, int, bool, Follow[Any]]  # (when, n, a refresh?, follow): grace ends and refreshes


class Watch(Generic[T]):
    """One socket watching one sprint; `close()` when it unsubscribes, opts out or goes away."""

    __slots__ = ("_follow", "_presence", "closed", "send", "viewer")

    def __init__(
        self, presence: Presence[T], follow: Follow[Watch[T]], viewer: Viewer, send: Callable[[T], None]
    ):
        self._presence = presence
        self._follow = follow
        self.viewer = viewer
        self.send = send
        self.closed = False

    def resend(self) -> None:
        """Send `presence` again (a repeated subscribe): the view the diffs since were sent against."""
        if not self.closed:
            self._presence._snapshot(self._follow, self)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._presence._part(self._follow, self)


class Presence(Generic[T]):
    """`wrap` turns a frame's JSON text into what `send` takes (the hub's `Frame`): built once per
    snapshot or diff and handed to every socket of the sprint."""

    def __init__(self, settings: PresenceSettings, instance_id: str, wrap: Callable[[str], T]) -> None:
        self.settings = settings
        self.stats = PresenceStats()
        self._me = instance_token(instance_id)
        self._wrap = wrap
        self._entries = settings.entries()
        self._instances = Instances(settings.instances(), self._me, instance_id, self._instance_changed)
        self._follows: dict[tuple[str, str], Follow[Watch[T]]] = {}
        self._writer = EntryWriter(self._entries, self._me, self.stats, self._written)
        self._reader = EntryReader(
            self._entries,
            self._me,
            self._instances.live,
            self.stats,
            self._touch,
            lambda follow: self._follows.get(follow.key) is follow,
        )
        self._bound = asyncio.Event()
        self._nc: NatsClient | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._due: list[_Due] = []  # the ticker's heap
        self._due_n = itertools.count()
        self._reconnects = 0

    # -- lifecycle ------------------------------------------------------------------------------------

    async def run(self, servers: list[str], name: str) -> None:
        """Connect (retrying while NATS is away), then keep presence until cancelled."""
        while self._nc is None:
            try:
                self._nc = await nats.connect(
                    servers, name=name, max_reconnect_attempts=-1, reconnect_time_wait=1
                )
            except Exception as exc:  # NATS away at start: sockets still work, presence local
                log.warning("presence: NATS not reachable (%s); retrying", type(exc).__name__)
                await asyncio.sleep(1)
        try:
            await self.start(self._nc)
            await asyncio.Event().wait()
        finally:
            await self.stop()
            with contextlib.suppress(Exception):
                await self._nc.close()

    async def start(self, nc: NatsClient) -> None:
        """Use `nc`: open the buckets, learn who is live, start the heartbeat and the ticker."""
        self._nc = nc
        while True:
            try:
                await self._writer.open(nc)
                await self._instances.start(nc)
                break
            except Exception as exc:  # JetStream not ready yet
                log.warning("presence: buckets not available (%s); retrying", type(exc).__name__)
                await asyncio.sleep(1)
        self._reconnects = nc.stats["reconnects"]
        self._bound.set()
        for follow in self._follows.values():
            follow.dirty_entry = True  # viewers that came before NATS did
            self._touch(follow)
        self._tasks = [asyncio.create_task(self._tick()), asyncio.create_task(self._beat())]

    async def stop(self) -> None:
        """Stop following and beating. The keys stay: the others drop this instance's users once it is not
        heard for the TTL, so sockets reconnecting to another instance meanwhile are no leave and join."""
        tasks = [f.task for f in self._follows.values() if f.task is not None]
        for task in (*tasks, *self._tasks):
            task.cancel()
        await asyncio.gather(*tasks, *self._tasks, return_exceptions=True)
        for follow in self._follows.values():
            if follow.flush is not None:
                follow.flush.cancel()
            if follow.sub is not None:
                with contextlib.suppress(Exception):
                    await follow.sub.unsubscribe()
        await self._writer.stop()
        await self._instances.stop()
        self._follows.clear()

    # -- the sockets' side ----------------------------------------------------------------------------

    async def watch(
        self, tenant_id: str, sprint_id: str, viewer: Viewer, send: Callable[[T], None]
    ) -> Watch[T]:
        """Count `viewer` as present on the sprint and send `presence` (who is there) through `send`,
        then `presence_diff`s until the watch is closed. Waits at most `load_timeout_seconds` for the
        other instances' entries when this instance did not follow the sprint yet."""
        key = (tenant_id, sprint_id)
        follow = self._follows.get(key)
        if follow is None:
            view = SprintView(own_key=self._me, live=self._instances.live)
            follow = Follow(key, sprint_prefix(tenant_id, sprint_id), view)
            self._follows[key] = follow
            follow.task = asyncio.create_task(self._load(follow))
        w = Watch(self, follow, viewer, send)
        follow.watchers.add(w)
        if follow.view.join(viewer):
            follow.dirty_entry = True
        if not follow.settled:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(follow.loaded.wait(), self.settings.load_timeout_seconds)
            self._settle(follow)
        if not w.closed:
            self._snapshot(follow, w)
        self._touch(follow)
        return w

    def _snapshot(self, follow: Follow[Watch[T]], w: Watch[T]) -> None:
        w.send(self._wrap(presence_text(follow.key[1], follow.view.sent)))
        self.stats.frames += 1

    def _part(self, follow: Follow[Watch[T]], w: Watch[T]) -> None:
        follow.watchers.discard(w)
        leave_at = asyncio.get_running_loop().time() + self.settings.grace_seconds
        follow.view.part(w.viewer.user_id, leave_at)
        self._schedule(follow, leave_at, refresh=False)

    @property
    def sprints(self) -> int:
        """How many sprints this instance follows."""
        return len(self._follows)

    @property
    def instances(self) -> int:
        """How many other instances are live."""
        return len(self._instances.live)

    @property
    def heartbeats(self) -> int:
        return self._instances.heartbeats

    # -- coalescing -----------------------------------------------------------------------------------

    def _settle(self, follow: Follow[Watch[T]]) -> None:
        if not follow.settled:
            follow.settled = True
            follow.view.settle()  # the first snapshot: every later diff is against it

    def _touch(self, follow: Follow[Watch[T]]) -> None:
        """Something changed: flush now, or when the sprint's last diff is `diff_interval` old."""
        if follow.flush is not None or not follow.settled:
            return
        loop = asyncio.get_running_loop()
        last = follow.last_flush
        at = loop.time() if last is None else max(loop.time(), last + self.settings.diff_interval_seconds)
        follow.flush = loop.call_at(at, self._flush, follow)

    def _flush(self, follow: Follow[Watch[T]]) -> None:
        follow.flush = None
        if self._follows.get(follow.key) is not follow:
            return
        if follow.dirty_entry:
            self._writer.write(follow)
        diff = follow.view.diff()
        if diff is None:
            return
        now = asyncio.get_running_loop().time()
        if follow.last_flush is not None:
            spacing = now - follow.last_flush
            if self.stats.min_spacing is None or spacing < self.stats.min_spacing:
                self.stats.min_spacing = spacing
        follow.last_flush = now
        frame = self._wrap(diff_text(follow.key[1], diff))
        self.stats.diffs += 1
        for w in list(follow.watchers):
            w.send(frame)
        self.stats.frames += len(follow.watchers)

    # -- time -----------------------------------------------------------------------------------------

    def _schedule(self, follow: Follow[Watch[T]], when: float, refresh: bool) -> None:
        heapq.heappush(self._due, (when, next(self._due_n), refresh, follow))

    async def _tick(self) -> None:
        """Lost instances, and what falls due: grace ends (and sprints no longer followed), refreshes."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.settings.tick_seconds)
            now = loop.time()
            self._instances.expire(now)
            while self._due and self._due[0][0] <= now:
                _, _, refresh, follow = heapq.heappop(self._due)
                if self._follows.get(follow.key) is not follow:
                    continue
                if refresh:
                    self._refresh(follow, now)
                elif follow.view.expire(now):
                    follow.dirty_entry = True
                    if follow.view.idle and not follow.watchers:
                        await self._unfollow(follow)
                    else:
                        self._touch(follow)  # written with the sprint's next diff, so joins coalesce

    def _refresh(self, follow: Follow[Watch[T]], now: float) -> None:
        """Rewrite a key before the bucket's max age drops it (a sprint watched for that long)."""
        follow.refresh_queued = False
        due = follow.last_write + self.settings.refresh_seconds
        if now < due:
            self._queue_refresh(follow, due)
        elif follow.view.local:
            follow.dirty_entry = True
            self._touch(follow)

    def _written(self, follow: Follow[Any]) -> None:
        self._queue_refresh(follow, follow.last_write + self.settings.refresh_seconds)

    def _queue_refresh(self, follow: Follow[Any], due: float) -> None:
        if not follow.refresh_queued:
            follow.refresh_queued = True
            self._schedule(follow, due, refresh=True)

    async def _unfollow(self, follow: Follow[Watch[T]]) -> None:
        del self._follows[follow.key]
        if follow.flush is not None:
            follow.flush.cancel()
        if follow.task is not None:
            follow.task.cancel()
        if follow.sub is not None:
            with contextlib.suppress(Exception):
                await follow.sub.unsubscribe()
        self._writer.write(follow)  # the last viewer's grace is over: the others see the leave now

    # -- NATS: the heartbeat --------------------------------------------------------------------------

    async def _beat(self) -> None:
        """Beat; after this instance was away (a stall, a reconnect, a lost bucket) write every entry again
        and load the others' again, since both sides may have missed changes; else retry failed writes."""
        assert self._nc is not None
        while True:
            await asyncio.sleep(self.settings.heartbeat_seconds)
            lapsed = await self._instances.beat()
            reconnects = self._nc.stats["reconnects"]
            renewed = await self._writer.renewed()
            if lapsed or renewed or reconnects != self._reconnects:
                self._reconnects = reconnects
                self._resync()
            else:
                self._writer.retry(self._follows.get)

    def _resync(self) -> None:
        self._writer.retry(self._follows.get)
        for follow in self._follows.values():
            self._writer.write(follow)
            if follow.task is None or follow.task.done():
                follow.task = asyncio.create_task(self._reload(follow))

    # -- NATS: the other instances' entries -----------------------------------------------------------

    async def _load(self, follow: Follow[Watch[T]]) -> None:
        """Subscribe to the sprint's keys, then get each other live instance's: the first view."""
        await self._bound.wait()
        assert self._nc is not None
        while follow.sub is None:
            try:
                await self._reader.subscribe(self._nc, follow)
            except Exception as exc:  # the connection closed under us: try again
                log.warning("presence: subscribe to %s failed (%s)", follow.key[1], type(exc).__name__)
                await asyncio.sleep(self.settings.heartbeat_seconds)
        await self._reader.fetch(self._writer.kv, follow)
        follow.loaded.set()
        self._settle(follow)
        self._touch(follow)

    async def _reload(self, follow: Follow[Watch[T]]) -> None:
        await self._reader.fetch(self._writer.kv, follow)
        self._touch(follow)

    def _instance_changed(self, instance: str) -> None:
        """An instance came or went: the sprints it lists users of change their view."""
        for follow in self._follows.values():
            if instance in follow.view.remote:
                self._touch(follow)
