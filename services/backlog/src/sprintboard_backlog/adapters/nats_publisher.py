"""JetStream publisher for the outbox relay: many acks in flight, `Nats-Msg-Id` for de-duplication."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass

import nats
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from nats.js.api import PubAck

from sprintboard_contracts.subjects import STREAM_NAME
from sprintboard_kit.stream import StreamSettings, ensure_stream, require_server_version

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    """One outbox row on its way to the stream."""

    msg_id: str
    subject: str
    payload: bytes


class PublishFailed(RuntimeError):
    """At least one message of a batch was not acknowledged by JetStream."""


class JetStreamPublisher:
    """Owns one NATS connection; publishes batches and waits for every ack."""

    def __init__(
        self,
        servers: str | list[str],
        stream: StreamSettings | None = None,
        ack_timeout: float = 5.0,
        max_in_flight: int = 4096,
    ) -> None:
        self._servers = servers
        self._stream = stream or StreamSettings()
        self._ack_timeout = ack_timeout
        self._max_in_flight = max_in_flight
        self._nc: NatsClient | None = None
        self._js: JetStreamContext | None = None
        self._stream_ready = False

    @property
    def connected(self) -> bool:
        return self._nc is not None and self._nc.is_connected

    async def connect(self) -> None:
        """Connect (raising when NATS is unreachable or too old); the client then reconnects on its own."""
        if self._nc is not None:
            return
        nc = await nats.connect(
            self._servers,
            allow_reconnect=True,
            max_reconnect_attempts=-1,
            reconnect_time_wait=0.25,
            connect_timeout=2,
            name="sprintboard-backlog-relay",
            error_cb=self._on_error,
        )
        try:
            require_server_version(nc)
        except Exception:
            await nc.close()
            raise
        self._nc = nc
        self._js = nc.jetstream(timeout=self._ack_timeout, publish_async_max_pending=self._max_in_flight)

    async def _on_error(self, exc: Exception) -> None:
        log.warning("nats connection error: %s", exc)

    async def publish_batch(self, messages: Sequence[OutgoingMessage]) -> None:
        """Publish all messages in order with their acks in flight together; raise unless every one is acked.

        A message that reached the stream but whose ack was lost is re-sent later with the same
        `Nats-Msg-Id` and stored once, so raising here never duplicates an event.
        """
        if self._js is None:
            await self.connect()
        assert self._js is not None
        if not self._stream_ready:
            await ensure_stream(self._js, self._stream)
            self._stream_ready = True
        futures: list[asyncio.Future[PubAck]] = []
        try:
            for msg in messages:
                fut = await self._js.publish_async(
                    msg.subject,
                    msg.payload,
                    wait_stall=self._ack_timeout,
                    # Refused unless stored in BACKLOG_TASKS: never acked by another stream instead.
                    stream=STREAM_NAME,
                    headers={"Nats-Msg-Id": msg.msg_id},
                )
                futures.append(fut)
            done, pending = await asyncio.wait(futures, timeout=self._ack_timeout)
        except Exception as exc:
            for fut in futures:
                fut.cancel()
            raise PublishFailed(f"publish failed: {exc!r}") from exc
        for fut in pending:
            fut.cancel()
        if pending:
            raise PublishFailed(f"{len(pending)} of {len(futures)} acks not received in {self._ack_timeout}s")
        errors = [fut.exception() for fut in done if fut.exception() is not None]
        if errors:
            self._stream_ready = False  # e.g. the stream was deleted: look again next time
            raise PublishFailed(f"{len(errors)} publishes refused: {errors[0]!r}")

    async def close(self) -> None:
        nc, self._nc, self._js = self._nc, None, None
        if nc is not None and not nc.is_closed:
            await nc.close()
