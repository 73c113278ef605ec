"""The outbox relay as a lifespan hook of the API process, or alone (`python -m ...entrypoints.relay`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
from collections.abc import AsyncIterator

import nats
import uvloop
from nats.aio.client import Client as NatsClient
from prometheus_client import start_http_server

from sprintboard_backlog.adapters.nats_publisher import JetStreamPublisher
from sprintboard_backlog.adapters.relay import OutboxRelay, OutboxWaker
from sprintboard_backlog.entrypoints.http.context import ServiceContext
from sprintboard_backlog.entrypoints.http.observability import configure_logging
from sprintboard_backlog.settings import BacklogSettings
from sprintboard_contracts.stream import StreamSettings

log = logging.getLogger(__name__)


def build_relay(settings: BacklogSettings) -> OutboxRelay:
    stream = StreamSettings(
        max_age_seconds=settings.stream_max_age_seconds,
        duplicate_window_seconds=settings.stream_duplicate_window_seconds,
        replicas=settings.stream_replicas,
    )
    publisher = JetStreamPublisher(
        settings.nats_servers, stream, ack_timeout=settings.relay_ack_timeout_seconds
    )
    return OutboxRelay(
        settings.asyncpg_dsn,
        publisher,
        batch_size=settings.relay_batch_size,
        poll_interval=settings.relay_poll_interval_seconds,
        lock_timeout=settings.relay_lock_timeout_seconds,
    )


class NatsProbe:
    """A connection used only to answer readiness; it never blocks start-up when NATS is down."""

    def __init__(self, servers: list[str]) -> None:
        self._servers = servers
        self._nc: NatsClient | None = None

    async def check(self) -> None:
        if self._nc is None:
            self._nc = await nats.connect(
                self._servers,
                connect_timeout=1,
                max_reconnect_attempts=-1,
                reconnect_time_wait=0.5,
                name="sprintboard-backlog-probe",
            )
        if not self._nc.is_connected:
            raise ConnectionError("NATS is not connected")
        await self._nc.flush(timeout=1)

    async def close(self) -> None:
        if self._nc is not None and not self._nc.is_closed:
            await self._nc.close()


@contextlib.asynccontextmanager
async def relay_hook(context: ServiceContext) -> AsyncIterator[None]:
    """Run the relay beside the API: woken in-process after each commit that wrote outbox rows."""
    probe = NatsProbe(context.settings.nats_servers)
    context.readiness_checks["nats"] = probe.check
    runner = RelayThread(build_relay(context.settings))
    context.on_commit.append(runner.wake)
    runner.start()
    try:
        yield
    finally:
        await asyncio.to_thread(runner.stop)
        await probe.close()


class RelayThread:
    """Runs the relay on its own event loop in a thread of the API process.

    On the API's loop the relay waits behind every queued request at each of its awaits, so under load
    it fell seconds behind the writes; on its own loop it only shares the GIL."""

    def __init__(self, relay: OutboxRelay) -> None:
        self._relay = relay
        self._loop = uvloop.new_event_loop()
        self._thread = threading.Thread(target=self._main, name="outbox-relay", daemon=True)
        self._task: asyncio.Task[None] | None = None
        self._wake_pending = False

    def _main(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._task = self._loop.create_task(self._relay.run(), name="outbox-relay")
        with contextlib.suppress(asyncio.CancelledError):
            self._loop.run_until_complete(self._task)
        self._loop.close()

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        """Called on the API's loop after each commit; many commits in a row cost one cross-thread call."""
        if not self._wake_pending:
            self._wake_pending = True
            self._loop.call_soon_threadsafe(self._deliver_wake)

    def _deliver_wake(self) -> None:
        self._wake_pending = False
        self._relay.wake()

    def stop(self, timeout: float = 10.0) -> None:
        def cancel() -> None:
            if self._task is not None:
                self._task.cancel()

        with contextlib.suppress(RuntimeError):  # the loop already ended
            self._loop.call_soon_threadsafe(cancel)
        self._thread.join(timeout)


@contextlib.asynccontextmanager
async def remote_relay_hook(context: ServiceContext) -> AsyncIterator[None]:
    """The relay runs as its own process (`BACKLOG_RELAY_ENABLED=false`): commits wake it by NOTIFY,
    and readiness still checks NATS."""
    probe = NatsProbe(context.settings.nats_servers)
    context.readiness_checks["nats"] = probe.check
    waker = OutboxWaker(
        context.settings.asyncpg_dsn, retry_interval=context.settings.relay_poll_interval_seconds
    )
    context.on_commit.append(waker.wake)
    task = asyncio.create_task(waker.run(), name="outbox-waker")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await probe.close()


async def run_standalone(settings: BacklogSettings) -> None:
    relay = build_relay(settings)
    task = asyncio.create_task(relay.run(), name="outbox-relay")
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, task.cancel)
    with contextlib.suppress(asyncio.CancelledError):
        await task


def main() -> None:
    settings = BacklogSettings()
    configure_logging(settings.log_level)
    if settings.relay_metrics_port:
        start_http_server(settings.relay_metrics_port, addr=settings.host)
    log.info("outbox relay starting")
    uvloop.run(run_standalone(settings))


if __name__ == "__main__":
    main()
