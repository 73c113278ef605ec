"""The notifier's WebSocket path inside uvicorn: no ASGI for `/api/v1/ws/tasks`, frames written as built.

`TaskSocketProtocol` is uvicorn's sans-I/O websockets protocol (`ws=` of the server config: same port,
same handshake, pings, close handshake, 64 KiB limit → 1009 and log lines). For the task socket it skips
the ASGI app and runs `Clients.serve` over `TaskSocketConnection` directly: client messages land in a small
inbox instead of an `asyncio.Queue` and ASGI dicts, and every server frame is its `Frame.wire` bytes
(header and payload, built once per event) handed straight to the transport when it is not paused.
Any other upgrade goes to the ASGI app as before.

Frames handed over are corked: one scheduled flush writes each socket's pending frames in one
`transport.write` (one kernel write). Each event is still its own WebSocket frame; only the syscalls are
shared. Idle, the flush runs right after the turn that handed the frame over (`call_soon`); when events
come back to back, the next flush waits as long as the last one took (at most `MAX_HOLD`), so the writes
per socket shrink as the load grows instead of staying at one per event — the limit bench/ measured
(one kernel write per frame per socket).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any
from urllib.parse import parse_qsl, unquote

from uvicorn.config import Config
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from uvicorn.server import ServerState
from websockets.http11 import Request

from sprintboard_notifier.client import Clients
from sprintboard_notifier.closecodes import INTERNAL_ERROR
from sprintboard_notifier.metrics import Tally
from sprintboard_notifier.prepared import Frame
from sprintboard_notifier.settings import NotifierSettings
from sprintboard_notifier.transport import ConnectionClosed

WS_PATH = "/api/v1/ws/tasks"
log = logging.getLogger(__name__)


# After a flush that took t seconds, the next one waits until HOLD_FACTOR x t have passed (at most
# MAX_HOLD): idle, a flush follows its turn at once; fanning out back to back (the notifier behind the
# stream), the events of the next few milliseconds share each socket's write, so the writes per socket
# shrink as the load grows instead of the writes eating the loop.
HOLD_FACTOR = 1.0
MAX_HOLD = 0.010


class _Corks:
    """The sockets with corked frames; one scheduled flush writes them all."""

    __slots__ = ("_dirty", "_loop", "_not_before")

    def __init__(self) -> None:
        self._dirty: list[TaskSocketProtocol] = []
        self._loop: asyncio.AbstractEventLoop | None = None  # the loop a flush is scheduled on
        self._not_before = 0.0  # loop time before which the next flush waits

    def add(self, proto: TaskSocketProtocol) -> None:
        self._dirty.append(proto)
        loop = proto.loop
        if self._loop is not loop:
            self._loop = loop
            wait = self._not_before - loop.time()
            if wait > 0:
                loop.call_later(wait, self.flush)
            else:
                loop.call_soon(self.flush)

    def flush(self) -> None:
        loop, self._loop = self._loop, None
        started = time.perf_counter()
        dirty, self._dirty = self._dirty, []
        counter: Tally | None = None
        writes = 0
        for proto in dirty:
            if proto.flush_cork():
                if proto.writes is not counter:  # one app per process, but tests run several
                    if counter is not None:
                        counter.inc(writes)
                    counter, writes = proto.writes, 0
                writes += 1
        if counter is not None:
            counter.inc(writes)
        if loop is not None:
            self._not_before = loop.time() + min(MAX_HOLD, HOLD_FACTOR * (time.perf_counter() - started))


_CORKS = _Corks()


class _Inbox:
    """Stands in for uvicorn's ASGI queue and `writable` event: the base class reports through both."""

    __slots__ = ("_items", "_proto", "_waiter", "gone")

    def __init__(self, proto: TaskSocketProtocol) -> None:
        self._proto = proto
        self._items: list[str | bytes | None] = []
        self._waiter: asyncio.Future[None] | None = None
        self.gone = False

    def put_nowait(self, message: dict[str, Any]) -> None:
        if message["type"] == "websocket.receive":
            self._items.append(message["text"] if "text" in message else message["bytes"])
        else:  # websocket.disconnect
            self._items.append(None)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def set(self) -> None:  # `writable.set()`: the connection is lost or writable again
        self._proto.wake_writer()

    def clear(self) -> None:
        pass

    async def get(self) -> str | bytes | None:
        while not self._items:
            if self.gone:
                return None
            self._waiter = asyncio.get_running_loop().create_future()
            await self._waiter
        item = self._items.pop(0)
        if item is None:
            self.gone = True
        proto = self._proto
        if proto.read_paused and not self._items:
            proto.read_paused = False
            proto.transport.resume_reading()
        return item


