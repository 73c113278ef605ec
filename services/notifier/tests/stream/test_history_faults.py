"""A replay from the stream that fails half-way ends in `resync_required`, never in a silent gap."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from notifier_kit import Board, make_event, publisher, run_notifier, token
from websockets.asyncio.client import connect

from sprintboard_devstack.servers import EmbeddedNats
from sprintboard_kit.stream import ensure_stream

pytestmark = pytest.mark.integration

GAP = 12_000  # many read batches, more than the kernel's socket buffers hold (~4 MiB)


@pytest.fixture
def own_nats() -> Iterator[EmbeddedNats]:
    server = EmbeddedNats().start()
    try:
        yield server
    finally:
        if server.pid is not None:
            os.kill(server.pid, signal.SIGCONT)
        server.cleanup()


@pytest.mark.parametrize("fault", ["paused", "killed"])
async def test_a_replay_cut_off_mid_way_ends_in_resync(
    own_nats: EmbeddedNats, tenant: str, fault: str
) -> None:
    board = Board(tenant)
    async with publisher(own_nats.url) as pub:
        await ensure_stream(pub.js)
        # Published before the notifier starts: its memory of recent events has none of them.
        events = [make_event(board) for _ in range(GAP)]
        stored: list[tuple[int, str]] = []

        async def put(event: Any) -> None:
            stored.append((await pub.publish(event), str(event.event_id)))

        for i in range(0, GAP, 200):
            await asyncio.gather(*(put(e) for e in events[i : i + 200]))
        stored.sort()
        first, ids = stored[0][0], [eid for _, eid in stored]
    async with run_notifier(
        own_nats.url, send_queue_frames=8, replay_read_timeout_seconds=1.0, history_events=100
    ) as notifier:
        epoch = notifier.hub.epoch
        # A client that reads nothing for now: the replay fills its buffers and waits for room.
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", notifier.settings.port))
        async with connect(notifier.ws_url, sock=sock, max_queue=1, max_size=2**22) as ws:
            await ws.send(orjson.dumps({"type": "auth", "token": token(tenant)}).decode())
            resume = {"type": "subscribe", "resume_from": {"seq": first - 1, "epoch": epoch}}
            await ws.send(orjson.dumps(resume).decode())
            async with asyncio.timeout(30):
                while notifier.most_queued() < 8:
                    await asyncio.sleep(0.02)
            pid = own_nats.pid
            assert pid is not None
            if fault == "paused":
                os.kill(pid, signal.SIGSTOP)
            else:
                own_nats.stop(signal.SIGKILL)
            got: list[str] = []
            resynced = False
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(60):
                    while len(got) < GAP:
                        frame = orjson.loads(await ws.recv())
                        if frame.get("type") == "resync_required":
                            resynced = True
                            break
                        if "event_id" in frame:
                            got.append(frame["event_id"])
            print(f"\n{fault} mid-replay: {len(got)} of {GAP} replayed, resync_required {resynced}")
            # All, or a resync after an exact prefix: never a gap the client is not told of.
            assert got == ids[: len(got)]
            assert resynced or got == ids, f"replay stopped after {len(got)} of {GAP} events, no resync"
            assert resynced  # NATS went away before the replay could end
            if fault == "paused":
                os.kill(pid, signal.SIGCONT)
            else:
                own_nats.start()
            async with publisher(own_nats.url) as pub:
                after = make_event(board)
                await pub.publish(after)
            async with asyncio.timeout(30):
                while True:
                    frame = orjson.loads(await ws.recv())
                    if frame.get("event_id") == str(after.event_id):
                        break
