"""Batching sockets flushed together: one timer per window for all of them, not a sleeping task each."""

from __future__ import annotations

import asyncio
import time

from sprintboard_notifier.hub.session import Session
from sprintboard_notifier.metrics import NotifierMetrics
from sprintboard_notifier.prepared import Frame

# Under load a flush (one write per socket) can take most of a window; the next one then waits this many
# times as long as the last took, so batches grow instead of the writes eating the loop (capped).
BACKOFF = 2.0
MAX_WINDOWS = 10


class BatchFlusher:
    """Sessions mark themselves when they queue an event; the flush writes their batch frames at once."""

    def __init__(self, metrics: NotifierMetrics, window: float, max_events: int, max_bytes: int) -> None:
        self._metrics = metrics
        self._window = window
        self.max_events = max_events
        self._max_bytes = max_bytes
        self._dirty: list[Session] = []
        self._timer: asyncio.TimerHandle | None = None
        self._soon = False
        self._delay = window  # the window, or longer while flushes are expensive

    def mark(self, s: Session, new: bool, full: bool) -> None:
        """`Session.on_batch`: flush at the window's end, or right away once a socket has a full batch."""
        if new:
            self._dirty.append(s)
        if self._soon:
            return
        loop = asyncio.get_running_loop()
        if full:
            self._soon = True
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            loop.call_soon(self.flush)
        elif self._timer is None:
            self._timer = loop.call_later(self._delay, self.flush)

    def flush(self) -> None:
        self._timer = None
        self._soon = False
        dirty, self._dirty = self._dirty, []
        started = time.perf_counter()
        now, written = time.monotonic(), 0
        memo: dict[tuple[Frame, ...], list[Frame]] = {}
        for s in dirty:
            if s.dirty:
                written += s.flush_batches(self._max_bytes, now, memo)
        if written:
            self._metrics.frames_out.inc(written)
        wall = time.time()
        for frames in memo.values():  # each built batch frame's lag once, however many sockets got it
            for f in frames:
                if f.timestamp is not None and not f.observed:
                    f.observed = True
                    self._metrics.lag.observe(max(0.0, wall - f.timestamp))
        took = time.perf_counter() - started
        self._delay = min(max(self._window, BACKOFF * took), MAX_WINDOWS * self._window)
