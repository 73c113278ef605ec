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
import datetime
import heapq
import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import nats
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js.errors import KeyNotFoundError, NotFoundError
from nats.js.kv import KV_DEL, KV_OP, KV_PURGE, KeyValue

from sprintboard_notifier.presence.bucket import (
    BucketSettings,
    decode,
    encode,
    instance_token,
    open_bucket,
    sprint_prefix,
)
from sprintboard_notifier.presence.frames import diff_text, presence_text
from sprintboard_notifier.presence.instances import Instances
from sprintboard_notifier.presence.view import SprintView, Viewer

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class PresenceSettings:
    """`ttl_seconds`: an instance not heard for this long is lost (each beats every third of it);
    `grace_seconds`: how long a user stays after their last socket closed; `entry_max_age_seconds`: how long
    a key nobody rewrites stays stored (a live instance rewrites its keys at half of it)."""

    bucket: str = "SPRINTBOARD_PRESENCE"
    ttl_seconds: float = 6.0
    grace_seconds: float = 3.0
    diff_interval_seconds: float = 0.5
    load_timeout_seconds: float = 2.0
    entry_max_age_seconds: float = 3600.0
    replicas: int = 1

    @property
    def heartbeat_seconds(self) -> float:
        return self.ttl_seconds / 3

    @property
    def tick_seconds(self) -> float:
        return max(0.01, min(self.heartbeat_seconds, self.grace_seconds) / 2)

    def entries(self) -> BucketSettings:
        return BucketSettings(self.bucket, self.entry_max_age_seconds, self.replicas)

    def instances(self) -> BucketSettings:
        return BucketSettings(f"{self.bucket}_INSTANCES", self.ttl_seconds, self.replicas)


@dataclass(slots=True)
class PresenceStats:
    """Plain numbers, read by the metrics collector at scrape time."""

    diffs: int = 0  # presence_diff frames built (one per sprint and flush, shared by its sockets)
    frames: int = 0  # presence and presence_diff frames handed to sockets
    writes: int = 0  # key writes and deletes sent to NATS
    updates: int = 0  # other instances' key changes received
    min_spacing: float | None = None  # the shortest time between two diffs of one sprint (server clock)


class Watch(Generic[T]):
    """One socket watching one sprint; `close()` when it unsubscribes, opts out or goes away."""

    __slots__ = ("_follow", "_presence", "closed", "send", "viewer")

    def __init__(self, presence: Presence[T], follow: _Follow[T], viewer: Viewer, send: Callable[[T], None]):
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


