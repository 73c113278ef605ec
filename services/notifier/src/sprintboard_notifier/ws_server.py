"""The notifier's WebSocket server inside uvicorn: `TaskSocketProtocol` serves `/api/v1/ws/tasks` without
ASGI, in production and in the development stack alike (`--ws=` of uvicorn's command line).

It is uvicorn's sans-I/O websockets protocol (same port, same handshake, pings, close handshake, 64 KiB
limit → 1009 and log lines). For the task socket it skips the ASGI app and runs `Clients.serve` over a
`TaskSocketConnection`: client messages land in a small inbox instead of an `asyncio.Queue` of ASGI dicts,
the socket's writer hands it whole prepared frames (`Transport.write`), and the transport's
`pause_writing`/`resume_writing` go to that writer (`FlowControl`). Any other upgrade goes to the ASGI app.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any
from urllib.parse import parse_qsl, unquote

from uvicorn.config import Config
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from uvicorn.server import ServerState
from websockets.http11 import Request

from sprintboard_notifier.client import Clients
from sprintboard_notifier.closecodes import INTERNAL_ERROR
from sprintboard_notifier.settings import NotifierSettings
from sprintboard_notifier.transport import FlowControl

WS_PATH = "/api/v1/ws/tasks"
log = logging.getLogger(__name__)


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

    def set(self) -> None:  # `writable.set()`, which the base class calls once the connection is lost
        pass

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
        self._flow: FlowControl | None = None  # the task socket's writer, once it has one
        self._paused = False

    # -- flow control: the task socket's writer is told; any other socket is uvicorn's -----------------

    def pause_writing(self) -> None:
        self._paused = True
        if self._flow is not None:
            self._flow.pause_writing()
        else:
            super().pause_writing()

    def resume_writing(self) -> None:
        self._paused = False
        if self._flow is not None:
            self._flow.resume_writing()
        else:
            super().resume_writing()

    def follow(self, flow: FlowControl) -> None:
        self._flow = flow
        if self._paused:
            flow.pause_writing()

    def handle_connect(self, event: Request) -> None:
        raw_path, _, query = event.path.partition("?")
        clients = self.app_state.get("clients")
        settings = self.app_state.get("settings")
        if unquote(raw_path) != WS_PATH or not isinstance(clients, Clients):
            super().handle_connect(event)  # anything else: the ASGI app
            return
        assert isinstance(settings, NotifierSettings)
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
            conn.close(INTERNAL_ERROR, "internal error")
        if self.close_timer is None:
            self.transport.close()

    # -- the task socket's `Transport` --------------------------------------------------------------------

    def write_frames(self, data: bytes) -> None:
        """Whole prepared frames, as they are; dropped once the socket is closing."""
        if self.close_sent or self.disconnected or self.transport.is_closing():
            return
        try:
            self.transport.write(data)
        except (RuntimeError, OSError):  # never let one socket break the fan-out loop
            log.debug("write to a closing socket dropped")

    def start_close(self, code: int, reason: str = "") -> None:
        """As uvicorn's `websocket.close`: send the close frame, wait (bounded) for the peer's."""
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
    """The `client.Connection` of a task socket served by `TaskSocketProtocol`."""

    __slots__ = ("_inbox", "close", "follow", "write")

    def __init__(self, proto: TaskSocketProtocol, inbox: _Inbox) -> None:
        self._inbox = inbox
        # Bound once: `write` runs once per socket per flush.
        self.write = proto.write_frames
        self.close = proto.start_close
        self.follow = proto.follow

    async def receive(self) -> str | bytes | None:
        return await self._inbox.get()
