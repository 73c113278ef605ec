"""The live follower: makes sure the task stream exists and follows it from its end, per instance."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import nats
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js import JetStreamContext
from nats.js.api import Header, StreamInfo
from nats.js.client import DEFAULT_JS_SUB_PENDING_BYTES_LIMIT, DEFAULT_JS_SUB_PENDING_MSGS_LIMIT

from sprintboard_contracts.events import InvalidEvent
from sprintboard_contracts.wire import AnyWireEvent, decode_event
from sprintboard_kit.stream import StreamSettings, ensure_stream, require_server_version, stream_epoch
from sprintboard_notifier.metrics import NotifierMetrics
from sprintboard_notifier.stream.ordering import ACK_PREFIX, NEXT, OLD, DeliveryOrder, delivery_seqs
from sprintboard_notifier.stream.subscriber import HEARTBEAT_SECONDS, STREAM, consumer_config

log = logging.getLogger(__name__)

EventCallback = Callable[[int, str, bytes, AnyWireEvent], None]


class StreamFollower:
    """Every instance sees every event: its own ephemeral push consumer (`stream/subscriber.py`), never a
    queue group. The follower owns that consumer: on a sequence gap, two missed heartbeats (NATS
    restarted, the consumer gone) or a recreated stream it creates a new one after the last event it
    handed on, so the live path is gap-free, in order and never repeats itself."""

    def __init__(
        self,
        nats_url: str | list[str],
        on_event: EventCallback,
        metrics: NotifierMetrics,
        *,
        on_skip: Callable[[int], None] | None = None,
        on_ready: Callable[[str, int], None] | None = None,
        stream_settings: StreamSettings | None = None,
        name: str = "sprintboard-notifier",
    ) -> None:
        self._url = nats_url
        self._on_event = on_event
        self._on_skip = on_skip
        self._on_ready = on_ready
        self._metrics = metrics
        self._stream_settings = stream_settings or StreamSettings()
        self._name = name
        self._nc: Client | None = None
        self._js: JetStreamContext | None = None
        self._sub: Subscription | None = None
        self._order = DeliveryOrder()
        self._following = asyncio.Lock()
        self._watchdog: asyncio.Task[None] | None = None
        self._restarting: asyncio.Task[None] | None = None
        self._beats = 0  # control messages seen (heartbeats, flow control), for the watchdog
        self._consumers = 0  # consumers created, for the watchdog
        self.epoch = ""
        self.redelivered = 0  # messages seen again after a consumer reset (dropped)

    @property
    def cursor(self) -> int:
        """The stream seq of the last message handed on (or skipped as invalid)."""
        return self._order.cursor

    @property
    def running(self) -> bool:
        return self._sub is not None and self._nc is not None and self._nc.is_connected

    async def run(self, watch_seconds: float) -> None:
        """Start (retrying while NATS is away), then follow a recreated stream from its end."""
        await self._start_retrying()
        while True:
            await asyncio.sleep(watch_seconds)
            try:
                info = await self.jetstream().stream_info(STREAM)
            except Exception:
                continue  # NATS away: the client reconnects and the watchdog recreates the consumer
            if stream_epoch(info) != self.epoch:
                log.warning("stream %s was recreated (epoch %s)", STREAM, stream_epoch(info))
                try:
                    await self._follow(info)
                except Exception as exc:
                    log.warning("cannot follow the recreated stream yet: %s", exc)

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
        """Connect, make sure the stream exists, and follow it from its current end."""
        self._nc = await nats.connect(
            self._url, name=self._name, max_reconnect_attempts=-1, reconnect_time_wait=1
        )
        require_server_version(self._nc)
        self._js = self._nc.jetstream()
        await self._follow(await ensure_stream(self._js, self._stream_settings))
        self._watchdog = asyncio.create_task(self._watch_heartbeats())

    async def stop(self) -> None:
        for task in (self._watchdog, self._restarting):
            if task is not None:
                task.cancel()
        nc, self._nc, self._sub, self._js = self._nc, None, None, None
        self._watchdog = self._restarting = None
        self.epoch = ""  # a later start follows from the stream's end and announces it again
        if nc is not None:
            with contextlib.suppress(Exception):
                await nc.close()

    def jetstream(self) -> JetStreamContext:
        """The running connection's JetStream context (the history reader shares it)."""
        if self._js is None:
            raise RuntimeError("the follower is not started")
        return self._js

    async def _follow(self, info: StreamInfo) -> None:
        """A new consumer right after the cursor; from the stream's end when it is another stream."""
        async with self._following:
            nc = self._nc
            js = self.jetstream()
            assert nc is not None
            if self._sub is not None:
                with contextlib.suppress(Exception):
                    await self._sub.unsubscribe()  # what is still on its way to the old inbox is dropped
            epoch = stream_epoch(info)
            fresh = epoch != self.epoch
            if fresh:
                # Right after the last stored message we looked at: nothing falls between look and follow.
                self.epoch = epoch
                self._order = DeliveryOrder(info.state.last_seq)
            start_seq = self._order.restart()
            self._consumers += 1
            if fresh and self._on_ready is not None:
                self._on_ready(epoch, self._order.cursor)
            inbox = nc.new_inbox()
            # nats-py's own callback, no framework in between: one plain call per message
            # (docs/architecture.md, "Ingest"); what it subscribes to is `stream/subscriber.py`'s.
            self._sub = await nc.subscribe(
                inbox,
                cb=self._handle,
                pending_msgs_limit=DEFAULT_JS_SUB_PENDING_MSGS_LIMIT,
                pending_bytes_limit=DEFAULT_JS_SUB_PENDING_BYTES_LIMIT,
            )
            await js.add_consumer(STREAM, consumer_config(start_seq, inbox))
            log.info("following %s from seq %d (epoch %s)", STREAM, start_seq, epoch)

    async def _handle(self, msg: Msg) -> None:
        reply = msg.reply
        if not reply.startswith(ACK_PREFIX):
            await self._control(msg)
            return
        stream_seq, consumer_seq = delivery_seqs(reply)
        verdict = self._order.take(stream_seq, consumer_seq)
        if verdict != NEXT:
            if verdict == OLD:
                self.redelivered += 1
            else:
                self._restart_soon(f"consumer seq {consumer_seq} after {self._order.delivered}")
            return
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

    async def _control(self, msg: Msg) -> None:
        """A flow-control request or an idle heartbeat (JetStream status 100, no data)."""
        self._beats += 1
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
        if last is not None and self._order.missed(int(last)):
            self._restart_soon(f"the consumer sent {last} messages, {self._order.delivered} arrived")

    def _restart_soon(self, why: str) -> None:
        if self._restarting is None or self._restarting.done():
            self._restarting = asyncio.create_task(self._restart(why))

    async def _restart(self, why: str) -> None:
        log.warning("%s: following %s again after seq %d", why, STREAM, self._order.cursor)
        try:
            await self._follow(await ensure_stream(self.jetstream(), self._stream_settings))
        except Exception as exc:
            log.warning("cannot follow %s again yet (%s); retrying after two missed heartbeats", STREAM, exc)

    async def _watch_heartbeats(self) -> None:
        """No delivery and no heartbeat for two beats: the consumer is gone (NATS restarted, say)."""
        seen = self._progress()
        while True:
            await asyncio.sleep(2 * HEARTBEAT_SECONDS)
            now = self._progress()
            nc = self._nc
            if now == seen and nc is not None and nc.is_connected:
                self._restart_soon("no heartbeat from the consumer")
            seen = now

    def _progress(self) -> tuple[int, int, int, int]:
        return self._beats, self._consumers, self._order.cursor, self._order.delivered
