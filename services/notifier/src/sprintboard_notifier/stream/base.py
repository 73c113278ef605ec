"""What both live paths of the notifier share (`StreamFollower`, `LiveFollower`): the connection's start
and the tasks it spawns, the callbacks into the hub, where a tenant's warm-up may start, and the count of
local sockets that keeps a followed tenant."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any, Protocol, TypedDict, Unpack

from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import StreamInfo
from nats.js.errors import NotFoundError

from sprintboard_contracts.events import InvalidEvent
from sprintboard_contracts.subjects import ALL_V1
from sprintboard_contracts.wire import AnyWireEvent, decode_event
from sprintboard_kit.stream import StreamSettings, stream_epoch
from sprintboard_notifier.metrics import NotifierMetrics
from sprintboard_notifier.stream.subscriber import STREAM

log = logging.getLogger(__name__)

EventCallback = Callable[[int, str, bytes, AnyWireEvent], None]


class Followed(Protocol):
    """A followed tenant (a feed or a subscription), as the shared parts see it."""

    @property
    def tenant_id(self) -> str | None: ...

    @property
    def ready(self) -> asyncio.Future[None] | None: ...

    users: int
    idle_since: float | None
    dropped: bool
    announced: bool


class Shared(TypedDict, total=False):
    """What both followers take besides the URL, the event callback and the metrics (`FollowerBase`)."""

    on_skip: Callable[[int], None] | None
    on_ready: Callable[[str, int], None] | None
    on_follow: Callable[[str, int], None] | None
    on_drop: Callable[[str], None] | None
    stream_settings: StreamSettings | None
    name: str  # the NATS connection's
    linger_seconds: float  # how long a tenant stays followed after its last local socket left
    warm_events: int  # how far back from the stream's end a new tenant's warm-up reads


class FollowerBase:
    """The connection and the hub's callbacks: `on_event` for each event in stream order, `on_ready` when
    the stream (its epoch) is known, `on_follow` where a tenant comes live from, `on_drop` when it is no
    longer followed, `on_skip` for a stream message that is no event."""

    def __init__(
        self,
        nats_url: str | list[str],
        on_event: EventCallback,
        metrics: NotifierMetrics,
        **shared: Unpack[Shared],
    ) -> None:
        self._url = nats_url
        self._on_event = on_event
        self._on_skip = shared.get("on_skip")
        self._on_ready = shared.get("on_ready")
        self._on_follow = shared.get("on_follow")
        self._on_drop = shared.get("on_drop")
        self._metrics = metrics
        self._stream_settings = shared.get("stream_settings") or StreamSettings()
        self._name = shared.get("name", "sprintboard-notifier")
        self._linger = shared.get("linger_seconds", 30.0)
        self._warm = shared.get("warm_events", 10_000)
        self._nc: Client | None = None
        self._js: JetStreamContext | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._v1_epoch, self._v1_last = "", 0  # `_last_v1_seq`, known for that stream epoch
        self.epoch = ""

    async def start(self) -> None:
        raise NotImplementedError

    def unfollow(self, tenant_id: str) -> None:
        raise NotImplementedError

    async def stop(self) -> None:
        raise NotImplementedError

    async def _start_retrying(self) -> None:
        delay = 0.2
        while True:
            try:
                await self.start()
                return
            except Exception as exc:
                log.warning("NATS follower not started (%s); retrying in %.1fs", exc, delay)
                with contextlib.suppress(Exception):
                    await self.stop()
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    def jetstream(self) -> JetStreamContext:
        """The running connection's JetStream context (the history reader shares it)."""
        if self._js is None:
            raise RuntimeError("the follower is not started")
        return self._js

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _cancel_tasks(self) -> None:
        for task in list(self._tasks):
            task.cancel()

    def _announce(self, info: StreamInfo) -> None:
        self.epoch = stream_epoch(info)
        if self._on_ready is not None:
            self._on_ready(self.epoch, info.state.last_seq)

    def _announce_follow(self, followed: Followed, cursor: int) -> None:
        """Tell the hub that the tenant comes live from after `cursor` on."""
        followed.announced = True
        if followed.tenant_id is not None and self._on_follow is not None:
            self._on_follow(followed.tenant_id, cursor)

    def _warm_start(self, first_seq: int, last_seq: int, v1_last: int) -> int:
        """The first stream seq a new tenant's warm-up reads: `warm_events` back from the end, within what
        the stream keeps, and never at or below its last v1 message (stored before the upgrade): v1 subjects
        carry no tenant, so a tenant's warm-up cannot see them, and the memory must not claim them."""
        return max(first_seq, last_seq - self._warm + 1, v1_last + 1, 1)

    async def _last_v1_seq(self, js: JetStreamContext) -> int:
        """The seq of the stream's last message on a v1 subject (0: none), once per stream: after the
        upgrade to v2 nothing is stored on v1 subjects any more."""
        if self._v1_epoch != self.epoch:
            try:
                self._v1_last = (await js.get_last_msg(STREAM, ALL_V1)).seq or 0
            except NotFoundError:
                self._v1_last = 0
            self._v1_epoch = self.epoch
        return self._v1_last

    def _decode(self, seq: int, subject: str, data: bytes) -> AnyWireEvent | None:
        """The event of a stream message, counted; None for one that breaks the contract (counted, logged,
        and the hub's cursor moved past it)."""
        try:
            event = decode_event(data)
        except InvalidEvent as exc:
            self._metrics.invalid_events.inc()
            log.warning("invalid event at seq %d on %s skipped: %s", seq, subject, str(exc)[:300])
            if self._on_skip is not None:
                self._on_skip(seq)
            return None
        self._metrics.events_in.inc()
        return event

    def _hand_on(self, seq: int, subject: str, data: bytes, event: AnyWireEvent) -> None:
        try:
            self._on_event(seq, subject, data, event)
        except Exception:
            # A bug downstream must not stop the stream for every other socket.
            log.exception("event %d could not be fanned out", seq)

    async def _until_ready(
        self, tenant_id: str, followed: Followed, timeout: float, now: Callable[[str], object]
    ) -> None:
        """Wait until the tenant is followed (`followed.ready`); when that fails or takes longer than
        `timeout`, this socket is counted off again, unless the tenant's `now` is another or none (a failed
        one is gone already)."""
        ready = followed.ready
        assert ready is not None
        try:
            async with asyncio.timeout(timeout):
                await asyncio.shield(ready)
        except BaseException:
            if now(tenant_id) is followed:
                self.unfollow(tenant_id)
            raise

    def _left(self, followed: Followed, drop_idle: Callable[[Any], None]) -> None:
        """A local socket of the tenant is gone; after the last one it lingers, then `drop_idle` looks."""
        followed.users -= 1
        if followed.users <= 0:
            followed.users = 0
            followed.idle_since = time.monotonic()
            asyncio.get_running_loop().call_later(self._linger, drop_idle, followed)

    def _idle(self, followed: Followed) -> bool:
        """Whether the tenant is due to be dropped: no socket, and idle for the linger (one needed again in
        between is idle since later, and its own timer looks)."""
        idle_since = followed.idle_since
        idle = idle_since is not None and time.monotonic() - idle_since >= self._linger * 0.999
        return followed.users == 0 and idle and not followed.dropped


def consume_exception(future: asyncio.Future[None]) -> None:
    # Its waiters may all be gone (their sockets closed): the failure was theirs to log.
    if not future.cancelled():
        future.exception()
