"""Where a socket's bytes go, and how the socket says "wait": the only two interfaces between the
notifier's writer and a WebSocket server (`ws_server.TaskSocketConnection`, or a test's fake)."""

from __future__ import annotations

from typing import Protocol


class Transport(Protocol):
    """Write-only: whole WebSocket frames, in order. Never waits and never raises; once the socket is
    closing, writes are dropped (as a write to a closed socket would be)."""

    def write(self, data: bytes) -> None:
        """Hand the bytes of one or more whole frames to the socket."""
        ...

    def close(self, code: int, reason: str = "") -> None:
        """Send the close frame after everything written so far, then finish the closing handshake
        (bounded). Only the first call counts."""
        ...


class FlowControl(Protocol):
    """What the socket calls when its buffer crosses the high mark and drains below the low one
    (asyncio's `pause_writing`/`resume_writing`); implemented by `writer.Writer`."""

    def pause_writing(self) -> None: ...

    def resume_writing(self) -> None: ...
