"""The live follower: makes sure the task stream exists and follows what this instance's sockets need.

Each followed interest is a `Feed`: one ephemeral push consumer of the stream, filtered to one tenant's
v2 subjects (interest routing, the default) or to every subject (`follow_all`: each instance reads every
event). A feed is created when the first local socket of its tenant needs it and dropped `linger_seconds`
after the last one left, so a reload does not recreate it (docs/architecture.md, "Interest routing").

Above `wide_above` tenant feeds an instance goes *wide*: one consumer of every event replaces its tenant
consumers (thousands of small consumers cost NATS more than one instance reading everything), and when it
follows `wide_above // 2` tenants or fewer it goes back to one consumer per tenant. Both hand-overs are
gap-free (`_widen`, `_narrow`).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from dataclasses import dataclass, field
from typing import Unpack

import nats
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js.api import Header, StreamInfo
from nats.js.client import DEFAULT_JS_SUB_PENDING_BYTES_LIMIT, DEFAULT_JS_SUB_PENDING_MSGS_LIMIT

from sprintboard_contracts.subjects import filter_v2_for_tenant
from sprintboard_contracts.wire import AnyWireEvent
from sprintboard_kit.stream import ensure_stream, require_server_version, stream_epoch
from sprintboard_notifier.metrics import NotifierMetrics
from sprintboard_notifier.stream.base import EventCallback, FollowerBase, Shared, consume_exception
from sprintboard_notifier.stream.ordering import ACK_PREFIX, NEXT, OLD, DeliveryOrder, delivery_seqs
from sprintboard_notifier.stream.subscriber import HEARTBEAT_SECONDS, STREAM, consumer_config

log = logging.getLogger(__name__)

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
    announced: bool = False  # the hub was told where the tenant is followed from (`on_follow`)
    # Wide: the tenant has no consumer of its own, the every-tenant feed hands its events on.
    covered: bool = False
    # Going wide: the tenant's own consumer still hands its events on until it has handed on every one up
    # to the every-tenant feed's start; meanwhile that feed's events of the tenant wait here.
    held: list[tuple[int, str, bytes, AnyWireEvent]] | None = None

    @property
    def filter_subject(self) -> str | None:
        return None if self.tenant_id is None else filter_v2_for_tenant(self.tenant_id)

    def progress(self) -> tuple[int, int, int, int]:
        return self.beats, self.consumers, self.order.cursor, self.order.delivered


class StreamFollower(FollowerBase):
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
        follow_all: bool = True,
        max_creates: int = 16,
        create_timeout: float = 10.0,
        wide_above: int = 0,
        **shared: Unpack[Shared],
    ) -> None:
        super().__init__(nats_url, on_event, metrics, **shared)
        self.follow_all = follow_all
        self._creates = asyncio.Semaphore(max_creates)
        self._create_timeout = create_timeout
        self._wide_above = wide_above  # 0: never wide
        self._every: Feed | None = None  # wide: the every-tenant feed
        self._hand_at = 0  # going wide: the every-tenant feed starts right after this seq
        self.widened = 0  # times this instance went wide, for tests and logs
        self.narrowed = 0  # times it went back to a consumer per tenant
        self._feeds: dict[str | None, Feed] = {}
        self._watchdog: asyncio.Task[None] | None = None
        self._generation = 0
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
        """Tenants followed now (0 with `follow_all`), wide or not."""
        return len(self._feeds) - (EVERY_TENANT in self._feeds)

    @property
    def wide(self) -> bool:
        """Interest routing over one every-tenant consumer (above `wide_above` tenants)."""
        return self._every is not None

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
            if feed.held is not None:  # going wide: held events belong to the old stream
                self._handed(feed, replay=False)
            # Right after the last stored message we looked at: nothing falls between look and follow.
            feed.order = DeliveryOrder(last)
            if feed.tenant_id is not None:
                self._announce_follow(feed, last)
            self._restart_soon(feed, "the stream was recreated")

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
        self._cancel_tasks()
        for feed in self._feeds.values():
            feed.dropped = True
            if feed.restarting is not None:
                feed.restarting.cancel()
        self._feeds.clear()
        self._every = None
        nc, self._nc, self._js = self._nc, None, None
        self._watchdog = None
        self.epoch = ""  # a later start follows from the stream's end and announces it again
        if nc is not None:
            with contextlib.suppress(Exception):
                await nc.close()

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
            feed.ready.add_done_callback(consume_exception)
            feed.users = 1
            if self._every is not None:
                self._spawn(self._cover(feed, self._every))
            else:
                self._spawn(self._first_consumer(feed))
                if self._wide_above and self.tenants > self._wide_above:
                    self._spawn(self._widen())
        else:
            feed.users += 1
            feed.idle_since = None
        await self._until_ready(tenant_id, feed, self._create_timeout, self._feeds.get)

    def unfollow(self, tenant_id: str) -> None:
        """A local socket of `tenant_id` is gone; after the last one the feed lingers, then is dropped."""
        feed = self._feeds.get(tenant_id)
        if feed is not None and not self.follow_all:
            self._left(feed, self._drop_idle)

    def _drop_idle(self, feed: Feed) -> None:
        if self._idle(feed):
            self._drop(feed)
            every = self._every
            if (
                every is not None
                and self.tenants <= self._wide_above // 2
                and not any(f.held is not None for f in self._feeds.values())
            ):
                self._narrow(every)

    async def _first_consumer(self, feed: Feed) -> None:
        assert feed.ready is not None
        try:
            async with asyncio.timeout(self._create_timeout):
                await self._follow(feed, fresh=True)
        except BaseException as exc:
            if self._feeds.get(feed.tenant_id) is feed and feed.consumers == 0:
                del self._feeds[feed.tenant_id]
                if feed.announced and feed.tenant_id is not None and self._on_drop is not None:
                    self._on_drop(feed.tenant_id)
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
        if feed.tenant_id is not None and feed.announced and self._on_drop is not None:
            self._on_drop(feed.tenant_id)
        self._release(feed)

    def _release(self, feed: Feed) -> None:
        """`feed` keeps no consumer of its own: a restart under way is stopped, the consumer let go."""
        if feed.restarting is not None:
            feed.restarting.cancel()
        sub, name = feed.sub, feed.consumer
        feed.sub, feed.consumer = None, ""
        if sub is not None or name:
            self._spawn(self._discard(sub, name))

    # -- wide and narrow --------------------------------------------------------------------------------

    async def _widen(self) -> None:
        """Replace the tenant consumers by one of every event, from right after the stream's last seq L.

        Each tenant's own consumer goes on handing its events on until it has handed on every one up to L:
        it hands on one above L, or its consumer shows nothing pending and nothing on its way. Until then
        the every-tenant feed's events of the tenant (all above L) are held; then they go to the hub, which
        skips those already handed on (each tenant's position), and the tenant's consumer is deleted. So
        every event comes once and in order, from one consumer or the other."""
        if self._every is not None or not self._wide_above:
            return
        every = self._every = Feed(EVERY_TENANT)
        every.users = 1  # dropped only by `_narrow`
        every.ready = asyncio.get_running_loop().create_future()
        every.ready.add_done_callback(consume_exception)
        try:
            last = (await self.jetstream().stream_info(STREAM)).state.last_seq
            every.order = DeliveryOrder(last)
            self._hand_at = last
            handing = [f for f in self._feeds.values() if f.tenant_id is not None and not f.covered]
            for f in handing:
                f.held = []
            self._feeds[EVERY_TENANT] = every
            await self._follow(every, fresh=False)
        except Exception as exc:
            log.warning("cannot follow every tenant (%s); following each tenant on its own", exc)
            for f in self._feeds.values():
                if f.held is not None:
                    f.held = None  # nothing came from the every-tenant feed: it has no consumer
            if self._feeds.get(EVERY_TENANT) is every:
                del self._feeds[EVERY_TENANT]
            self._every = None
            every.dropped = True
            every.ready.set_exception(exc)
            return
        self.widened += 1
        self._caught_up(every)
        log.info("following every tenant after seq %d: %d tenant consumers handed over", last, len(handing))
        while any(f.held is not None for f in handing):
            for f in handing:
                if f.held is not None and (f.dropped or f.order.cursor > last or await self._drained(f)):
                    self._handed(f)
            await asyncio.sleep(HEARTBEAT_SECONDS / 4)

    async def _drained(self, feed: Feed) -> bool:
        """Whether `feed`'s consumer has handed on every message it will ever find up to now."""
        if feed.held is None or not feed.consumer or feed.backlog:
            return False
        try:
            info = await self.jetstream().consumer_info(STREAM, feed.consumer)
        except Exception:
            return False
        sent = info.delivered.consumer_seq if info.delivered is not None else 0
        return not info.num_pending and sent == feed.order.delivered

    def _handed(self, feed: Feed, *, replay: bool = True) -> None:
        """Going wide, `feed` has handed on every event up to the every-tenant feed's start: its held
        events go on, and its own consumer is let go."""
        held, feed.held = feed.held or [], None
        if feed.dropped:
            return
        feed.covered = True
        self._generation += 1
        feed.generation = self._generation  # its consumer is not heard any more
        self._release(feed)
        self._caught_up(feed)
        if replay:
            for seq, subject, data, event in held:
                self._hand_on(seq, subject, data, event)

    async def _cover(self, feed: Feed, every: Feed) -> None:
        """A tenant followed while wide: live from the every-tenant feed's cursor on, no consumer made."""
        assert feed.ready is not None and every.ready is not None
        try:
            await asyncio.shield(every.ready)
        except Exception as exc:
            if not feed.dropped:  # going wide failed: the tenant gets its own consumer
                await self._first_consumer(feed)
            elif not feed.ready.done():
                feed.ready.set_exception(exc)
            return
        if feed.dropped:
            return
        if self._every is not every:  # narrowed meanwhile
            await self._first_consumer(feed)
            return
        feed.covered = True
        self._announce_follow(feed, every.order.cursor)
        self._caught_up(feed)

    def _narrow(self, every: Feed) -> None:
        """Back to a consumer per tenant: each starts right after the last event the every-tenant feed
        handed on, and from this moment that feed hands on nothing of it (then it is dropped)."""
        cursor = every.order.cursor
        covered = [f for f in self._feeds.values() if f.covered]
        for f in covered:
            f.covered = False
            f.order = DeliveryOrder(cursor)
        self._every = None
        self.narrowed += 1
        self._drop(every)
        log.info("following each tenant on its own after seq %d: %d tenant consumers", cursor, len(covered))
        for f in covered:
            self._spawn(self._own_consumer(f))

    async def _own_consumer(self, feed: Feed) -> None:
        """A consumer for a tenant that was covered, retried until it is made (the stream keeps what it
        has to start from) or the tenant is dropped."""
        while not feed.dropped:
            try:
                await self._follow(feed, fresh=False)
                return
            except Exception as exc:
                log.warning("cannot follow %s on its own yet (%s); retrying", feed.tenant_id, exc)
                await asyncio.sleep(HEARTBEAT_SECONDS)

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
                start = self._warm_start(state.first_seq, state.last_seq, await self._last_v1_seq(js))
                feed.order = DeliveryOrder(start - 1)
                if feed.tenant_id is not None:
                    self._announce_follow(feed, start - 1)
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
        event = self._decode(stream_seq, msg.subject, data)
        if event is None:
            return
        if feed is self._every:
            # Wide: only followed tenants, and only those it covers (going wide: held; narrowing: not).
            tenant = self._feeds.get(event.tenant_id)
            if tenant is None or not tenant.covered:
                if tenant is not None and tenant.held is not None:
                    tenant.held.append((stream_seq, msg.subject, data, event))
                return
        self._hand_on(stream_seq, msg.subject, data, event)
        if feed.held is not None and stream_seq > self._hand_at:
            self._handed(feed)  # going wide: this tenant's consumer has handed on everything up to L

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
        if feed.covered:
            return  # no consumer of its own: the every-tenant feed's restart covers it
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
