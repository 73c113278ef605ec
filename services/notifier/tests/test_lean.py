"""The lean WebSocket path: frames handed over together share one socket write, and stay frames."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from notifier_kit import Client, Notifier, client, run_notifier, token

from sprintboard_notifier.hub import Session
from sprintboard_notifier.prepared import Frame


@contextlib.asynccontextmanager
async def one_socket(nats_url: str, tenant: str) -> AsyncIterator[tuple[Notifier, Session, Client]]:
    """A notifier without heartbeats (nothing but the test writes) and one welcomed socket."""
    async with (
        run_notifier(nats_url, heartbeat_seconds=3600) as notifier,
        client(notifier, token(tenant)) as c,
    ):
        await c.control("welcome")
        (session,) = notifier.hub.sessions()
        yield notifier, session, c


def probe(n: int) -> Frame:
    return Frame.control({"type": "probe", "n": n})


async def test_frames_handed_over_together_go_out_in_one_write_as_separate_frames(
    nats_url: str, tenant: str
) -> None:
    async with one_socket(nats_url, tenant) as (notifier, session, c):
        writes, frames = notifier.metrics.socket_writes, notifier.metrics.frames_out
        before = writes.value, frames.value
        for n in range(5):  # one turn of the loop: nothing awaits in between
            notifier.hub.send(session, probe(n))
        got = [await c.control("probe") for _ in range(5)]
        assert [g["n"] for g in got] == [0, 1, 2, 3, 4], "each frame arrives alone, in order"
        assert writes.value - before[0] == 1, "five frames, one write"

        # A frame handed over after the last one went out is a write of its own.
        for n in range(2):
            notifier.hub.send(session, probe(n))
            assert (await c.control("probe"))["n"] == n
        assert writes.value - before[0] == 3
        assert frames.value - before[1] == 7, "frames are still counted one by one"


async def test_a_close_follows_the_frames_corked_before_it(nats_url: str, tenant: str) -> None:
    async with one_socket(nats_url, tenant) as (notifier, session, c):
        for n in range(3):
            notifier.hub.send(session, probe(n))
        notifier.hub.close(session, 4000, "going away")  # in the same turn as the frames
        got = [await c.control("probe") for _ in range(3)]
        assert [g["n"] for g in got] == [0, 1, 2]
        assert await c.close_code() == 4000
