"""One socket's protocol over any `Connection` (`Client`), and the registry of an instance's sockets with
their shared heartbeat ticker and flusher (`Clients`): auth, subscribe/resume, options, refresh, expiry,
abuse limits. Frames leave through the socket's `writer.Writer`, the hub's outlet for it."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Iterator
from typing import Protocol

from sprintboard_kit.tokens import Identity, InvalidToken, TokenVerifier
from sprintboard_notifier import protocol
from sprintboard_notifier.closecodes import (
    PEER_GONE,
    POLICY_VIOLATION,
    TOO_BIG,
    TRY_AGAIN_LATER,
    UNAUTHORIZED,
)
from sprintboard_notifier.hub import Hub, Session
from sprintboard_notifier.metrics import NotifierMetrics
from sprintboard_notifier.prepared import HEARTBEAT, Frame
from sprintboard_notifier.presence import Presence, Viewer, Viewing
from sprintboard_notifier.protocol import Auth, Options, Ping, ProtocolError, Subscribe, Unsubscribe
from sprintboard_notifier.settings import NotifierSettings
from sprintboard_notifier.transport import FlowControl, Transport
from sprintboard_notifier.writer import Flusher, Writer

log = logging.getLogger(__name__)


class Connection(Transport, Protocol):
    """An accepted WebSocket as a `Client` sees it: the write-only `Transport`, the client's messages,
    and where the socket's flow control goes (`ws_server.TaskSocketConnection`, or a test's fake)."""

    async def receive(self) -> str | bytes | None:
        """The next client message; None once the peer is gone or the closing handshake is done."""
        ...

    def follow(self, flow: FlowControl) -> None:
        """From now on tell `flow` when writing should pause and resume."""
        ...


class Clients:
    """Shared by every socket of an instance: `serve` is one socket's whole life."""

    def __init__(
        self,
        hub: Hub,
        verifier: TokenVerifier,
        settings: NotifierSettings,
        metrics: NotifierMetrics,
        presence: Presence[Frame] | None = None,
    ) -> None:
        self.hub = hub
        self.settings = settings
        self.metrics = metrics
        self.presence = presence
        self._verifier = verifier
        self.flusher = Flusher(
            metrics, settings.batch_window_seconds, settings.batch_max_events, settings.max_frame_bytes
        )
        self._open: set[Client] = set()

    def __iter__(self) -> Iterator[Client]:
        return iter(list(self._open))

    def __len__(self) -> int:
        return len(self._open)

    async def serve(self, conn: Connection, query_token: str | None) -> None:
        if not self.hub.ready:
            conn.close(TRY_AGAIN_LATER, "not ready")
            return
        identity = await self._authenticate(conn, query_token)
        if identity is None:
            conn.close(UNAUTHORIZED, "unauthorized")
            return
        writer = Writer(conn, self.flusher, self.settings.send_queue_frames)
        conn.follow(writer)
        # Only a socket that authenticated by frame holds its events until it subscribes: that is how the
        # board (and any client that resumes) connects, and its `subscribe` follows `welcome` at once. A token
        # on the URL is the reference client, which never subscribes: its tenant's events go out at once.
        try:
            session = await self.hub.open(identity.tenant_id, writer, pending=not query_token)
        except Exception as exc:  # its tenant cannot be followed now (NATS away or slow): come back later
            log.warning("tenant not followed, socket refused: %s: %s", type(exc).__name__, exc)
            conn.close(TRY_AGAIN_LATER, "not ready")
            return
        client = Client(self, conn, session, writer, identity)
        self._open.add(client)
        self.metrics.sockets.inc()
        try:
            await client.run()
        finally:
            self._open.discard(client)
            self.hub.close(session, PEER_GONE)  # a no-op unless the peer left first
            self.metrics.sockets.dec()

    async def _authenticate(self, conn: Connection, query_token: str | None) -> Identity | None:
        token = query_token
        if not token:
            try:
                async with asyncio.timeout(self.settings.auth_timeout_seconds):
                    first = await conn.receive()
            except TimeoutError:
                return None
            if first is None:
                return None
            try:
                frame = protocol.parse_client_frame(first)
            except ProtocolError:
                return None
            if not isinstance(frame, Auth):
                return None
            token = frame.token
        return await self.verify(token)

    async def verify(self, token: str) -> Identity | None:
        try:
            return await self._verifier.averify(token)
        except InvalidToken as exc:
            log.info("token refused: %s", exc.reason)  # the reason code only, never the token
            return None

    async def heartbeats(self) -> None:
        """One ticker for all sockets (no timer per socket): idle ones get a heartbeat frame."""
        every = self.settings.heartbeat_seconds
        while True:
            await asyncio.sleep(max(0.05, every / 4))
            self.beat(time.monotonic(), every)

    def beat(self, now: float, every: float) -> None:
        """A heartbeat frame to every socket that was sent nothing for `every` seconds."""
        idle_since = now - every
        for c in self:
            w = c.writer
            if w.last_sent <= idle_since and not w.queued and not w.closed:
                w.last_sent = now  # one heartbeat per idle period even if the write lags
                self.hub.send(c.session, HEARTBEAT)