class TaskSocketProtocol(WebSocketsSansIOProtocol):
    """`ws=` of the notifier's uvicorn config."""

    def __init__(self, config: Config, server_state: ServerState, app_state: dict[str, Any]) -> None:
        super().__init__(config, server_state, app_state)
        self.paused = False
        self._drain: asyncio.Future[None] | None = None
        self._cork: list[bytes] | None = None  # frames handed over this turn, written when it ends
        self.writes: Tally | None = None

    def pause_writing(self) -> None:
        self.paused = True
        self.writable.clear()

    def resume_writing(self) -> None:
        self.paused = False
        self.writable.set()

    def wake_writer(self) -> None:
        drain = self._drain
        if drain is not None and not drain.done():
            drain.set_result(None)

    def handle_connect(self, event: Request) -> None:
        raw_path, _, query = event.path.partition("?")
        clients = self.app_state.get("clients")
        settings = self.app_state.get("settings")
        if unquote(raw_path) != WS_PATH or not isinstance(clients, Clients):
            super().handle_connect(event)  # anything else: the ASGI app
            return
        assert isinstance(settings, NotifierSettings)
        self.writes = clients.metrics.socket_writes
        inbox = _Inbox(self)
        # The base class reports disconnects and client messages here; its ASGI queue and event go.
        self.queue = inbox  # type: ignore[assignment]
        self.writable = inbox  # type: ignore[assignment]
        self.handshake_initiated = True
        response = self.conn.accept(event)
        client = f"{self.client[0]}:{self.client[1]}" if self.client else ""
        origins = event.headers.get_all("Origin")
        if response.status_code == 101 and not settings.origin_allowed(origins[0] if origins else None):
            response = self.conn.reject(403, "")
        self.logger.info(
            '%s - "WebSocket %s" %s',
            client,
            event.path,
            "[accepted]" if response.status_code == 101 else response.status_code,
        )
        self.conn.send_response(response)
        self.transport.write(b"".join(self.conn.data_to_send()))
        self.handshake_complete = True
        if response.status_code != 101:
            self.close_sent = True
            self.transport.close()
            return
        self.start_keepalive()
        # The handshake parser keeps the request for the socket's life; its headers are not needed now.
        event.headers.clear()
        token = None
        for name, value in parse_qsl(query):
            if name == "token":
                token = value  # the last one, as Starlette's query params
        task = self.loop.create_task(self._serve(clients, TaskSocketConnection(self, inbox), token))
        task.add_done_callback(self.on_task_complete)
        self.tasks.add(task)

    async def _serve(self, clients: Clients, conn: TaskSocketConnection, token: str | None) -> None:
        try:
            await clients.serve(conn, token)
        except Exception:
            log.exception("socket handler failed")
            await conn.close(INTERNAL_ERROR, "internal error")
        if self.close_timer is None:
            self.transport.close()

    def write_now(self, frame: Frame) -> bool:
        """Take a frame without waiting (corked until the turn ends); False while the transport is
        paused (its buffer is over the high mark)."""
        if self.paused:
            return False
        if self.close_sent or self.disconnected or self.transport.is_closing():
            return True  # after the close: dropped, as a write to a closed socket would be
        cork = self._cork
        if cork is None:
            cork = self._cork = []
            if not frame.batched:
                _CORKS.add(self)
        cork.append(frame.wire)
        # The batch flusher already gathered a window's events into a batch frame: written now, after
        # whatever is corked, not held for another window.
        if frame.batched and self.flush_cork() and self.writes is not None:
            self.writes.inc()
        return True

    def flush_cork(self) -> bool:
        """Write this turn's frames in one go (also before any write that must follow them); whether a
        write was made."""
        cork, self._cork = self._cork, None
        if not cork or self.close_sent or self.disconnected or self.transport.is_closing():
            return False
        try:
            self.transport.write(cork[0] if len(cork) == 1 else b"".join(cork))
        except (RuntimeError, OSError):  # never let one socket break the fan-out loop
            log.debug("write to a closing socket dropped")
        return True

    async def send_frame(self, frame: Frame) -> None:
        if self.flush_cork() and self.writes is not None:
            self.writes.inc()
        while self.paused and not self.disconnected:
            self._drain = self.loop.create_future()
            await self._drain
        if self.close_sent or self.disconnected or self.transport.is_closing():
            raise ConnectionClosed
        try:
            self.transport.write(frame.wire)
        except (RuntimeError, OSError) as exc:
            raise ConnectionClosed from exc
        if self.writes is not None:
            self.writes.inc()

    def start_close(self, code: int, reason: str) -> None:
        """As uvicorn's `websocket.close`: send the close frame, wait (bounded) for the peer's."""
        self.flush_cork()  # the data first, then the close frame
        if self.close_sent or self.disconnected or self.transport.is_closing():
            return
        self.conn.send_close(code, reason)
        self.transport.write(b"".join(self.conn.data_to_send()))
        self.close_sent = True
        if self.read_paused:
            self.read_paused = False
            self.transport.resume_reading()
        self.close_timer = self.loop.call_later(self.close_timeout, self.transport.close)


class TaskSocketConnection:
    """The `Connection` of a task socket served by `TaskSocketProtocol`."""

    __slots__ = ("_inbox", "_proto", "write_now")

    def __init__(self, proto: TaskSocketProtocol, inbox: _Inbox) -> None:
        self._proto = proto
        self._inbox = inbox
        self.write_now = proto.write_now

    async def receive(self) -> str | bytes | None:
        return await self._inbox.get()

    async def send(self, frame: Frame) -> None:
        await self._proto.send_frame(frame)

    async def close(self, code: int, reason: str = "") -> None:
        self._proto.start_close(code, reason)
