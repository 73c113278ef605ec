"""The socket writer: one task per socket drains its session's queue into the connection."""

from __future__ import annotations

import asyncio
import time

from sprintboard_notifier.hub import Frame, Session
from sprintboard_notifier.metrics import NotifierMetrics
from sprintboard_notifier.transport import Connection, ConnectionClosed

# Frames taken per wake-up when not batching: fewer wake-ups, same order.
DRAIN_CHUNK = 64


async def run_writer(
    session: Session,
    conn: Connection,
    metrics: NotifierMetrics,
    *,
    batch_window: float,
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
                if batch_window > 0 and len(frames) < batch_max:
                    # Linger a few ms so a burst leaves as one frame.
                    await asyncio.sleep(batch_window)
                    frames += session.take_nowait(batch_max - len(frames))
                await _send_batched(conn, frames, metrics, batch_bytes)
            else:
                for frame in frames:
                    await conn.send(frame)
                    _sent(metrics, (frame,))
            session.last_sent = time.monotonic()
    except ConnectionClosed:
        return


async def _send_batched(conn: Connection, frames: list[Frame], metrics: NotifierMetrics, limit: int) -> None:
    """Runs of event frames become `{"type":"batch","events":[...]}`; control frames keep their place."""
    run: list[Frame] = []
    size = 0
    for frame in frames:
        if frame.is_event and (not run or size + len(frame.text) < limit):
            run.append(frame)
            size += len(frame.text) + 1
            continue
        if run:
            await _flush(conn, run, metrics)
            run, size = [], 0
        if frame.is_event:
            run, size = [frame], len(frame.text) + 1
        else:
            await conn.send(frame)
            _sent(metrics, (frame,))
    if run:
        await _flush(conn, run, metrics)


async def _flush(conn: Connection, run: list[Frame], metrics: NotifierMetrics) -> None:
    await conn.send(Frame.batch(run))
    _sent(metrics, run)


def _sent(metrics: NotifierMetrics, frames: tuple[Frame, ...] | list[Frame]) -> None:
    metrics.frames_out.inc()
    now = time.time()
    for frame in frames:
        if frame.timestamp is not None:
            metrics.lag.observe(max(0.0, now - frame.timestamp))
