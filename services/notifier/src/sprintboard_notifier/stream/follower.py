"""The live follower: makes sure the task stream exists and follows it from its end, per instance."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass

import nats
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, DeliverPolicy

from sprintboard_contracts.events import InvalidEvent
from sprintboard_contracts.stream import (
    STREAM_NAME,
    STREAM_SUBJECTS,
    StreamSettings,
    ensure_stream,
    stream_epoch,
)
from sprintboard_contracts.wire import AnyWireEvent, decode_event
from sprintboard_notifier.metrics import NotifierMetrics

log = logging.getLogger(__name__)

EventCallback = Callable[[int, str, bytes, AnyWireEvent], None]
HEARTBEAT_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class StreamState:
    epoch: str
    first_seq: int
    last_seq: int


class StreamFollower:
    """Every instance sees every event: an ordered (ephemeral, per-instance) consumer, never a queue group."""

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
        self._sub: JetStreamContext.PushSubscription | None = None
        self._nc: Client | None = None
        self._js: JetStreamContext | None = None
        self.epoch = ""
        self.cursor = 0
        self.redelivered = 0  # messages seen again after a consumer reset (dropped)

    @property
    def running(self) -> bool:
        return self._sub is not None and self._nc is not None and self._nc.is_connected

    async def start(self) -> None:
        """Connect, make sure the stream exists, and follow it from its current end."""
        self._nc = await nats.connect(
            self._url, name=self._name, max_reconnect_attempts=-1, reconnect_time_wait=1
        )
        self._js = self._nc.jetstream()
        info = await ensure_stream(self._js, self._stream_settings)
        self.epoch = stream_epoch(info)
        self.cursor = info.state.last_seq
        # Start right after the last stored message we looked at, so nothing falls between look and follow.
        config = ConsumerConfig(
            deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=self.cursor + 1, mem_storage=True
        )
        if self._on_ready is not None:
            self._on_ready(self.epoch, self.cursor)
        # nats-py's own callback, no framework in between: one plain call per message (docs/architecture.md,
        # "Ingest"). asyncapi.py declares this subscription to FastStream for the AsyncAPI document.
        self._sub = await self._js.subscribe(
            STREAM_SUBJECTS[0],
            stream=STREAM_NAME,
            cb=self._handle,
            ordered_consumer=True,  # ephemeral and ack-none; nats-py recreates it after a gap or a restart
            idle_heartbeat=HEARTBEAT_SECONDS,  # two missed beats and nats-py recreates the consumer
            config=config,
        )
        _resume_point(self._sub, self.cursor)
        log.info("following %s from seq %d (epoch %s)", STREAM_NAME, self.cursor + 1, self.epoch)

    async def stop(self) -> None:
        nc, self._nc, self._sub, self._js = self._nc, None, None, None
        if nc is not None:
            with contextlib.suppress(Exception):
                await nc.close()

    async def _handle(self, msg: Msg) -> None:
        seq = stream_seq(msg.reply)
        if seq <= self.cursor:
            self.redelivered += 1
            return
        self.cursor = seq
        data = msg.data
        try:
            event = decode_event(data)
        except InvalidEvent as exc:
            self._metrics.invalid_events.inc()
            log.warning("invalid event at seq %d on %s skipped: %s", seq, msg.subject, str(exc)[:300])
            if self._on_skip is not None:
                self._on_skip(seq)
            return
        self._metrics.events_in.inc()
        try:
            self._on_event(seq, msg.subject, data, event)
        except Exception:
            # A bug downstream must not stop the stream for every other socket.
            log.exception("event %d could not be fanned out", seq)

    def jetstream(self) -> JetStreamContext:
        """The running connection's JetStream context (the history reader shares it)."""
        if self._js is None:
            raise RuntimeError("the consumer is not started")
        return self._js

    async def state(self) -> StreamState:
        """The stream's identity and the range it keeps, fresh from the server."""
        info = await self.jetstream().stream_info(STREAM_NAME)
        return StreamState(stream_epoch(info), info.state.first_seq, info.state.last_seq)


def stream_seq(reply: str) -> int:
    """The stream sequence in a JetStream delivery's reply subject, read as nats-py's ordered consumer
    reads it (`$JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>...`)."""
    return int(reply.split(".", 6)[5])


def _resume_point(sub: JetStreamContext.PushSubscription, cursor: int) -> None:
    """Tell nats-py's ordered consumer where we started.

    It recreates the consumer from its last delivered seq + 1 after a NATS restart, and that is 0 until a
    first message arrives: an idle instance would re-read the whole stream. No public API sets it.
    """
    jsi = getattr(getattr(sub, "_sub", None), "_jsi", None)
    if jsi is None or not hasattr(jsi, "_sseq"):
        log.warning("cannot set the ordered consumer's start; a NATS restart may re-read the stream")
        return
    jsi._sseq = max(jsi._sseq, cursor)
