"""Every WebSocket close code the task socket uses, with what it tells the client (spec §4, RFC 6455 §7.4).

The board reacts to these (`live.js`): 4401 sends the user back to sign-in, everything else reconnects
with backoff and resumes.
"""

from __future__ import annotations

NORMAL = 1000
"""The server closed on purpose with nothing more to say (a close without a more specific code)."""

GOING_AWAY = 1001
"""The client left (a browser tab closing); never sent by the notifier."""

PEER_GONE = 1006
"""No close frame: the peer vanished. Never sent (RFC 6455 reserves it); the hub's reason for a socket
whose connection is lost."""

POLICY_VIOLATION = 1008
"""Too many bad frames inside the abuse window."""

TOO_BIG = 1009
"""A client frame over `max_frame_bytes` (64 KiB); also what uvicorn's `ws_max_size` sends."""

INTERNAL_ERROR = 1011
"""The socket's handler failed; reconnect and resume."""

SERVICE_RESTART = 1012
"""The server shuts down (uvicorn's shutdown); reconnect and resume on another instance."""

TRY_AGAIN_LATER = 1013
"""The instance's stream consumer is not running yet: reconnect with backoff."""

APPLICATION = 4000
"""The first code of the application range (4000 to 4999): the board's own `no heartbeat` close."""

SLOW_CLIENT = 4008
"""The socket's send buffer is full: the client did not read fast enough. Reconnect and resume."""

UNAUTHORIZED = 4401
"""No token, a refused token, or the token expired: sign in again; never retried with the same token."""
