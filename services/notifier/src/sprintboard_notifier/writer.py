"""The one way frames leave for a socket: a `Writer` per socket and one `Flusher` shared by all of them.

`Writer` (the hub's `Outlet` for one socket) owns the socket's bounded queue: frames handed to it go out
at the next flush unless the socket paused (its kernel buffer is over the high mark); a batching socket's
runs of events are wrapped into `batch` frames when written; a queue that is full while paused is the
hub's cue to close the socket with 4008. `_write` is the single exit: one `Transport.write` of every frame
due, counted there (frames, writes, bytes, the delivery lag) and nowhere else.

`Flusher` is the one flush rule (write-combining): a socket with frames due is written at the next flush,
which runs right after the turn that made it due when idle; after a flush that took t seconds the next one
waits until t has passed (at most `MAX_HOLD`), so under load the events of the next few milliseconds share
each socket's write instead of the writes eating the loop. A batching socket's events also wait for the
batch window (or until a batch is full). Batch frames of the same events are built once per flush and
shared by every socket that gets them (every socket on one sprint).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque

from sprintboard_notifier.closecodes import PEER_GONE
from sprintboard_notifier.metrics import NotifierMetrics
from sprintboard_notifier.prepared import Frame
from sprintboard_notifier.transport import Transport

# After a flush that took t seconds the next waits until HOLD_FACTOR x t has passed (at most MAX_HOLD).
HOLD_FACTOR = 1.0
MAX_HOLD = 0.010

# A writer's place in the flush: nothing due, waiting for the batch window, due at the next flush.
_CLEAN, _WINDOWED, _DUE = 0, 1, 2

_Built = dict[tuple[Frame, ...], list[Frame]]


def batch_frames(frames: list[Frame], max_events: int, limit: int) -> list[Frame]:
    """Runs of event frames become batch frames (at most `max_events` and about `limit` bytes each);
    control frames keep their place between them."""
    out: list[Frame] = []
    run: list[Frame] = []
    size = 0
    for frame in frames:
        if frame.seq is None:
            if run:
                out.append(Frame.batch(run))
                run, size = [], 0
            out.append(frame)
            continue
        if run and (len(run) >= max_events or size + len(frame.text) >= limit):
            out.append(Frame.batch(run))
            run, size = [], 0
        run.append(frame)
        size += len(frame.text) + 1
    if run:
        out.append(Frame.batch(run))
    return out


class Flusher:
    """Shared by every socket of an instance: one timer, whatever the number of sockets with frames due."""

    __slots__ = (
        "_at",
        "_due",
        "_handle",
        "_loop",
        "_not_before",
        "_windowed",
        "batch_bytes",
        "batch_max",
        "metrics",
        "window",
    )

    def __init__(self, metrics: NotifierMetrics, window: float, batch_max: int, batch_bytes: int) -> None:
        self.metrics = metrics
        self.window = window
        self.batch_max = batch_max
        self.batch_bytes = batch_bytes
        self._due: list[Writer] = []
        self._windowed: deque[Writer] = deque()  # in the order their windows end
        self._handle: asyncio.Handle | None = None
        self._at = 0.0  # loop time the scheduled flush runs at
        self._not_before = 0.0  # loop time before which the next flush waits
        self._loop: asyncio.AbstractEventLoop | None = None

    def due(self, w: Writer) -> None:
        """`w` has frames to write at the next flush."""
        w._state = _DUE
        self._due.append(w)
        if self._handle is None or self._at > self._not_before:
            self._schedule(self._not_before)

    def windowed(self, w: Writer) -> None:
        """`w` batches: its events wait for the window to end (or for `due`, once its batch is full)."""
        w._state = _WINDOWED
        loop = self._loop
        if loop is None:
            loop = self._loop = asyncio.get_running_loop()
        w._window_ends = ends = loop.time() + self.window
        self._windowed.append(w)
        if self._handle is None:
            self._schedule(max(ends, self._not_before))

    def _schedule(self, at: float) -> None:
        loop = self._loop
        if loop is None:
            loop = self._loop = asyncio.get_running_loop()
        if self._handle is not None:
            self._handle.cancel()
        now = loop.time()
        if at <= now:
            # `_at` is the time asked for, not now: a socket due later in the same turn finds the flush
            # already as early as it may be, and does not cancel and reschedule it once per socket.
            self._handle, self._at = loop.call_soon(self.flush), at
        else:
            self._handle, self._at = loop.call_at(at, self.flush), at

    def flush(self) -> None:
        """Write every socket that has frames due (and every batching one whose window ended)."""
        self._handle = None
        loop = self._loop
        assert loop is not None
        started = time.perf_counter()
        due, self._due = self._due, []
        windowed, t = self._windowed, loop.time()
        while windowed and windowed[0]._window_ends <= t:
            w = windowed.popleft()
            if w._state == _WINDOWED and w._window_ends <= t:  # not re-windowed since
                due.append(w)
        built: _Built = {}
        now = time.monotonic()
        for w in due:
            if w._state != _CLEAN:  # listed twice, or written meanwhile (a full queue, a close)
                w._write(built, now)
        took = time.perf_counter() - started
        self._not_before = loop.time() + min(MAX_HOLD, HOLD_FACTOR * took)
        if self._due:
            self._schedule(self._not_before)
        elif windowed:
            self._schedule(max(windowed[0]._window_ends, self._not_before))


class Writer:
    """One socket's frames on their way out (the hub's `Outlet`); flow control via `FlowControl`."""

    __slots__ = (
        "_capacity",
        "_flusher",
        "_paused",
        "_queue",
        "_room",
        "_state",
        "_transport",
        "_window_ends",
        "batch",
        "closed",
        "last_sent",
    )

    def __init__(self, transport: Transport, flusher: Flusher, capacity: int) -> None:
        self._transport = transport
        self._flusher = flusher
        self._capacity = capacity
        # A list, not a deque: an empty deque costs ~600 bytes per idle socket; the queue is short.
        self._queue: list[Frame] = []
        self._state = _CLEAN
        self._window_ends = 0.0
        self._paused = False
        self._room: asyncio.Future[None] | None = None
        self.batch = False  # the client opted in to `batch` frames
        self.closed = False
        self.last_sent = time.monotonic()

    @property
    def queued(self) -> int:
        """Frames handed over and not written yet (at most the capacity)."""
        return len(self._queue)

    @property
    def paused(self) -> bool:
        return self._paused

    # -- the hub's side (`Outlet`) --------------------------------------------------------------------

    def offer(self, frame: Frame) -> bool:
        """Take a frame without waiting; False (nothing taken) when the queue is full while paused."""
        if self.closed:
            return True  # after the close: dropped, as a write to a closed socket would be
        q = self._queue
        if len(q) >= self._capacity:
            if self._paused:
                return False
            self._write(None, time.monotonic())  # a full queue goes out at once, not at the flush
            q = self._queue
        q.append(frame)
        state = self._state
        if state == _CLEAN:
            if not self._paused:
                if self.batch and frame.seq is not None:
                    self._flusher.windowed(self)
                else:
                    self._flusher.due(self)
        elif state == _WINDOWED and len(q) >= self._flusher.batch_max:
            self._flusher.due(self)  # a full batch does not wait for the window
        return True

    async def room(self, timeout: float) -> bool:
        """Wait until `offer` would take a frame; False when it did not within `timeout`, or closed."""
        while self._paused and len(self._queue) >= self._capacity and not self.closed:
            room = self._room = asyncio.get_running_loop().create_future()
            try:
                async with asyncio.timeout(timeout):
                    await room
            except TimeoutError:
                return False
        return not self.closed

    def close(self, code: int, reason: str = "") -> None:
        """No more frames: what was handed over goes out first unless the socket is paused (a slow client's
        backlog is dropped), then the close frame. `PEER_GONE`: nothing is sent, the peer is gone."""
        if self.closed:
            return
        if code != PEER_GONE and not self._paused:
            self._write(None, time.monotonic())
        self.closed = True
        self._queue = []
        self._state = _CLEAN
        self._wake_room()
        if code != PEER_GONE:
            self._transport.close(code, reason)

    # -- the socket's side (`FlowControl`) ------------------------------------------------------------

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        if self._queue and self._state == _CLEAN and not self.closed:
            self._flusher.due(self)

    # -- the one exit ---------------------------------------------------------------------------------

    def _write(self, built: _Built | None, now: float) -> None:
        """Write everything queued in one `Transport.write` (unless paused): batch-wrapped for a batching
        socket, the wrapped frames shared through `built` within a flush. Counted here, once."""
        self._state = _CLEAN
        q = self._queue
        if not q or self._paused or self.closed:
            return
        self._queue = []
        flusher = self._flusher
        out = q
        if self.batch:
            key = tuple(q)
            wrapped = built.get(key) if built is not None else None
            if wrapped is None:
                wrapped = batch_frames(q, flusher.batch_max, flusher.batch_bytes)
                if built is not None:
                    built[key] = wrapped
            out = wrapped
        metrics = flusher.metrics
        metrics.frames_out.value += len(out)
        metrics.socket_writes.value += 1
        wall = 0.0
        for frame in q:  # each live event's lag once, when its first copy is written
            if not frame.observed and frame.timestamp is not None:
                frame.observed = True
                wall = wall or time.time()
                metrics.lag.observe(max(0.0, wall - frame.timestamp))
        data = out[0].wire if len(out) == 1 else b"".join([f.wire for f in out])
        metrics.bytes_out.value += len(data)
        self.last_sent = now
        self._transport.write(data)
        self._wake_room()

    def _wake_room(self) -> None:
        room = self._room
        if room is not None and not room.done():
            room.set_result(None)
