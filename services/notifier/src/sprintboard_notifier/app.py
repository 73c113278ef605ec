"""The notifier app: `create_app(settings)` wires the stream follower to the hub in the lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import asynccontextmanager
from typing import TypedDict

import uvicorn
from fastapi import FastAPI

from sprintboard_contracts.subjects import filters_for_feed
from sprintboard_contracts.wire import AnyWireEvent
from sprintboard_kit.logs import install_redaction
from sprintboard_kit.operations import NotReady, operations_router
from sprintboard_notifier.asyncapi import router as asyncapi_router
from sprintboard_notifier.client import Clients
from sprintboard_notifier.hub import KEY_KINDS, Delivery, Hub, SubscriptionKey
from sprintboard_notifier.metrics import NotifierMetrics
from sprintboard_notifier.prepared import Frame
from sprintboard_notifier.presence import Presence, PresenceCollector
from sprintboard_notifier.settings import NotifierSettings
from sprintboard_notifier.stream import LiveFollower, StreamFollower, StreamHistory
from sprintboard_notifier.stream.base import Shared
from sprintboard_notifier.ws_server import TaskSocketProtocol


class NotifierState(TypedDict):
    settings: NotifierSettings
    clients: Clients
    hub: Hub
    follower: StreamFollower | LiveFollower
    metrics: NotifierMetrics
    presence: Presence[Frame] | None


def to_delivery(seq: int, data: bytes, event: AnyWireEvent) -> Delivery:
    """The hub routes by these fields and forwards the body as published (unknown fields kept): the
    checked bytes themselves, never decoded a second time. The ids as sent: `Delivery.routes` matches
    them in lowercase, as subscriptions are (the contract's UUID pattern also takes uppercase hex)."""
    return Delivery(
        seq, event.tenant_id, event.project_id, event.sprint_id, event.story_id, event.timestamp, data
    )


class StreamBridge:
    """The only place that knows both sides: follower callbacks into the hub, and the hub's event source."""

    def __init__(self, settings: NotifierSettings, metrics: NotifierMetrics) -> None:
        follow_all = settings.follow == "all"
        self.hub = Hub(
            self,
            metrics,
            hold_frames=settings.resume_hold_frames,
            stall_seconds=settings.replay_stall_seconds,
            history_events=settings.history_events,
            follow_all=follow_all,
        )
        shared: Shared = {
            "on_skip": self.hub.advance,
            "on_ready": self.hub.start,
            "on_follow": self.hub.followed,
            "on_drop": self.hub.dropped,
            "stream_settings": settings.stream_settings(),
            "name": f"sprintboard-notifier-{settings.instance_id}",
            "linger_seconds": settings.interest_linger_seconds,
            "warm_events": settings.history_events,
        }
        self.follower: StreamFollower | LiveFollower
        if not follow_all and settings.interest_path == "republish":
            self.follower = LiveFollower(
                settings.nats_servers,
                self._on_event,
                metrics,
                max_reads=settings.follow_creates,
                follow_timeout=settings.follow_timeout_seconds,
                check_seconds=settings.live_check_seconds,
                **shared,
            )
        else:
            self.follower = StreamFollower(
                settings.nats_servers,
                self._on_event,
                metrics,
                follow_all=follow_all,
                max_creates=settings.follow_creates,
                create_timeout=settings.follow_timeout_seconds,
                wide_above=settings.follow_all_above,
                **shared,
            )
        metrics.followed_tenants.set_function(lambda: self.follower.tenants)
        metrics.follows_every_event.set_function(lambda: int(self.follower.wide))
        self.history = StreamHistory(
            self.follower.jetstream,
            lambda: self.hub.epoch,
            readers=settings.replay_readers,
            read_timeout=settings.replay_read_timeout_seconds,
            wait_timeout=settings.replay_stall_seconds,
        )

    def _on_event(self, seq: int, subject: str, data: bytes, event: AnyWireEvent) -> None:
        # Every event that comes by goes to the hub, matching a socket or not: its memory of a followed
        # tenant's recent events must be whole, or a resume would be told a gap was complete.
        self.hub.publish(to_delivery(seq, data, event))

    async def follow(self, tenant_id: str) -> None:
        await self.follower.follow(tenant_id)

    def unfollow(self, tenant_id: str) -> None:
        self.follower.unfollow(tenant_id)

    async def replay(
        self, tenant_id: str, keys: frozenset[SubscriptionKey] | None, from_seq: int, to_seq: int
    ) -> AsyncGenerator[Delivery, None]:
        # Only what the feed may get is read (its tenant's sprints and projects, and the v1 events stored
        # before the upgrade); the hub still applies the tenant and every subscription (docs/events.md).
        ids = {kind: [i for k, i in keys or () if k == kind] for kind in KEY_KINDS}
        filters = filters_for_feed(
            tenant_id, ids["sprint"], ids["project"], whole_tenant=not keys or bool(ids["story"])
        )
        async with contextlib.aclosing(self.history.replay(filters, from_seq, to_seq)) as stored:
            async for m in stored:
                yield to_delivery(m.seq, m.data, m.event)


def create_app(settings: NotifierSettings | None = None) -> FastAPI:
    settings = settings or NotifierSettings()
    install_redaction()
    metrics = NotifierMetrics()
    bridge = StreamBridge(settings, metrics)
    presence = None
    if settings.presence_enabled:
        presence = Presence(settings.presence_settings(), settings.instance_id, Frame)
        metrics.registry.register(PresenceCollector(presence))
    clients = Clients(bridge.hub, settings.token_verifier(), settings, metrics, presence)

    async def consumer_check() -> None:
        if not (bridge.hub.ready and bridge.follower.running):
            raise NotReady("the stream consumer is not running")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[NotifierState]:
        starting = asyncio.create_task(bridge.follower.run(settings.stream_watch_seconds))
        heartbeats = asyncio.create_task(clients.heartbeats())
        tasks = [starting, heartbeats]
        if presence is not None:  # its own NATS connection: presence traffic stays off the event path
            name = f"sprintboard-presence-{settings.instance_id}"
            tasks.append(asyncio.create_task(presence.run(settings.nats_servers, name)))
        try:
            yield NotifierState(
                settings=settings,
                clients=clients,
                hub=bridge.hub,
                follower=bridge.follower,
                metrics=metrics,
                presence=presence,
            )
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            bridge.hub.ready = False
            await bridge.follower.stop()

    app = FastAPI(title="Sprintboard notifier", lifespan=lifespan)
    app.include_router(asyncapi_router)

    app.include_router(operations_router(lambda _: {"nats_consumer": consumer_check}, metrics.registry))
    app.state.bridge = bridge
    app.state.clients = clients
    app.state.presence = presence
    return app


def server_config(
    settings: NotifierSettings, app: FastAPI | None = None, **overrides: object
) -> uvicorn.Config:
    """How the notifier is served: frame size limit at the server, no deflate, ws_server.py, and no
    protocol pings of uvicorn's own: an idle socket already gets a heartbeat frame every
    `heartbeat_seconds`, and a peer that stops acknowledging what is written is dropped by the kernel
    after `peer_timeout_seconds` (`listener`; docs/operations.md, "Dead peers")."""
    options: dict[str, object] = {
        "ws": TaskSocketProtocol,
        "host": settings.host,
        "port": settings.port,
        "ws_max_size": settings.max_frame_bytes,
        "ws_per_message_deflate": False,
        "ws_ping_interval": None,
        "ws_ping_timeout": None,
        "lifespan": "on",
        "log_level": settings.log_level,
    }
    options.update(overrides)
    return uvicorn.Config(app or create_app(settings), **options)  # type: ignore[arg-type]


def listener(config: uvicorn.Config, settings: NotifierSettings) -> socket.socket:
    """The listening socket, bound as uvicorn binds it, with TCP_USER_TIMEOUT set (where the platform has
    it): every accepted socket inherits it, so a connection whose written bytes stay unacknowledged for
    `peer_timeout_seconds` is aborted by the kernel and its session closed. With the heartbeat frames
    that is how a dead peer is found, within `heartbeat_seconds + peer_timeout_seconds`."""
    sock = config.bind_socket()
    if hasattr(socket, "TCP_USER_TIMEOUT"):
        millis = round(settings.peer_timeout_seconds * 1000)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, millis)
    return sock