class Client:
    """One authenticated socket around its hub session. Its messages are read by one loop in the
    socket's task; deadlines (the subscribe grace) bound a read, nothing ever cancels it from outside.
    When the hub closes the session (slow client, expired token, a limit), the writer sends the close
    frame and the loop ends when the closing handshake does."""

    def __init__(
        self, clients: Clients, conn: Connection, session: Session, writer: Writer, identity: Identity
    ) -> None:
        self._clients = clients
        self._hub = clients.hub
        self._settings = clients.settings
        self._conn = conn
        self.session = session
        self.writer = writer
        self.identity = identity
        self._errors: deque[float] | None = None  # created on the first bad frame
        self._expiry: asyncio.TimerHandle | None = None
        self._viewing: Viewing[Frame] | None = None
        if clients.presence is not None:
            viewer = Viewer(str(identity.user_id), identity.name)
            self._viewing = Viewing(clients.presence, identity.tenant_id, viewer, self._send)

    async def run(self) -> None:
        s = self.session
        hub = self._hub
        hub.send(s, protocol.welcome(s.session_id, hub.position(s.tenant_id), hub.epoch))
        self._schedule_expiry()
        try:
            await self._read()
        finally:
            if self._viewing is not None:
                self._viewing.close()
            if self._expiry is not None:
                self._expiry.cancel()

    def _send(self, frame: Frame) -> None:
        self._hub.send(self.session, frame)

    async def _read(self) -> None:
        s, limit = self.session, self._settings.max_frame_bytes
        grace_ends = asyncio.get_running_loop().time() + self._settings.subscribe_grace_seconds
        while True:
            if s.pending and not s.closed:
                try:
                    async with asyncio.timeout_at(grace_ends):
                        message = await self._conn.receive()
                except TimeoutError:
                    await self._hub.go_live(s)  # no filter stated: the tenant-wide feed (reference client)
                    continue
            else:
                message = await self._conn.receive()
            if message is None:
                return
            if s.closed:
                continue  # the close frame is out: only the peer's reply (None) matters now
            # Characters can take up to 4 bytes: only encode when the length alone cannot decide.
            if len(message) > limit or (
                isinstance(message, str) and len(message) * 4 > limit and len(message.encode()) > limit
            ):
                self._hub.close(s, TOO_BIG, "frame too large")
                continue
            try:
                frame = protocol.parse_client_frame(message)
                await self._dispatch(frame)
            except ProtocolError as exc:
                self._error(exc)

    async def _dispatch(self, frame: protocol.ClientFrame) -> None:
        s, hub = self.session, self._hub
        if isinstance(frame, Subscribe):
            if (
                frame.key is not None
                and frame.key not in s.keys
                and len(s.keys) >= self._settings.max_subscriptions
            ):
                raise ProtocolError("too_many_subscriptions", "unsubscribe something first")
            if frame.batch is not None:
                self.writer.batch = frame.batch
            hub.send(s, protocol.subscribed(frame.key, self.writer.batch))
            live = frame.key if frame.resume_from is None else None
            if live is not None:
                hub.subscribe(s, live)  # the filter holds at once, also while presence loads
            if self._viewing is not None and frame.key is not None and frame.key[0] == "sprint":
                # `presence` next: a new socket's events are held until it is live (the board's case).
                await self._viewing.subscribe(frame.key[1])
            if frame.resume_from is not None:
                await hub.resume(s, frame.key, frame.resume_from.seq, frame.resume_from.epoch)
            elif live is not None:
                await hub.go_live(s)
        elif isinstance(frame, Unsubscribe):
            hub.unsubscribe(s, frame.key)
            if self._viewing is not None and frame.key[0] == "sprint":
                self._viewing.unsubscribe(frame.key[1])
            hub.send(s, protocol.unsubscribed(frame.key))
        elif isinstance(frame, Options):
            if frame.batch is not None:
                self.writer.batch = frame.batch
            viewing, presence = self._viewing, frame.presence
            shown = viewing is not None and (viewing.enabled if presence is None else presence)
            hub.send(s, protocol.options(self.writer.batch, shown))
            if viewing is not None and presence is not None:
                await viewing.enable(presence)
        elif isinstance(frame, Ping):
            hub.send(s, protocol.PONG)
        elif isinstance(frame, Auth):
            await self._refresh(frame.token)

    async def _refresh(self, token: str) -> None:
        identity = await self._clients.verify(token)
        if identity is None:
            self._hub.close(self.session, UNAUTHORIZED, "unauthorized")
            return
        old = self.identity
        if (identity.tenant_id, identity.user_id) != (old.tenant_id, old.user_id):
            raise ProtocolError("identity_mismatch", "a refreshed token must be for the same user and tenant")
        self.identity = identity
        self._schedule_expiry()
        self._hub.send(self.session, protocol.token_refreshed(identity.exp))

    def _schedule_expiry(self) -> None:
        if self._expiry is not None:
            self._expiry.cancel()
            self._expiry = None
        exp = self.identity.exp
        if exp is not None:
            loop = asyncio.get_running_loop()
            self._expiry = loop.call_at(loop.time() + max(0.0, exp - time.time()), self._expire)

    def _expire(self) -> None:
        self._hub.close(self.session, UNAUTHORIZED, "token expired")

    def _error(self, exc: ProtocolError) -> None:
        now = time.monotonic()
        errors = self._errors
        if errors is None:
            errors = self._errors = deque()
        errors.append(now)
        while errors and errors[0] < now - self._settings.abuse_window_seconds:
            errors.popleft()
        if len(errors) > self._settings.abuse_max_errors:
            self._hub.close(self.session, POLICY_VIOLATION, "too many bad frames")
            return
        self._hub.send(self.session, exc.frame())