@dataclass(eq=False, slots=True)
class _Follow(Generic[T]):
    key: tuple[str, str]  # (tenant, sprint)
    prefix: str
    view: SprintView
    watchers: set[Watch[T]] = field(default_factory=set)
    loaded: asyncio.Event = field(default_factory=asyncio.Event)
    settled: bool = False
    task: asyncio.Task[None] | None = None  # the load: subscription and gets
    sub: Subscription | None = None
    heard: set[str] = field(default_factory=set)  # instances whose change came since the last load began
    flush: asyncio.TimerHandle | None = None
    last_flush: float | None = None
    dirty_entry: bool = False
    written: bool = False  # its key may be stored (so it is deleted at the end)
    writing: asyncio.Task[None] | None = None
    write_again: bool = False
    last_write: float = 0.0
    refresh_queued: bool = False


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
        self._follows: dict[tuple[str, str], _Follow[T]] = {}
        self._kv: KeyValue | None = None
        self._bound = asyncio.Event()
        self._nc: NatsClient | None = None
        self._tasks: list[asyncio.Task[None]] = []
        # The final delete of a sprint no longer followed, which a new follow's first write must not overtake.
        self._last_writes: dict[str, asyncio.Task[None]] = {}
        self._unwritten: set[_Follow[T]] = set()  # writes that failed: tried again after the next heartbeat
        self._due: list[tuple[float, int, bool, _Follow[T]]] = []  # (when, n, is refresh, follow): the ticker's
        self._due_n = itertools.count()
        self._bucket_created: datetime.datetime | None = None
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
        js = nc.jetstream()
        while True:
            try:
                self._kv = await open_bucket(js, self._entries)
                self._bucket_created = (await js.stream_info(self._entries.stream)).created
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
        tasks = [t for f in self._follows.values() for t in (f.task, f.writing) if t is not None]
        for task in (*tasks, *self._tasks):
            task.cancel()
        await asyncio.gather(*tasks, *self._tasks, return_exceptions=True)
        for follow in self._follows.values():
            if follow.flush is not None:
                follow.flush.cancel()
            if follow.sub is not None:
                with contextlib.suppress(Exception):
                    await follow.sub.unsubscribe()
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
            follow = _Follow(key, sprint_prefix(tenant_id, sprint_id), view)
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

    def _snapshot(self, follow: _Follow[T], w: Watch[T]) -> None:
        w.send(self._wrap(presence_text(follow.key[1], follow.view.sent)))
        self.stats.frames += 1

    def _part(self, follow: _Follow[T], w: Watch[T]) -> None:
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

    def _settle(self, follow: _Follow[T]) -> None:
        if not follow.settled:
            follow.settled = True
            follow.view.settle()  # the first snapshot: every later diff is against it

    def _touch(self, follow: _Follow[T]) -> None:
        """Something changed: flush now, or when the sprint's last diff is `diff_interval` old."""
        if follow.flush is not None or not follow.settled:
            return
        loop = asyncio.get_running_loop()
        last = follow.last_flush
        at = loop.time() if last is None else max(loop.time(), last + self.settings.diff_interval_seconds)
        follow.flush = loop.call_at(at, self._flush, follow)

    def _flush(self, follow: _Follow[T]) -> None:
        follow.flush = None
        if self._follows.get(follow.key) is not follow:
            return
        if follow.dirty_entry:
            self._write(follow)
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

    def _schedule(self, follow: _Follow[T], when: float, refresh: bool) -> None:
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

    def _refresh(self, follow: _Follow[T], now: float) -> None:
        """Rewrite a key before the bucket's max age drops it (a sprint watched for that long)."""
        follow.refresh_queued = False
        due = follow.last_write + self.settings.entry_max_age_seconds / 2
        if now < due:
            self._queue_refresh(follow, due)
        elif follow.view.local:
            follow.dirty_entry = True
            self._touch(follow)

    def _queue_refresh(self, follow: _Follow[T], due: float) -> None:
        if not follow.refresh_queued:
            follow.refresh_queued = True
            self._schedule(follow, due, refresh=True)

    async def _unfollow(self, follow: _Follow[T]) -> None:
        del self._follows[follow.key]
        if follow.flush is not None:
            follow.flush.cancel()
        if follow.task is not None:
            follow.task.cancel()
        if follow.sub is not None:
            with contextlib.suppress(Exception):
                await follow.sub.unsubscribe()
        if follow.writing is not None:
            # The last viewer's grace is over: the other instances see the leave now.
            self._write(follow)
            last = follow.writing
            self._last_writes[follow.prefix] = last
            last.add_done_callback(
                lambda t: (
                    self._last_writes.pop(follow.prefix) if self._last_writes.get(follow.prefix) is t else None
                )
            )

    # -- NATS: this instance's entries ----------------------------------------------------------------

    def _write(self, follow: _Follow[T]) -> None:
        """Write this instance's entry (the latest, in order: one write in flight per key)."""
        follow.dirty_entry = False
        if self._kv is None:
            follow.dirty_entry = True  # written once NATS is there (`start`)
            return
        if follow.writing is not None and not follow.writing.done():
            follow.write_again = True
            return
        follow.writing = asyncio.create_task(self._writes(follow, self._kv))

    async def _writes(self, follow: _Follow[T], kv: KeyValue) -> None:
        key = follow.prefix + self._me
        before = self._last_writes.get(follow.prefix)
        if before is not None and before is not asyncio.current_task():
            await asyncio.gather(before, return_exceptions=True)  # a sprint followed again: its delete first
        loop = asyncio.get_running_loop()
        while True:
            follow.write_again = False
            users = follow.view.own()
            try:
                if users:
                    follow.written = True
                    await kv.put(key, encode(users))
                    follow.last_write = loop.time()
                    self._queue_refresh(follow, follow.last_write + self.settings.entry_max_age_seconds / 2)
                elif follow.written:
                    await kv.delete(key)
                    follow.written = False
                self.stats.writes += 1
                self._unwritten.discard(follow)
            except Exception as exc:  # NATS away, or the bucket lost: written again after the next heartbeat
                if not self._unwritten:  # once per outage, not once per sprint
                    log.warning("presence: write of %s failed (%s)", follow.key[1], type(exc).__name__)
                self._unwritten.add(follow)
            if not follow.write_again:
                return

    # -- NATS: the heartbeat --------------------------------------------------------------------------

    async def _beat(self) -> None:
        """Beat; after this instance was away (a stall, a reconnect, a lost bucket) write every entry again
        and load the others' again, since both sides may have missed changes; else retry failed writes."""
        assert self._nc is not None
        while True:
            await asyncio.sleep(self.settings.heartbeat_seconds)
            lapsed = await self._instances.beat()
            reconnects = self._nc.stats["reconnects"]
            renewed = await self._bucket_renewed()
            if lapsed or renewed or reconnects != self._reconnects:
                self._reconnects = reconnects
                self._resync()
            else:
                self._retry()

    async def _bucket_renewed(self) -> bool:
        """True when the entries bucket is not the one written to (deleted and created again)."""
        assert self._nc is not None
        js = self._nc.jetstream()
        try:
            try:
                created = (await js.stream_info(self._entries.stream)).created
            except NotFoundError:
                self._kv = await open_bucket(js, self._entries)
                created = (await js.stream_info(self._entries.stream)).created
        except Exception:  # NATS away: the next beat looks again
            return False
        renewed = created != self._bucket_created
        self._bucket_created = created
        return renewed

    def _resync(self) -> None:
        self._unwritten = {f for f in self._unwritten if self._follows.get(f.key) is not f}
        self._retry()
        for follow in self._follows.values():
            self._write(follow)
            if follow.task is None or follow.task.done():
                follow.task = asyncio.create_task(self._reload(follow))

    def _retry(self) -> None:
        for follow in list(self._unwritten):
            current = self._follows.get(follow.key)
            if current is not None and current is not follow:
                # Followed again since: the new follow's write stands for the old one's delete.
                self._unwritten.discard(follow)
                current.dirty_entry = True
                self._touch(current)
            else:
                self._write(follow)

    # -- NATS: the other instances' entries -----------------------------------------------------------

    async def _load(self, follow: _Follow[T]) -> None:
        """Subscribe to the sprint's keys, then get each other live instance's: the first view."""
        await self._bound.wait()
        assert self._nc is not None
        start = len(self._entries.subject(follow.prefix))

        async def changed(msg: Msg) -> None:
            self._changed(follow, msg.subject[start:], msg)

        while follow.sub is None:
            try:
                follow.sub = await self._nc.subscribe(self._entries.subject(follow.prefix + "*"), cb=changed)
            except Exception as exc:  # the connection closed under us: try again
                log.warning("presence: subscribe to %s failed (%s)", follow.key[1], type(exc).__name__)
                await asyncio.sleep(self.settings.heartbeat_seconds)
        await self._fetch(follow)
        follow.loaded.set()
        self._settle(follow)
        self._touch(follow)

    async def _reload(self, follow: _Follow[T]) -> None:
        await self._fetch(follow)
        self._touch(follow)

    async def _fetch(self, follow: _Follow[T]) -> None:
        """Get the key of each other live instance (the subscription, already on, brings what follows)."""
        follow.heard.clear()
        others = list(self._instances.live)
        if not others or self._kv is None:
            return
        kv = self._kv
        got = await asyncio.gather(*(kv.get(follow.prefix + i) for i in others), return_exceptions=True)
        for instance, entry in zip(others, got, strict=True):
            if instance in follow.heard:
                continue  # a change came since the get was sent: it is the newer
            if isinstance(entry, KeyNotFoundError):
                follow.view.drop_remote(instance)
            elif not isinstance(entry, BaseException) and (users := decode(entry.value)) is not None:
                follow.view.put_remote(instance, users)

    def _changed(self, follow: _Follow[T], instance: str, msg: Msg) -> None:
        if instance == self._me or self._follows.get(follow.key) is not follow:
            return
        follow.heard.add(instance)
        self.stats.updates += 1
        op = msg.headers.get(KV_OP) if msg.headers else None
        if op in (KV_DEL, KV_PURGE):
            follow.view.drop_remote(instance)
        else:
            users = decode(msg.data)
            if users is None:
                return
            follow.view.put_remote(instance, users)
        self._touch(follow)

    def _instance_changed(self, instance: str) -> None:
        """An instance came or went: the sprints it lists users of change their view."""
        for follow in self._follows.values():
            if instance in follow.view.remote:
                self._touch(follow)
