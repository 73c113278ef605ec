"""The history reader: stored task events read back from JetStream, for resumes past the hub's memory."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncGenerator, Callable, Sequence
from dataclasses import dataclass

from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from sprintboard_contracts.events import InvalidEvent
from sprintboard_contracts.subjects import STREAM_NAME
from sprintboard_contracts.wire import AnyWireEvent, decode_event
from sprintboard_kit.stream import stream_epoch
from sprintboard_notifier.source import HistoryGap

log = logging.getLogger(__name__)

READ_BATCH = 256


@dataclass(frozen=True, slots=True)
class StoredMessage:
    seq: int
    subject: str
    data: bytes
    event: AnyWireEvent


class StreamHistory:
    """At most `readers` reads at once, whatever the number of resuming sockets (a reconnect storm must not
    need a JetStream consumer per socket). Each read takes one batch through a short-lived pull consumer
    and lets go of it before the socket is written to, so a slow client never holds a reader.
    A read that fails or returns nothing for `read_timeout` seconds ends the replay in `HistoryGap`."""

    def __init__(
        self,
        jetstream: Callable[[], JetStreamContext],
        epoch: Callable[[], str],
        *,
        readers: int,
        read_timeout: float,
        wait_timeout: float,
    ) -> None:
        self._jetstream = jetstream
        self._epoch = epoch
        self._slots = asyncio.Semaphore(readers)
        self._read_timeout = read_timeout
        self._wait_timeout = wait_timeout
        self.reads = 0  # batches read, for tests and logs
        self.messages = 0  # stored messages read, for tests and logs

    async def replay(
        self, filters: Sequence[str], from_seq: int, to_seq: int
    ) -> AsyncGenerator[StoredMessage, None]:
        """Stored events with from_seq <= seq <= to_seq whose subject matches one of `filters` (none: every
        subject), in order; `HistoryGap` when not all can be read. Filters must not overlap (NATS refuses
        a consumer whose filters do)."""
        if to_seq < from_seq:
            return
        first = True
        while True:
            batch, last, done = await self._read(filters, from_seq, to_seq, check_bounds=first)
            first = False
            for m in batch:
                yield m
            if done:
                return
            from_seq = last + 1

    async def _read(
        self, filters: Sequence[str], from_seq: int, to_seq: int, check_bounds: bool
    ) -> tuple[list[StoredMessage], int, bool]:
        """One batch: the events read, the last seq read, and whether the range is done."""
        try:
            async with asyncio.timeout(self._wait_timeout):
                await self._slots.acquire()
        except TimeoutError:
            raise HistoryGap("no stream reader free in time") from None
        try:
            return await self._read_batch(filters, from_seq, to_seq, check_bounds)
        except HistoryGap:
            raise
        except Exception as exc:
            # NATS away, a refused consumer, a timeout: the range cannot be vouched for.
            raise HistoryGap(f"stream read failed: {type(exc).__name__}: {exc}") from exc
        finally:
            self._slots.release()

    async def _read_batch(
        self, filters: Sequence[str], from_seq: int, to_seq: int, check_bounds: bool
    ) -> tuple[list[StoredMessage], int, bool]:
        js = self._jetstream()
        async with asyncio.timeout(self._read_timeout):
            if check_bounds:
                info = await js.stream_info(STREAM_NAME)
                if stream_epoch(info) != self._epoch():
                    raise HistoryGap("the stream was recreated")
                if from_seq < info.state.first_seq:
                    raise HistoryGap(
                        f"seq {from_seq} is older than the stream keeps ({info.state.first_seq})"
                    )
            name = f"replay-{uuid.uuid4().hex}"
            config = ConsumerConfig(
                name=name,
                deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
                opt_start_seq=from_seq,
                ack_policy=AckPolicy.NONE,
                filter_subjects=list(filters) or None,  # several: NATS >= 2.10
                inactive_threshold=30.0,  # the server cleans up after us if we vanish mid-read
                mem_storage=True,
                num_replicas=1,
                max_deliver=1,
            )
            created = await js.add_consumer(STREAM_NAME, config)
        try:
            if not created.num_pending:
                return [], from_seq, True
            sub = await js.pull_subscribe_bind(consumer=name, stream=STREAM_NAME)
            try:
                try:
                    msgs = await sub.fetch(READ_BATCH, timeout=self._read_timeout)
                except TimeoutError:
                    raise HistoryGap(f"no stored message within {self._read_timeout}s") from None
            finally:
                await sub.unsubscribe()
        finally:
            try:
                async with asyncio.timeout(self._read_timeout):
                    await js.delete_consumer(STREAM_NAME, name)
            except Exception:
                log.debug("replay consumer %s already gone", name)
        if not msgs:
            raise HistoryGap("a stream read returned nothing")
        self.reads += 1
        self.messages += len(msgs)
        out: list[StoredMessage] = []
        last = from_seq
        for m in msgs:
            meta = m.metadata
            seq = meta.sequence.stream
            if seq > to_seq:
                return out, last, True
            last = seq
            event = _decode_quiet(m.data)
            if event is not None:
                out.append(StoredMessage(seq, m.subject, m.data, event))
            # Nothing more that matches is stored: the range is read whole.
            if seq >= to_seq or meta.num_pending == 0:
                return out, last, True
        return out, last, False


def _decode_quiet(data: bytes) -> AnyWireEvent | None:
    # Invalid messages were counted when they went by live; a replay only skips them.
    try:
        return decode_event(data)
    except InvalidEvent:
        return None
