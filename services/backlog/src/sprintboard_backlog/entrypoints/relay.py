"""The outbox relay as its own process (`python -m sprintboard_backlog.entrypoints.relay`), and how every
relay is built from the settings (the API's in-process relay too: `entrypoints/http/relay_hooks.py`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

import uvloop
from prometheus_client import start_http_server

from sprintboard_backlog.adapters.nats_publisher import JetStreamPublisher
from sprintboard_backlog.adapters.relay import OutboxRelay, RelayMetrics
from sprintboard_backlog.settings import BacklogSettings
from sprintboard_kit.logs import configure_logging

log = logging.getLogger(__name__)


def build_relay(settings: BacklogSettings, metrics: RelayMetrics) -> OutboxRelay:
    publisher = JetStreamPublisher(
        settings.nats_servers, settings.stream_settings(), ack_timeout=settings.relay_ack_timeout_seconds
    )
    return OutboxRelay(
        settings.asyncpg_dsn,
        publisher,
        batch_size=settings.relay_batch_size,
        poll_interval=settings.relay_poll_interval_seconds,
        lock_timeout=settings.relay_lock_timeout_seconds,
        metrics=metrics,
    )


async def run_standalone(settings: BacklogSettings, metrics: RelayMetrics) -> None:
    relay = build_relay(settings, metrics)
    task = asyncio.create_task(relay.run(), name="outbox-relay")
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, task.cancel)
    with contextlib.suppress(asyncio.CancelledError):
        await task


def main() -> None:
    settings = BacklogSettings()
    configure_logging(settings.log_level)
    metrics = RelayMetrics()
    if settings.relay_metrics_port:
        start_http_server(settings.relay_metrics_port, addr=settings.host, registry=metrics.registry)
    log.info("outbox relay starting")
    uvloop.run(run_standalone(settings, metrics))


if __name__ == "__main__":
    main()
