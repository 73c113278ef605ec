"""One socket's state in the hub: filters, bounded send queue, resume hold and what it was already sent."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable

from sprintboard_notifier.hub.delivery import Delivery, SubscriptionKey
from sprintboard_notifier.prepared import Frame, batch_frames

# Each subscribe/unsubscribe/resume adds a segment; a bound keeps an abusive client from growing it.
MAX_SEGMENTS = 64
Segment = tuple[int, int, frozenset[SubscriptionKey] | None]

# What `deliver`/`offer` did with a frame: FULL is falsy, so `if not s.offer(f)` still means "full".
FULL, QUEUED, WRITTEN = 0, 1, 2


class Session:
    """Owned by the hub; the writer drains it with `take`, the hub fills it with `deliver`/`put`."""

    __slots__ = (
        "_busy",
        "_capacity",
        "_ceiling",
        "_closed_waiter",
        "_held",
        "_hold_capacity",
        "_live_lo",
        "_queue",
        "_room",
        "_segments",
        "_wakeup",
        "batch",
        "batch_max",
        "close_code",
        "close_reason",
        "dirty",
        "keys",
        "last_sent",
        "on_batch",
        "on_wake",
        "pending",
        "session_id",
        "sink",
        "tenant_id",
    )

    def __init__(
        self, session_id: str, tenant_id: str, capacity: int, hold_capacity: int, cursor: int, pending: bool
    ) -> None:
        self.session_id = session_id
        self.tenant_id = tenant_id
        self.keys: set[SubscriptionKey] = set()
        self.batch = False
        self.close_code: int | None = None
        self.close_reason = ""
        self.last_sent = time.monotonic()
        # A list, not a deque: an empty deque costs ~600 bytes per idle socket; the queue is short.
        self._queue: list[Frame] = []
        self._capacity = capacity
        self._wakeup: asyncio.Future[None] | None = None
        self._room: asyncio.Future[None] | None = None
        self._closed_waiter: asyncio.Future[None] | None = None
        # The transport's "write this now if you can without waiting" (False: flow control says wait).
        # Used only while nothing is queued or in the writer's hands, so frames never overtake each other.
        self.sink: Callable[[Frame], bool] | None = None
        self._busy = False
        # Batching with a sink: events wait in the queue for the hub's shared flush (no task per socket).
        self.on_batch: Callable[[Session, bool, bool], None] | None = None
        self.on_wake: Callable[[], None] | None = None
        self.dirty = False
        self.batch_max = 256
        # A new socket holds its events until it states its filters (or a grace period ends), so a
        # resuming client does not first get tenant-wide live events ahead of its replay.
        self.pending = pending
        self._held: deque[tuple[Frame, Delivery]] | None = deque() if pending else None
        self._hold_capacity = hold_capacity
        # Coverage: (lo, hi] ranges of stream seqs in which every event matching the keys was already sent
        # (or the client said it has them); replays and live events consult it so nothing goes twice.
        self._segments: list[Segment] = []
        self._live_lo = cursor
        self._ceiling = 0

    @property
    def closed(self) -> bool:
        return self.close_code is not None

    @property
    def holding(self) -> bool:
        return self._held is not None

    @property
    def queued(self) -> int:
        return len(self._queue)

    def key_set(self) -> frozenset[SubscriptionKey] | None:
        return frozenset(self.keys) if self.keys else None

    # -- filters and coverage -------------------------------------------------------------------------

    def rekey(
        self, cursor: int, add: SubscriptionKey | None = None, drop: SubscriptionKey | None = None
    ) -> None:
        """Filters change at `cursor`: what the old filters let through up to it counts as sent."""
        if cursor > self._live_lo and not self.pending:  # held while pending: nothing went out
            self.remember(self._live_lo, cursor, self.key_set())
        self._live_lo = cursor
        if add is not None:
            self.keys.add(add)
        if drop is not None:
            self.keys.discard(drop)

    def claim(self, upto: int, keys: frozenset[SubscriptionKey] | None) -> None:
        """The client says it has every matching event up to `upto` (its resume point)."""
        self.remember(-1, upto, keys)
        self._ceiling = max(self._ceiling, upto)

    def remember(self, lo: int, hi: int, keys: frozenset[SubscriptionKey] | None) -> None:
        if hi <= lo:
            return
        self._segments.append((lo, hi, keys))
        if len(self._segments) > MAX_SEGMENTS:
            del self._segments[0]

    def already_sent(self, d: Delivery) -> bool:
        return any(lo < d.seq <= hi and d.matches(keys) for lo, hi, keys in self._segments)

    # -- live delivery (never blocks) -----------------------------------------------------------------

    def deliver(self, frame: Frame, d: Delivery, now: float) -> int:
        """Write or queue a live event: WRITTEN, QUEUED (also held or skipped) or FULL (buffer or hold)."""
        if self.close_code is not None:
            return QUEUED
        if self._held is not None:
            if len(self._held) >= self._hold_capacity:
                return FULL
            self._held.append((frame, d))
            return QUEUED
        if d.seq <= self._ceiling and self.already_sent(d):
            return QUEUED
        return self._push(frame, now)

    def offer(self, frame: Frame) -> int:
        """Write or queue any frame without waiting; FULL (falsy) when the buffer is full."""
        if self.close_code is not None:
            return QUEUED
        return self._push(frame, time.monotonic())

    def _push(self, frame: Frame, now: float) -> int:
        q = self._queue
        sink = self.sink
        # A batching socket's events always wait for the batch flush (or the writer) to wrap them.
        if (
            not q
            and sink is not None
            and not self._busy
            and (frame.seq is None or not self.batch)
            and sink(frame)
        ):
            self.last_sent = now
            return WRITTEN
        if len(q) >= self._capacity:
            return FULL
        q.append(frame)
        on_batch = self.on_batch
        if on_batch is not None and sink is not None and self.batch and frame.seq is not None:
            full, new = len(q) >= self.batch_max, not self.dirty
            if full or new:
                self.dirty = True
                on_batch(self, new, full)
            return QUEUED
        self._wake()
        return QUEUED

    def _wake(self) -> None:
        waiter = self._wakeup
        if waiter is not None:
            if not waiter.done():
                waiter.set_result(None)
        elif self.on_wake is not None:
            self.on_wake()  # the first frame that has to wait: the owner starts its writer

    def flush_batches(self, limit: int, now: float, memo: dict[tuple[Frame, ...], list[Frame]]) -> int:
        """The hub's flush: queued events go out as batch frames, written at once; returns frames written.
        Whatever flow control holds back stays queued (already built) for the writer task."""
        self.dirty = False
        q, sink = self._queue, self.sink
        if self.close_code is not None or not q:
            return 0
        if sink is None or self._busy or q[0].batched:
            self._wake()
            return 0
        key = tuple(q)
        out = memo.get(key)
        if out is None:  # sockets with the same queued events (one sprint) share the built frames
            out = memo[key] = batch_frames(list(key), self.batch_max, limit)
        q.clear()
        self._made_room()
        for i, frame in enumerate(out):
            if not sink(frame):
                q[:0] = out[i:]
                self._wake()
                return i
        self.last_sent = now
        return len(out)

    # -- resume (may wait for the writer) -------------------------------------------------------------

    async def put(self, frame: Frame, stall_seconds: float) -> int:
        """Queue a replayed frame, waiting for room; FULL when the client stalls that long."""
        while len(self._queue) >= self._capacity and self.close_code is None:
            self._room = asyncio.get_running_loop().create_future()
            try:
                await asyncio.wait_for(self._room, stall_seconds)
            except TimeoutError:
                return FULL
        return FULL if self.close_code is not None else self.offer(frame)

    def start_hold(self) -> None:
        if self._held is None:
            self._held = deque()

    def pop_held(self) -> tuple[Frame, Delivery] | None:
        """The next held live event; when none is left the hold ends in the same step (no await between)."""
        if self._held:
            return self._held.popleft()
        self._held = None
        return None

    # -- the writer's side ----------------------------------------------------------------------------

    async def take(self, limit: int) -> list[Frame]:
        """Wait for frames; an empty list means the session is closed."""
        while not self._queue and self.close_code is None:
            self._wakeup = asyncio.get_running_loop().create_future()
            await self._wakeup
        return self.take_nowait(limit)

    def take_nowait(self, limit: int) -> list[Frame]:
        q = self._queue
        if self.close_code is not None or not q:
            return []
        frames = q[:limit]
        del q[:limit]
        self._busy = True  # until `sent()`: the writer holds frames that later ones must not overtake
        self._made_room()
        return frames

    def _made_room(self) -> None:
        room = self._room
        if room is not None and not room.done():
            room.set_result(None)

    def sent(self) -> None:
        """The writer wrote everything it took."""
        self._busy = False

    def close(self, code: int, reason: str = "") -> bool:
        """Mark closed (first code wins), drop what is queued and wake whoever waits."""
        if self.close_code is not None:
            return False
        self.close_code = code
        self.close_reason = reason
        self._queue.clear()
        self._held = None
        self.sink = None
        for fut in (self._wakeup, self._room, self._closed_waiter):
            if fut is not None and not fut.done():
                fut.set_result(None)
        return True

    def closed_future(self) -> asyncio.Future[None]:
        """Done once the session is closed (a future to wait on, no task needed)."""
        fut = self._closed_waiter
        if fut is None:
            fut = self._closed_waiter = asyncio.get_running_loop().create_future()
            if self.close_code is not None:
                fut.set_result(None)
        return fut
