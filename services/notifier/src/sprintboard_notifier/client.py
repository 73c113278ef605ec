"""Runs the WebSocket protocol of one socket over any `Connection`: auth, frames, timers, abuse limits."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque

from sprintboard_kit.tokens import Identity, InvalidToken, TokenVerifier
from sprintboard_notifier import protocol
from sprintboard_notifier.closecodes import (
    NORMAL,
    PEER_GONE,
    POLICY_VIOLATION,
    TOO_BIG,
    TRY_AGAIN_LATER,
    UNAUTHORIZED,
)
from sprintboard_notifier.hub import Hub, Session
from sprintboard_notifier.metrics import NotifierMetrics
from sprintboard_notifier.prepared import HEARTBEAT
from sprintboard_notifier.protocol import Auth, Options, Ping, ProtocolError, Subscribe, Unsubscribe
from sprintboard_notifier.settings import NotifierSettings
from sprintboard_notifier.transport import Connection
from sprintboard_notifier.writer import BatchClock, run_writer

log = logging.getLogger(__name__)


class Clients:
    """Shared by every socket of an instance; `serve` is one socket's whole life."""

    def __init__(
        self, hub: Hub, verifier: TokenVerifier, settings: NotifierSettings, metrics: NotifierMetrics
    ) -> None:
        self._hub = hub
        self._verifier = verifier
        self._settings = settings
        self.metrics = metrics  # also read by the transport (ws_server.py counts its socket writes)
        window = settings.batch_window_seconds
        self._clock = BatchClock(window) if window > 0 else None

    async def serve(self, conn: Connection, query_token: str | None) -> None:
        if not self._hub.ready:
            await conn.close(TRY_AGAIN_LATER, "not ready")
            return
        identity = await self._authenticate(conn, query_token)
        if identity is None:
            await conn.close(UNAUTHORIZED, "unauthorized")
            return
        # Only a socket that authenticated by frame holds its events until it subscribes: that is how the
        # board (and any client that resumes) connects, and its `subscribe` follows `welcome` at once. A token
        # on the URL is the reference client, which never subscribes: its tenant's events go out at once.
        session = self._hub.open(identity.tenant_id, pending=not query_token)
        self.metrics.sockets.inc()
        try:
            await _Conversation(self, conn, session, identity).run()
        finally:
            self._hub.close(session, PEER_GONE)
            self.metrics.sockets.dec()

    async def _authenticate(self, conn: Connection, query_token: str | None) -> Identity | None:
        token = query_token
        if not token:
            try:
                first = await asyncio.wait_for(conn.receive(), self._settings.auth_timeout_seconds)
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
        every = self._settings.heartbeat_seconds
        while True:
            await asyncio.sleep(max(0.05, every / 4))
            idle_since = time.monotonic() - every
            for s in self._hub.sessions():
                if s.last_sent <= idle_since and not s.queued and not s.closed:
                    s.last_sent = time.monotonic()  # one heartbeat per idle period even if the write lags
                    self._hub.send(s, HEARTBEAT)


