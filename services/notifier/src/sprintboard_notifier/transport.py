"""The one interface between the protocol and a WebSocket implementation, and its Starlette/ASGI adapter."""

from __future__ import annotations

import contextlib
from typing import Protocol

from starlette.websockets import WebSocket, WebSocketDisconnect

from sprintboard_notifier.hub import Frame


class ConnectionClosed(Exception):
    """The peer is gone; the writer stops."""


class Connection(Protocol):
    """An accepted WebSocket: these three calls (`lean.LeanConnection`, `StarletteConnection`).

    Optionally `write_now(frame) -> bool`: write at once unless flow control says wait (then False and
    nothing written); with it, live frames skip the writer task whenever nothing is queued before them.
    """

    async def receive(self) -> str | bytes | None:
        """The next client message; None once the peer has closed or the server refused a frame."""
        ...

    async def send(self, frame: Frame) -> None:
        """Write one text frame (waiting on the socket's flow control); raise ConnectionClosed if gone."""
        ...

    async def close(self, code: int, reason: str = "") -> None:
        """Start the closing handshake; never raises."""
        ...


class StarletteConnection:
    """Over ASGI: uvicorn enforces the frame size limit and flow control; the text is encoded per socket."""

    __slots__ = ("_ws",)

    def __init__(self, ws: WebSocket) -> None:
        self._ws = ws

    async def receive(self) -> str | bytes | None:
        try:
            message = await self._ws.receive()
        except (RuntimeError, OSError, WebSocketDisconnect):
            return None
        if message["type"] == "websocket.disconnect":
            return None
        text = message.get("text")
        if text is not None:
            return str(text)
        data = message.get("bytes")
        return bytes(data) if data is not None else None

    async def send(self, frame: Frame) -> None:
        try:
            await self._ws.send({"type": "websocket.send", "text": frame.text})
        except (RuntimeError, OSError, WebSocketDisconnect) as exc:
            raise ConnectionClosed from exc

    async def close(self, code: int, reason: str = "") -> None:
        with contextlib.suppress(RuntimeError, OSError, WebSocketDisconnect):
            await self._ws.close(code, reason)
