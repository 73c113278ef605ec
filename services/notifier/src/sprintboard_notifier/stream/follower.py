"""The live follower: makes sure the task stream exists and follows what this instance's sockets need.

Each followed interest is a `Feed`: one ephemeral push consumer of the stream, filtered to one tenant's
v2 subjects (interest routing, the default) or to every subject (`follow_all`: each instance reads every
event). A feed is created when the first local socket of its tenant needs it and dropped `linger_seconds`
after the last one left, so a reload does not recreate it (docs/architecture.md, "Interest routing").
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import nats
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js import JetStreamContext
from nats.js.api import Header, StreamInfo
from nats.js.client import DEFAULT_JS_SUB_PENDING_BYTES_LIMIT, DEFAULT_JS_SUB_PENDING_MSGS_LIMIT
from nats.js.errors import NotFoundError

from sprintboard_contracts.events import InvalidEvent
from sprintboard_contracts.subjects import ALL_V1, filter_v2_for_tenant
from sprintboard_contracts.wire import AnyWireEvent, decode_event
from sprintboard_kit.stream import StreamSettings, ensure_stream, require_server_version, stream_epoch
from sprintboard_notifier.metrics import NotifierMetrics
from sprintboard_notifier.stream.ordering import ACK_PREFIX, NEXT, OLD, DeliveryOrder, delivery_seqs
from sprintboard_notifier.stream.subscriber import HEARTBEAT_SECONDS, STREAM, consumer_config

log = logging.getLogger(__name__)

EventCallback = Callable[[int, str, bytes, AnyWireEvent], None]

EVERY_TENANT = None  # the key of the one feed of an instance that follows everything


@dataclass(eq=False)
class Feed:
    """One consumer's worth of the stream: a tenant's events (or, tenant None, every event), handed on in
    stream order without a gap or a repeat. `users` counts the local sockets that need it."""

    tenant_id: str | None
    order: DeliveryOrder = field(default_factory=DeliveryOrder)
    users: int = 0
    idle_since: float | None = None  # when `users` last fell to 0 (the feed is dropped after the linger)
    ready: asyncio.Future[None] | None = None  # done once the first consumer has caught up
    backlog: int = 0  # deliveries the first consumer owes (its warm-up) before the feed has caught up
    sub: Subscription | None = None
    consumer: str = ""
    beats: int = 0  # control messages seen (heartbeats, flow control), for the watchdog
    consumers: int = 0  # consumers created, for the watchdog
    seen: tuple[int, int, int, int] = (-1, -1, -1, -1)  # progress at the last watchdog round
    generation: int = 0  # the current consumer's number: deliveries to an earlier one are ignored
    restarting: asyncio.Task[None] | None = None
    dropped: bool = False

    @property
    def filter_subject(self) -> str | None:
        return None if self.tenant_id is None else filter_v2_for_tenant(self.tenant_id)

    def progress(self) -> tuple[int, int, int, int]:
        return self.beats, self.consumers, self.order.cursor, self.order.delivered


class StreamFollower:
    """Owns the NATS connection of the live path and its feeds. A feed's consumer is recreated after the
    last event it handed on when its delivery sequence skips (a slow-consumer drop, a lost connection), when
    two heartbeats are missed (NATS restarted, the consumer or its node gone) or when the stream is
    recreated (then from the new stream's end): the live path is gap-free, in order and never repeats
    itself, per feed. At most `max_creates` consumers are being created at once, whatever the number of
    sockets arriving (a reconnect storm is no consumer-creation storm)."""

    def __init__(
        self,
        nats_url: str | list[str],
        on_event: EventCallback,
        metrics: NotifierMetrics,
        *,
        on_skip: Callable[[int], None] | None = None,
        on_ready: Callable[[str, int], None] | None = None,
        on_follow: Callable[[str, int], None] | None = None,
        on_drop: Callable[[str], None] | None = None,
        stream_settings: StreamSettings | None = None,
        name: str = "sprintboard-notifier",
        follow_all: bool = True,
        linger_seconds: float = 30.0,
        warm_events: int = 10_000,
        max_creates: int = 16,
        create_timeout: float = 10.0,
    ) -> None:
        self._url = nats_url
        self._on_event = on_event
        self._on_skip = on_skip
        self._on_ready = on_ready
        self._on_follow = on_follow
        self._on_drop = on_drop
        self._metrics = metrics
        self._stream_settings = stream_settings or StreamSettings()
        self._name = name
        self.follow_all = follow_all
        self._linger = linger_seconds
        self._warm = warm_events
        self._creates = asyncio.Semaphore(max_creates)
        self._create_timeout = create_timeout
        self._nc: Client | None = None
        self._js: JetStreamContext | None = None
        self._feeds: dict[str | None, Feed] = {}
        self._watchdog: asyncio.Task[None] | None = None
        self._generation = 0
        self._v1_epoch, self._v1_last = "", 0  # `_last_v1_seq`, known for that stream epoch
        self._tasks: set[asyncio.Task[None]] = set()
        self.epoch = ""
        self.redelivered = 0  # messages seen again after a consumer reset (dropped)
        self.created = 0  # consumers created, all feeds

    @property
    def running(self) -> bool:
        """Connected, the stream known, and (following every tenant) its consumer in place."""
        connected = self._js is not None and self._nc is not None and self._nc.is_connected
        if not self.follow_all:
            return connected
        feed = self._feeds.get(EVERY_TENANT)
        return connected and feed is not None and feed.sub is not None

    @property
    def tenants(self) -> int:
        """Tenant feeds followed now (0 when following every tenant)."""
        return sum(1 for t in self._feeds if t is not EVERY_TENANT)

    async def run(self, watch_seconds: float) -> None:
        """Start (retrying while NATS is away), then follow a recreated stream from its end."""
        await self._start_retrying()
        while True:
            await asyncio.sleep(watch_seconds)
            try:
                info = await self.jetstream().stream_info(STREAM)
            except Exception:
                continue  # NATS away: the client reconnects and the watchdog recreates the consumers
            if stream_epoch(info) != self.epoch:
                self._recreated(info)

    def _recreated(self, info: StreamInfo) -> None:
        """Another stream under the name: every feed follows it from its end (the hub tells the sockets)."""
        log.warning("stream %s was recreated (epoch %s)", STREAM, stream_epoch(info))
        self._announce(info)
        last = info.state.last_seq
        for feed in list(self._feeds.values()):
            # Right after the last stored message we looked at: nothing falls between look and follow.
            feed.order = DeliveryOrder(last)
            if feed.tenant_id is not None and self._on_follow is not None:
                self._on_follow(feed.tenant_id, last)
            self._restart_soon(feed, "the stream was recreated")

    async def _start_retrying(self) -> None:
        delay = 0.2
        while True:
            try:
                await self.start()
                return
            except Exception as exc:
                log.warning("NATS follower not started (%s); retrying in %.1fs", exc, delay)
                with contextlib.suppress(Exception):
                    await self.stop()
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def start(self) -> None:
        """Connect, make sure the stream exists; with `follow_all`, follow it from its current end."""
        self._nc = await nats.connect(
            self._url, name=self._name, max_reconnect_attempts=-1, reconnect_time_wait=1
        )
        require_server_version(self._nc)
        js = self._nc.jetstream()
        info = await ensure_stream(js, self._stream_settings)
        self._js = js
        self._announce(info)
        if self.follow_all:
            feed = self._feeds[EVERY_TENANT] = Feed(EVERY_TENANT, DeliveryOrder(info.state.last_seq))
            feed.users = 1  # never dropped
            await self._follow(feed, fresh=False)
        self._watchdog = asyncio.create_task(self._watch())

    async def stop(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
        for task in list(self._tasks):
            task.cancel()
        for feed in self._feeds.values():
            feed.dropped = True
            if feed.restarting is not None:
                feed.restarting.cancel()
        self._feeds.clear()
        nc, self._nc, self._js = self._nc, None, None
        self._watchdog = None
        self.epoch = ""  # a later start follows from the stream's end and announces it again
        if nc is not None:
            with contextlib.suppress(Exception):
                await nc.close()

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def jetstream(self) -> JetStreamContext:
        """The running connection's JetStream context (the history reader shares it)."""
        if self._js is None:
            raise RuntimeError("the follower is not started")
        return self._js

    def _announce(self, info: StreamInfo) -> None:
        self.epoch = stream_epoch(info)
        if self._on_ready is not None:
            self._on_ready(self.epoch, info.state.last_seq)

    # -- interest ---------------------------------------------------------------------------------------

    async def follow(self, tenant_id: str) -> None:
        """One more local socket needs `tenant_id`: returns once its events are followed and its feed has
        caught up (`on_follow` has told where from); raises when that cannot be now (NATS away, too slow)."""
        if self.follow_all:
            return
        feed = self._feeds.get(tenant_id)
        if feed is None:
            feed = self._feeds[tenant_id] = Feed(tenant_id)
            feed.ready = asyncio.get_running_loop().create_future()
            feed.ready.add_done_callback(_consume_exception)
            feed.users = 1
            self._spawn(self._first_consumer(feed))
        else:
            feed.users += 1
            feed.idle_since = None
        assert feed.ready is not None
        try:
            async with asyncio.timeout(self._create_timeout):
                await asyncio.shield(feed.ready)
        except BaseException:
            if self._feeds.get(tenant_id) is feed:  # a failed feed is gone already
                self.unfollow(tenant_id)
            raise

    def unfollow(self, tenant_id: str) -> None:
        """A local socket of `tenant_id` is gone; after the last one the feed lingers, then is dropped."""
        feed = self._feeds.get(tenant_id)
        if feed is None or self.follow_all:
            return
        feed.users -= 1
        if feed.users <= 0:
            feed.users = 0
            feed.idle_since = time.monotonic()
            asyncio.get_running_loop().call_later(self._linger, self._drop_idle, feed)

    def _drop_idle(self, feed: Feed) -> None:
        # A feed that was needed again in between is idle since later: its own timer drops it.
        idle_since = feed.idle_since
        idle = idle_since is not None and time.monotonic() - idle_since >= self._linger * 0.999
        if feed.users == 0 and idle and not feed.dropped:
            self._drop(feed)

    async def _first_consumer(self, feed: Feed) -> None:
        assert feed.ready is not None
        try:
            async with asyncio.timeout(self._create_timeout):
                await self._follow(feed, fresh=True)
        except BaseException as exc:
            if self._feeds.get(feed.tenant_id) is feed and feed.consumers == 0:
                del self._feeds[feed.tenant_id]
            feed.dropped = True
            if not feed.ready.done():
                feed.ready.set_exception(
                    exc if isinstance(exc, Exception) else RuntimeError("follower stopped")
                )
            if not isinstance(exc, Exception):
                raise
            return
        if not feed.backlog:
            self._caught_up(feed)

    @staticmethod
    def _caught_up(feed: Feed) -> None:
        feed.backlog = 0
        if feed.ready is not None and not feed.ready.done():
            feed.ready.set_result(None)

    def _drop(self, feed: Feed) -> None:
        if self._feeds.get(feed.tenant_id) is feed:
            del self._feeds[feed.tenant_id]
        feed.dropped = True
        if feed.restarting is not None:
            feed.restarting.cancel()
        sub, name = feed.sub, feed.consumer
        feed.sub = None
        if feed.tenant_id is not None and feed.consumers and self._on_drop is not None:
            self._on_drop(feed.tenant_id)
        self._spawn(self._discard(sub, name))

    async def _discard(self, sub: Subscription | None, consumer: str) -> None:
        """Let go of a dropped or replaced consumer (the server also removes it once nobody listens)."""
        if sub is not None:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()  # what is still on its way to the old inbox is dropped
        if consumer and self._js is not None:
            with contextlib.suppress(Exception):
                await self._js.delete_consumer(STREAM, consumer)

    # -- one feed's consumer ----------------------------------------------------------------------------

    async def _follow(self, feed: Feed, *, fresh: bool) -> None:
        """A new consumer for `feed`, right after its cursor. A `fresh` feed starts `warm_events` stream
        messages back from the end (where the stream keeps them): its tenant's recent events fill the hub's
        memory before a socket is served (`backlog`), so the resumes of a reconnect storm onto this
        instance are served from memory, not each from the stream."""
        async with self._creates:
            if feed.dropped:
                return
            nc, js = self._nc, self.jetstream()
            assert nc is not None
            if fresh:
                state = (await js.stream_info(STREAM)).state
                # Not below the last v1 message (stored before the upgrade): v1 subjects carry no tenant,
                # so a tenant's feed cannot see its v1 events, and the memory must not claim them.
                v1 = await self._last_v1_seq(js)
                start = max(state.first_seq, state.last_seq - self._warm + 1, v1 + 1, 1)
                feed.order = DeliveryOrder(start - 1)
                if feed.tenant_id is not None and self._on_follow is not None:
                    self._on_follow(feed.tenant_id, start - 1)
            elif feed.backlog:
                self._caught_up(feed)  # restarted during its warm-up: what it owes can no longer be counted
            old_sub, old_consumer = feed.sub, feed.consumer
            feed.sub, feed.consumer = None, ""
            self._generation += 1
            feed.generation = generation = self._generation  # from now on the old consumer is not heard
            start_seq = feed.order.restart()
            # A new consumer may deliver before its info is back: its deliveries wait for `started`.
            started = asyncio.Event()
            inbox = nc.new_inbox()
            # nats-py's own callback, no framework in between: one plain call per message
            # (docs/architecture.md, "Ingest"); what it subscribes to is `stream/subscriber.py`'s.
            sub = await nc.subscribe(
                inbox,
                cb=functools.partial(self._handle, feed, generation, started),
                pending_msgs_limit=DEFAULT_JS_SUB_PENDING_MSGS_LIMIT,
                pending_bytes_limit=DEFAULT_JS_SUB_PENDING_BYTES_LIMIT,
            )
            config = consumer_config(start_seq, inbox, feed.filter_subject)
            try:
                info = await js.add_consumer(STREAM, config)
            except BaseException:
                with contextlib.suppress(Exception):
                    await sub.unsubscribe()
                raise
            if feed.dropped or feed.generation != generation:  # dropped while the consumer was made
                self._spawn(self._discard(sub, info.name))
                return
            feed.sub, feed.consumer = sub, info.name
            feed.consumers += 1
            self.created += 1
            if fresh:
                delivered = info.delivered.consumer_seq if info.delivered is not None else 0
                feed.backlog = delivered + (info.num_pending or 0)
            started.set()
            log.debug(
                "following %s (%s) from seq %d", STREAM, feed.tenant_id or "every tenant", feed.order.cursor
            )
        if old_sub is not None or old_consumer:
            self._spawn(self._discard(old_sub, old_consumer))

    async def _last_v1_seq(self, js: JetStreamContext) -> int:
        """The seq of the stream's last message on a v1 subject (0: none), once per stream: after the
        upgrade to v2 nothing is stored on v1 subjects any more."""
        if self._v1_epoch != self.epoch:
            try:
                self._v1_last = (await js.get_last_msg(STREAM, ALL_V1)).seq or 0
            except NotFoundError:
                self._v1_last = 0
            self._v1_epoch = self.epoch
        return self._v1_last

    async def _handle(self, feed: Feed, generation: int, started: asyncio.Event, msg: Msg) -> None:
        if not started.is_set():
            await started.wait()
        if generation != feed.generation or feed.dropped:
            return  # a replaced or dropped consumer's delivery
        reply = msg.reply
        if not reply.startswith(ACK_PREFIX):
            await self._control(feed, msg)
            return
        order = feed.order
        stream_seq, consumer_seq = delivery_seqs(reply)
        verdict = order.take(stream_seq, consumer_seq)
        if verdict != NEXT:
            if verdict == OLD:
                self.redelivered += 1
            else:
                self._restart_soon(feed, f"consumer seq {consumer_seq} after {order.delivered}")
            return
        if feed.backlog and consumer_seq >= feed.backlog:
            self._caught_up(feed)  # its waiters go on once this one is handed on
        data = msg.data
        try:
            event = decode_event(data)
        except InvalidEvent as exc:
            self._metrics.invalid_events.inc()
            log.warning("invalid event at seq %d on %s skipped: %s", stream_seq, msg.subject, str(exc)[:300])
            if self._on_skip is not None:
                self._on_skip(stream_seq)
            return
        self._metrics.events_in.inc()
        try:
            self._on_event(stream_seq, msg.subject, data, event)
        except Exception:
            # A bug downstream must not stop the stream for every other socket.
            log.exception("event %d could not be fanned out", stream_seq)

    async def _control(self, feed: Feed, msg: Msg) -> None:
        """A flow-control request or an idle heartbeat (JetStream status 100, no data)."""
        feed.beats += 1
        nc = self._nc
        if nc is None:
            return
        if msg.reply:
            # Flow control: every delivery before it is handled (one queue, in order), so answer now.
            await nc.publish(msg.reply)
            return
        headers = msg.headers or {}
        stalled = headers.get(Header.CONSUMER_STALLED)
        if stalled:
            await nc.publish(stalled)
        last = headers.get(Header.LAST_CONSUMER)
        if last is not None and feed.order.missed(int(last)):
            self._restart_soon(feed, f"the consumer sent {last} messages, {feed.order.delivered} arrived")

    def _restart_soon(self, feed: Feed, why: str, *, check: bool = False) -> None:
        if not feed.dropped and (feed.restarting is None or feed.restarting.done()):
            feed.restarting = asyncio.create_task(self._restart(feed, why, check))

    async def _restart(self, feed: Feed, why: str, check: bool = False) -> None:
        if check and not await self._gone(feed):
            return
        what = feed.tenant_id or "every tenant"
        log.warning("%s: following %s (%s) again after seq %d", why, STREAM, what, feed.order.cursor)
        try:
            # The stream may be gone: ensure_stream makes it exist again, as another stream.
            info = await ensure_stream(self.jetstream(), self._stream_settings)
            if stream_epoch(info) != self.epoch:
                self._recreated(info)  # every other feed restarts on its own; this one goes on here
            await self._follow(feed, fresh=False)
        except Exception as exc:
            log.warning("cannot follow %s (%s) again yet (%s); retried at the next watch", STREAM, what, exc)

    async def _watch(self) -> None:
        """Every two heartbeats: a feed with no delivery and no heartbeat is looked at (`_gone`), since its
        consumer may be gone (NATS restarted, say)."""
        while True:
            await asyncio.sleep(2 * HEARTBEAT_SECONDS)
            nc = self._nc
            connected = nc is not None and nc.is_connected
            for feed in list(self._feeds.values()):
                now = feed.progress()
                if now == feed.seen and connected and feed.consumers:
                    self._restart_soon(feed, "no heartbeat from the consumer", check=True)
                feed.seen = now

    async def _gone(self, feed: Feed) -> bool:
        """Whether a silent feed needs a new consumer: its consumer is gone, or sent what never came (and
        nothing waits in this client's queue), or holds messages it does not send. Not when the
        heartbeats are only late, this instance being too busy to read them in time: a new consumer
        would make it busier. A failed look counts as gone."""
        try:
            info = await self.jetstream().consumer_info(STREAM, feed.consumer)
        except Exception:
            return True
        sent = info.delivered.consumer_seq if info.delivered is not None else 0
        got = feed.order.delivered
        if sent > got:
            return feed.sub is None or feed.sub.pending_msgs == 0
        return sent < got or bool(info.num_pending)


def _consume_exception(future: asyncio.Future[None]) -> None:
    # Its waiters may all be gone (their sockets closed): the failure was theirs to log.
    if not future.cancelled():
        future.exception()
