"""The notifier's WebSocket path inside uvicorn: no ASGI for `/api/v1/ws/tasks`, frames written as built.

`LeanWebSocketProtocol` is uvicorn's sans-I/O websockets protocol (`ws=` of the server config: same port,
same handshake, pings, close handshake, 64 KiB limit → 1009 and log lines). For the task socket it skips
the ASGI app and runs `Gateway.serve` over `LeanConnection` directly: client messages land in a small
inbox instead of an `asyncio.Queue` and ASGI dicts, and every server frame is its `Frame.wire` bytes
(header and payload, built once per event) written straight to the transport, at once when the
transport is not paused. Any other upgrade goes to the ASGI app as before.
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

from sprintboard_notifier.gateway import Gateway
from sprintboard_notifier.hub import Frame
from sprintboard_notifier.settings import NotifierSettings
from sprintboard_notifier.transport import ConnectionClosed

WS_PATH = "/api/v1/ws/tasks"
log = logging.getLogger(__name__)


class _Inbox:
    """Stands in for uvicorn's ASGI queue and `writable` event: the base class reports through both."""

    __slots__ = ("_items", "_proto", "_waiter", "gone")

    def __init__(self, proto: LeanWebSocketProtocol) -> None:
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


class LeanWebSocketProtocol(WebSocketsSansIOProtocol):
    """`ws=` of the notifier's uvicorn config."""

    def __init__(self, config: Config, server_state: ServerState, app_state: dict[str, Any]) -> None:
        super().__init__(config, server_state, app_state)
        self.paused = False
        self._drain: asyncio.Future[None] | None = None

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
        gateway = self.app_state.get("gateway")
        settings = self.app_state.get("settings")
        if unquote(raw_path) != WS_PATH or not isinstance(gateway, Gateway):
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
        task = self.loop.create_task(self._serve(gateway, LeanConnection(self, inbox), token))
        task.add_done_callback(self.on_task_complete)
        self.tasks.add(task)

    async def _serve(self, gateway: Gateway, conn: LeanConnection, token: str | None) -> None:
        try:
            await gateway.serve(conn, token)
        except Exception:
            log.exception("socket handler failed")
            await conn.close(1011, "internal error")
        if self.close_timer is None:
            self.transport.close()

    def write_now(self, frame: Frame) -> bool:
        """Write without waiting; False while the transport is paused (its buffer is over the high mark)."""
        if self.paused:
            return False
        transport = self.transport
        if not (self.close_sent or self.disconnected or transport.is_closing()):
            try:
                transport.write(frame.wire)
            except (RuntimeError, OSError):  # never let one socket break the fan-out loop
                log.debug("write to a closing socket dropped")
        return True  # after the close: dropped, as a write to a closed socket would be

    async def send_frame(self, frame: Frame) -> None:
        while self.paused and not self.disconnected:
            self._drain = self.loop.create_future()
            await self._drain
        if self.close_sent or self.disconnected or self.transport.is_closing():
            raise ConnectionClosed
        try:
            self.transport.write(frame.wire)
        except (RuntimeError, OSError) as exc:
            raise ConnectionClosed from exc

    def start_close(self, code: int, reason: str) -> None:
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


class LeanConnection:
    """The `Connection` of a task socket served by `LeanWebSocketProtocol`."""

    __slots__ = ("_inbox", "_proto", "write_now")

    def __init__(self, proto: LeanWebSocketProtocol, inbox: _Inbox) -> None:
        self._proto = proto
        self._inbox = inbox
        self.write_now = proto.write_now

    async def receive(self) -> str | bytes | None:
        return await self._inbox.get()

    async def send(self, frame: Frame) -> None:
        await self._proto.send_frame(frame)

    async def close(self, code: int, reason: str = "") -> None:
        self._proto.start_close(code, reason)