class _Conversation:
    """One authenticated socket around a hub session: its frames are read in this task; a writer task
    starts only when frames have to wait."""

    def __init__(self, clients: Clients, conn: Connection, session: Session, identity: Identity) -> None:
        self._gw = clients
        self._hub = clients._hub
        self._settings = clients._settings
        self._conn = conn
        self._session = session
        self._identity = identity
        self._errors: deque[float] | None = None  # created on the first bad frame
        self._expiry: asyncio.TimerHandle | None = None
        self._writer: asyncio.Task[None] | None = None

    async def run(self) -> None:
        s, settings = self._session, self._settings
        # A transport that can write a frame without waiting lets frames skip the writer task, which
        # only starts once something has to wait in the queue (flow control, batching fallback).
        s.sink = getattr(self._conn, "write_now", None)
        s.on_wake = self._start_writer
        self._hub.send(s, protocol.welcome(s.session_id, self._hub.cursor, self._hub.epoch))
        self._schedule_expiry()
        # The client's frames are read in this task, not a task of their own (one task less per idle
        # socket): when the hub closes the session (slow client, expired token) it interrupts the read.
        me = asyncio.current_task()
        assert me is not None
        reading = True

        def interrupt(_: asyncio.Future[None]) -> None:
            if reading:
                me.cancel()

        closed = s.closed_future()
        closed.add_done_callback(interrupt)
        try:
            try:
                await self._read()
            except asyncio.CancelledError:
                # Ours only when the session is closed and nobody else asked this task to stop.
                if not s.closed or me.cancelling() > 1:
                    raise
                me.uncancel()
            finally:
                reading = False
                closed.remove_done_callback(interrupt)
            if not s.closed:
                self._hub.close(s, PEER_GONE)
            # Let an in-flight write finish so the close frame follows the data, but not forever:
            # a client that never reads keeps the write waiting on flow control.
            if self._writer is not None:
                await asyncio.wait({self._writer}, timeout=settings.close_grace_seconds)
            if s.close_code != PEER_GONE:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._conn.close(s.close_code or NORMAL, s.close_reason), 1.0)
        finally:
            if self._expiry is not None:
                self._expiry.cancel()
            s.on_wake = None
            if self._writer is not None:
                self._writer.cancel()
                await asyncio.gather(self._writer, return_exceptions=True)

    def _start_writer(self) -> None:
        s, settings = self._session, self._settings
        s.on_wake = None
        self._writer = asyncio.get_running_loop().create_task(
            run_writer(
                s,
                self._conn,
                self._gw.metrics,
                clock=self._gw._clock,
                batch_max=settings.batch_max_events,
                batch_bytes=settings.max_frame_bytes,
            )
        )
        # The writer stops when the peer is gone: so does the socket.
        self._writer.add_done_callback(self._writer_done)

    def _writer_done(self, _: asyncio.Task[None]) -> None:
        if not self._session.closed:
            self._hub.close(self._session, PEER_GONE)

    def _schedule_expiry(self) -> None:
        if self._expiry is not None:
            self._expiry.cancel()
            self._expiry = None
        exp = self._identity.exp
        if exp is not None:
            loop = asyncio.get_running_loop()
            self._expiry = loop.call_at(loop.time() + max(0.0, exp - time.time()), self._expire)

    def _expire(self) -> None:
        self._hub.close(self._session, UNAUTHORIZED, "token expired")

    async def _read(self) -> None:
        s, limit = self._session, self._settings.max_frame_bytes
        grace_ends = time.monotonic() + self._settings.subscribe_grace_seconds
        while not s.closed:
            if s.pending:
                try:
                    message = await asyncio.wait_for(self._conn.receive(), grace_ends - time.monotonic())
                except TimeoutError:
                    await self._hub.go_live(s)  # no filter stated: the tenant-wide feed (reference client)
                    continue
            else:
                message = await self._conn.receive()
            if message is None:
                return
            # Characters can take up to 4 bytes: only encode when the length alone cannot decide.
            if len(message) > limit or (
                isinstance(message, str) and len(message) * 4 > limit and len(message.encode()) > limit
            ):
                self._hub.close(s, TOO_BIG, "frame too large")
                return
            try:
                frame = protocol.parse_client_frame(message)
                await self._dispatch(frame)
            except ProtocolError as exc:
                self._error(exc)

    async def _dispatch(self, frame: protocol.ClientFrame) -> None:
        s, hub = self._session, self._hub
        if isinstance(frame, Subscribe):
            if (
                frame.key is not None
                and frame.key not in s.keys
                and len(s.keys) >= self._settings.max_subscriptions
            ):
                raise ProtocolError("too_many_subscriptions", "unsubscribe something first")
            if frame.batch is not None:
                s.batch = frame.batch
            hub.send(s, protocol.subscribed(frame.key, s.batch))
            if frame.resume_from is not None:
                await hub.resume(s, frame.key, frame.resume_from.seq, frame.resume_from.epoch)
            elif frame.key is not None:
                hub.subscribe(s, frame.key)
                await hub.go_live(s)
        elif isinstance(frame, Unsubscribe):
            hub.unsubscribe(s, frame.key)
            hub.send(s, protocol.unsubscribed(frame.key))
        elif isinstance(frame, Options):
            s.batch = frame.batch
            hub.send(s, protocol.options(frame.batch))
        elif isinstance(frame, Ping):
            hub.send(s, protocol.PONG)
        elif isinstance(frame, Auth):
            await self._refresh(frame.token)

    async def _refresh(self, token: str) -> None:
        identity = await self._gw.verify(token)
        if identity is None:
            self._hub.close(self._session, UNAUTHORIZED, "unauthorized")
            return
        old = self._identity
        if (identity.tenant_id, identity.user_id) != (old.tenant_id, old.user_id):
            raise ProtocolError("identity_mismatch", "a refreshed token must be for the same user and tenant")
        self._identity = identity
        self._schedule_expiry()
        self._hub.send(self._session, protocol.token_refreshed(identity.exp))

    def _error(self, exc: ProtocolError) -> None:
        now = time.monotonic()
        errors = self._errors
        if errors is None:
            errors = self._errors = deque()
        errors.append(now)
        while errors and errors[0] < now - self._settings.abuse_window_seconds:
            errors.popleft()
        if len(errors) > self._settings.abuse_max_errors:
            self._hub.close(self._session, POLICY_VIOLATION, "too many bad frames")
            return
        self._hub.send(self._session, exc.frame())
