"""The outbox relay as lifespan hooks of the API process: the relay on a thread beside the API, or, when it
runs as its own process, the wake-up sent to it; both add NATS to readiness."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator

import uvloop

from sprintboard_backlog.adapters.nats_probe import NatsProbe
from sprintboard_backlog.adapters.relay import OutboxRelay, OutboxWaker
from sprintboard_backlog.entrypoints.http.context import ServiceContext
from sprintboard_backlog.entrypoints.relay import build_relay


@contextlib.asynccontextmanager
async def relay_hook(context: ServiceContext) -> AsyncIterator[None]:
    """Run the relay beside the API: woken in-process after each commit that wrote outbox rows."""
    probe = NatsProbe(context.settings.nats_servers)
    context.readiness_checks["nats"] = probe.check
    runner = RelayThread(build_relay(context.settings, context.relay_metrics))
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
