"""`Presence`: who has which sprint open, across every notifier instance, for the sockets of this one.

An instance follows the presence of a sprint only while its own sockets watch it (a KV watch of that
sprint's keys, started by the first local watcher, dropped after the last one and its users' grace), writes
its own viewers of it into its key, and sends each watching socket `presence` once and then coalesced
`presence_diff`s: the diffs of one sprint are at least `diff_interval_seconds` apart however many people
join, so a reconnect storm is no presence storm.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import nats
import orjson
from nats.aio.client import Client as NatsClient
from nats.js.kv import KV_DEL, KV_PURGE, KeyValue

from sprintboard_notifier.presence.bucket import (
    BucketSettings,
    decode,
    encode,
    instance_token,
    open_bucket,
    sprint_prefix,
)
from sprintboard_notifier.presence.view import Diff, SprintView, Users, Viewer

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class PresenceSettings:
    """`ttl_seconds`: a key not rewritten for this long belongs to a lost instance (keys are rewritten every
    third of it); `grace_seconds`: how long a user stays after their last socket closed."""

    bucket: str = "SPRINTBOARD_PRESENCE"
    ttl_seconds: float = 6.0
    grace_seconds: float = 3.0
    diff_interval_seconds: float = 0.5
    load_timeout_seconds: float = 2.0
    replicas: int = 1

    @property
    def refresh_seconds(self) -> float:
        return self.ttl_seconds / 3

    @property
    def tick_seconds(self) -> float:
        # Half the refresh: a key is rewritten at most 1.5 refreshes (half the TTL) apart, leaving the other
        # half of the TTL for a write that is slow to land before the others take it for a lost instance.
        return max(0.01, min(self.refresh_seconds, self.grace_seconds) / 2)


@dataclass(slots=True)
class PresenceStats:
    """Plain numbers, read by the metrics collector at scrape time."""

    diffs: int = 0  # presence_diff frames built (one per sprint and flush, shared by its sockets)
    frames: int = 0  # presence and presence_diff frames handed to sockets
    writes: int = 0  # key writes and deletes sent to NATS
    updates: int = 0  # other instances' key changes received
    min_spacing: float | None = None  # the shortest time between two diffs of one sprint (server clock)


def presence_text(sprint_id: str, users: Users) -> str:
    return orjson.dumps({"type": "presence", "sprint_id": sprint_id, "users": _listed(users)}).decode()


def diff_text(sprint_id: str, diff: Diff) -> str:
    return orjson.dumps(
        {
            "type": "presence_diff",
            "sprint_id": sprint_id,
            "joins": _listed(diff.joins),
            "leaves": _listed(diff.leaves),
        }
    ).decode()


def _listed(users: Users) -> list[dict[str, str]]:
    return [{"user_id": u, "name": n} for u, n in sorted(users.items(), key=lambda item: (item[1], item[0]))]


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
    tenant_id: str
    sprint_id: str
    prefix: str
    view: SprintView
    watchers: set[Watch[T]] = field(default_factory=set)
    loaded: asyncio.Event = field(default_factory=asyncio.Event)
    settled: bool = False
    task: asyncio.Task[None] | None = None
    flush: asyncio.TimerHandle | None = None
    last_flush: float | None = None
    dirty_entry: bool = False
    written: bool = False  # its key was ever written (so it is deleted at the end)
    writing: asyncio.Task[None] | None = None
    write_again: bool = False
    last_write: float = 0.0
    acked: Users | None = None  # the value NATS last acknowledged for its key
    acked_at: float = 0.0


class Presence(Generic[T]):
    """`wrap` turns a frame's JSON text into what `send` takes (the hub's `Frame`): built once per
    snapshot or diff and handed to every socket of the sprint."""

    def __init__(self, settings: PresenceSettings, instance_id: str, wrap: Callable[[str], T]) -> None:
        self.settings = settings
        self.stats = PresenceStats()
        self._me = instance_token(instance_id)
        self._wrap = wrap
        self._follows: dict[tuple[str, str], _Follow[T]] = {}
        self._kv: KeyValue | None = None
        self._bound = asyncio.Event()
        self._nc: NatsClient | None = None
        self._ticker: asyncio.Task[None] | None = None
        # The final delete of a sprint no longer followed, which a new follow's first write must not overtake.
        self._last_writes: dict[str, asyncio.Task[None]] = {}
        self._failing = False
        self._reopening: asyncio.Task[None] | None = None

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
        """Use `nc`: open the bucket and start the ticker (grace, refresh, lost instances)."""
        self._nc = nc
        while True:
            try:
                self._kv = await open_bucket(
                    nc.jetstream(),
                    BucketSettings(self.settings.bucket, self.settings.ttl_seconds, self.settings.replicas),
                )
                break
            except Exception as exc:  # JetStream not ready yet
                log.warning("presence: bucket not available (%s); retrying", type(exc).__name__)
                await asyncio.sleep(1)
        self._bound.set()
        for follow in self._follows.values():
            follow.dirty_entry = True  # viewers that came before NATS did
            self._touch(follow)
        self._ticker = asyncio.create_task(self._tick())

    async def stop(self) -> None:
        """Stop following. The keys stay until their TTL: sockets reconnecting to another instance meanwhile
        are no leave and join."""
        tasks = [t for f in self._follows.values() for t in (f.task, f.writing) if t is not None]
        for extra in (self._ticker, self._reopening):
            if extra is not None:
                tasks.append(extra)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for follow in self._follows.values():
            if follow.flush is not None:
                follow.flush.cancel()
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
            follow = _Follow(
                tenant_id, sprint_id, sprint_prefix(tenant_id, sprint_id), SprintView(own_key=self._me)
            )
            self._follows[key] = follow
            follow.task = asyncio.create_task(self._follow_bucket(follow))
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
        w.send(self._wrap(presence_text(follow.sprint_id, follow.view.sent)))
        self.stats.frames += 1

    def _part(self, follow: _Follow[T], w: Watch[T]) -> None:
        follow.watchers.discard(w)
        loop = asyncio.get_running_loop()
        follow.view.part(w.viewer.user_id, loop.time() + self.settings.grace_seconds)

    @property
    def sprints(self) -> int:
        """How many sprints this instance follows."""
        return len(self._follows)

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
        if self._follows.get((follow.tenant_id, follow.sprint_id)) is not follow:
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
        frame = self._wrap(diff_text(follow.sprint_id, diff))
        self.stats.diffs += 1
        for w in list(follow.watchers):
            w.send(frame)
        self.stats.frames += len(follow.watchers)

    # -- NATS -----------------------------------------------------------------------------------------

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
            now = loop.time()
            try:
                if users:
                    data = encode(users)
                    if (
                        users == follow.acked
                        and now - follow.acked_at < self.settings.ttl_seconds
                        and self._nc is not None
                    ):
                        # A refresh of an acknowledged value waits for no acknowledgement (a stream stores a
                        # plain publish on its subject too): one message instead of two, no reply to await.
                        # One write per TTL is still acknowledged, so a lost bucket is noticed.
                        await self._nc.publish(f"$KV.{self.settings.bucket}.{key}", data)
                    else:
                        await kv.put(key, data)
                        follow.acked, follow.acked_at = users, now
                    follow.written = True
                elif follow.written:
                    await kv.delete(key)
                    follow.acked = None
                self.stats.writes += 1
                follow.last_write = now
                self._failing = False
            except Exception as exc:  # NATS away, or the bucket lost: the next refresh writes it again
                if not self._failing:  # once per outage, not once per sprint and tick
                    log.warning("presence: write of %s failed (%s)", follow.sprint_id, type(exc).__name__)
                    self._failing = True
                    self._reopen()
                follow.last_write = 0.0
                follow.acked = None
            if not follow.write_again:
                return

    def _reopen(self) -> None:
        """Create the bucket again if it is gone (a NATS restart loses memory storage)."""
        if self._nc is None or (self._reopening is not None and not self._reopening.done()):
            return
        settings = BucketSettings(self.settings.bucket, self.settings.ttl_seconds, self.settings.replicas)
        js = self._nc.jetstream()

        async def reopen() -> None:
            with contextlib.suppress(Exception):
                await open_bucket(js, settings)

        self._reopening = asyncio.create_task(reopen())

    async def _follow_bucket(self, follow: _Follow[T]) -> None:
        """Apply the other instances' keys of the sprint: first the stored ones, then every change."""
        await self._bound.wait()
        kv = self._kv
        assert kv is not None
        loop = asyncio.get_running_loop()
        ttl = self.settings.ttl_seconds
        prefix_length = len(follow.prefix)
        while True:
            try:
                watcher = await kv.watch(follow.prefix + "*")
            except Exception as exc:  # NATS away: try again
                log.warning("presence: watch of %s failed (%s)", follow.sprint_id, type(exc).__name__)
                await asyncio.sleep(self.settings.refresh_seconds)
                continue
            try:
                async for entry in watcher:
                    if entry is None:  # the stored keys are all in
                        follow.loaded.set()
                        self._settle(follow)
                        self._touch(follow)
                        continue
                    instance = entry.key[prefix_length:]
                    if instance == self._me:
                        continue
                    self.stats.updates += 1
                    if entry.operation in (KV_DEL, KV_PURGE):
                        follow.view.drop_remote(instance)
                    else:
                        users = decode(entry.value)
                        if users is None:
                            continue
                        follow.view.put_remote(instance, users, loop.time() + ttl)
                    self._touch(follow)
            finally:
                with contextlib.suppress(Exception):
                    await watcher.stop()  # type: ignore[no-untyped-call]

    async def _tick(self) -> None:
        """Grace ends, lost instances, refreshes of this instance's keys, and sprints no longer followed."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.settings.tick_seconds)
            now = loop.time()
            for key, follow in list(self._follows.items()):
                own_changed, view_changed = follow.view.expire(now)
                if own_changed:
                    follow.dirty_entry = True
                if follow.view.idle and not follow.watchers:
                    self._unfollow(key, follow)
                    continue
                if now - follow.last_write >= self.settings.refresh_seconds:
                    follow.dirty_entry = True  # a refresh (or a retry of a failed write)
                if follow.dirty_entry or view_changed:
                    self._touch(follow)  # written with the sprint's next diff, so joins coalesce

    def _unfollow(self, key: tuple[str, str], follow: _Follow[T]) -> None:
        del self._follows[key]
        if follow.flush is not None:
            follow.flush.cancel()
        if follow.task is not None:
            follow.task.cancel()
        if follow.written:
            # The last viewer's grace is over: the other instances see the leave now, not after the TTL.
            self._write(follow)
            last = follow.writing
            if last is not None:
                self._last_writes[follow.prefix] = last
                last.add_done_callback(
                    lambda t: (
                        self._last_writes.pop(follow.prefix)
                        if self._last_writes.get(follow.prefix) is t
                        else None
                    )
                )
