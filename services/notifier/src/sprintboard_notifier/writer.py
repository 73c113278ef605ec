"""The socket writer: drains what a session could not write at once (flow control, batching)."""

from __future__ import annotations

import asyncio
import time

from sprintboard_notifier.hub import Session
from sprintboard_notifier.metrics import NotifierMetrics
from sprintboard_notifier.prepared import Frame, batch_frames
from sprintboard_notifier.transport import Connection, ConnectionClosed

# Frames taken per wake-up when not batching: fewer wake-ups, same order.
DRAIN_CHUNK = 64


class BatchClock:
    """One timer per batch window for every batching socket, instead of a sleep per socket."""

    __slots__ = ("_tick", "_window")

    def __init__(self, window: float) -> None:
        self._window = window
        self._tick: asyncio.Future[None] | None = None

    async def wait(self) -> None:
        tick = self._tick
        if tick is None or tick.done():
            loop = asyncio.get_running_loop()
            tick = self._tick = loop.create_future()
            loop.call_later(self._window, _resolve, tick)
        await asyncio.shield(tick)


def _resolve(tick: asyncio.Future[None]) -> None:
    if not tick.done():
        tick.set_result(None)


async def run_writer(
    session: Session,
    conn: Connection,
    metrics: NotifierMetrics,
    *,
    clock: BatchClock | None,
    batch_max: int,
    batch_bytes: int,
) -> None:
    """Return when the session is closed or the peer is gone; never touches other sockets."""
    try:
        while True:
            frames = await session.take(batch_max if session.batch else DRAIN_CHUNK)
            if not frames:
                return
            if session.batch and any(f.is_event for f in frames):
                if clock is not None and len(frames) < batch_max:
                    # Linger until the shared tick so a burst leaves as one frame.
                    await clock.wait()
                    frames += session.take_nowait(batch_max - len(frames))
                await _send_batched(conn, frames, metrics, batch_max, batch_bytes)
            else:
                for frame in frames:
                    await conn.send(frame)
                _sent(metrics, frames)
            session.last_sent = time.monotonic()
            session.sent()
    except ConnectionClosed:
        return


async def _send_batched(
    conn: Connection, frames: list[Frame], metrics: NotifierMetrics, max_events: int, limit: int
) -> None:
    """Runs of event frames become `{"type":"batch","events":[...]}`; control frames keep their place."""
    out = batch_frames(frames, max_events, limit)
    for frame in out:
        await conn.send(frame)
    _sent(metrics, out)


def _sent(metrics: NotifierMetrics, frames: list[Frame]) -> None:
    """One counter update per chunk; each frame's lag is observed once, by its first writer."""
    metrics.frames_out.inc(len(frames))
    now = 0.0
    for frame in frames:
        if frame.timestamp is not None and not frame.observed:
            frame.observed = True
            now = now or time.time()
            metrics.lag.observe(max(0.0, now - frame.timestamp))
