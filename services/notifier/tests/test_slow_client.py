"""A client that never reads is closed with 4008 while the others keep up; memory stays bounded."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import socket

import psutil
import pytest
from notifier_kit import Board, client, make_event, publisher, run_notifier, token
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from sprintboard_notifier.closecodes import SLOW_CLIENT

pytestmark = pytest.mark.integration


async def test_never_reading_client_gets_4008_and_others_get_everything(nats_url: str, tenant: str) -> None:
    board = Board(tenant)
    async with (
        run_notifier(nats_url, send_queue_frames=64) as notifier,
        publisher(nats_url) as pub,
        client(notifier, token(tenant)) as fast,
    ):
        await fast.control("welcome")
        # A tiny receive buffer and no reading: the server's writes stall quickly.
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", notifier.settings.port))
        async with connect(
            f"{notifier.ws_url}?token={token(tenant, 'slow')}", sock=sock, max_queue=1
        ) as slow:
            while len(notifier.hub) < 2:
                await asyncio.sleep(0.01)
            process = psutil.Process()
            gc.collect()
            rss_before = process.memory_info().rss

            received: list[str] = []

            async def read_fast() -> None:
                while True:
                    received.extend(e["event_id"] for e in await fast.events(1, timeout=30))

            reader = asyncio.create_task(read_fast())
            published: list[str] = []
            while len(notifier.hub) == 2 and len(published) < 50_000:
                for _ in range(200):
                    event = make_event(board)
                    await pub.publish(event)
                    published.append(str(event.event_id))
                assert notifier.most_queued() <= 64
            assert len(notifier.hub) == 1, "the slow client was never closed"
            print(f"slow client closed after {len(published)} events")
            for _ in range(200):
                event = make_event(board)
                await pub.publish(event)
                published.append(str(event.event_id))
            while len(received) < len(published):
                await asyncio.sleep(0.05)
                assert not reader.done()
            reader.cancel()
            assert received == published
            gc.collect()
            growth = process.memory_info().rss - rss_before
            assert growth < 64 * 1024 * 1024, f"RSS grew by {growth} bytes for {len(published)} events"
            assert notifier.metrics.slow_closes._value.get() == 1

            # Once it reads again, the slow client learns why it was dropped.
            with contextlib.suppress(ConnectionClosed):
                async with asyncio.timeout(20):
                    async for _ in slow:
                        pass
            assert slow.close_code == SLOW_CLIENT
