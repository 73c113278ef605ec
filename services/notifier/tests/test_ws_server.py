"""The uvicorn WebSocket protocol on a real socket: frames due together share one kernel write and stay
frames; a close follows the frames before it; flow control reaches the socket's writer."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import pytest
from notifier_kit import Client, Notifier, client, run_notifier, token

from sprintboard_notifier.client import Client as SocketClient
from sprintboard_notifier.closecodes import APPLICATION
from sprintboard_notifier.prepared import Frame

pytestmark = pytest.mark.integration


@contextlib.asynccontextmanager
async def one_socket(nats_url: str, tenant: str) -> AsyncIterator[tuple[Notifier, SocketClient, Client]]:
    """A notifier without heartbeats (nothing but the test writes) and one welcomed socket."""
    async with (
        run_notifier(nats_url, heartbeat_seconds=3600) as notifier,
        client(notifier, token(tenant)) as c,
    ):
        await c.control("welcome")
        (socket,) = notifier.clients
        yield notifier, socket, c


def probe(n: int) -> Frame:
    return Frame.control({"type": "probe", "n": n})


async def test_frames_handed_over_together_go_out_in_one_write_as_separate_frames(
    nats_url: str, tenant: str
) -> None:
    async with one_socket(nats_url, tenant) as (notifier, socket, c):
        writes, frames = notifier.metrics.socket_writes, notifier.metrics.frames_out
        before = writes.value, frames.value
        for n in range(5):  # one turn of the loop: nothing awaits in between
            notifier.hub.send(socket.session, probe(n))
        got = [await c.control("probe") for _ in range(5)]
        assert [g["n"] for g in got] == [0, 1, 2, 3, 4], "each frame arrives alone, in order"
        assert writes.value - before[0] == 1, "five frames, one write"

        # A frame handed over after the last one went out is a write of its own.
        for n in range(2):
            notifier.hub.send(socket.session, probe(n))
            assert (await c.control("probe"))["n"] == n
        assert writes.value - before[0] == 3
        assert frames.value - before[1] == 7, "frames are still counted one by one"


async def test_a_close_follows_the_frames_handed_over_before_it(nats_url: str, tenant: str) -> None:
    async with one_socket(nats_url, tenant) as (notifier, socket, c):
        for n in range(3):
            notifier.hub.send(socket.session, probe(n))
        notifier.hub.close(socket.session, APPLICATION, "going away")  # in the same turn as the frames
        got = [await c.control("probe") for _ in range(3)]
        assert [g["n"] for g in got] == [0, 1, 2]
        assert await c.close_code() == APPLICATION
