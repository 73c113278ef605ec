"""The one interface between the protocol and a WebSocket server (`ws_server.TaskSocketConnection`)."""

from __future__ import annotations

from typing import Protocol

from sprintboard_notifier.prepared import Frame


class ConnectionClosed(Exception):
    """The peer is gone; the writer stops."""


class Connection(Protocol):
    """An accepted WebSocket: these three calls (`ws_server.TaskSocketConnection`).

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
