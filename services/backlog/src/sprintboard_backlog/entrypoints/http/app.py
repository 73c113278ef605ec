"""`create_app(settings)`: the FastAPI application and the lifespan that builds its engine and context."""

from __future__ import annotations

import gc
import logging
import secrets
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from prometheus_client import CollectorRegistry
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from sprintboard_backlog.adapters.engine import create_engine
from sprintboard_backlog.adapters.migrations import upgrade
from sprintboard_backlog.adapters.relay import RelayMetrics
from sprintboard_backlog.adapters.unit_of_work import SqlUnitOfWorkFactory
from sprintboard_backlog.application.users import UserDirectory
from sprintboard_backlog.entrypoints.http.context import AppState, LifespanHook, ServiceContext
from sprintboard_backlog.entrypoints.http.errors import ERROR_RESPONSES, install_error_handlers
from sprintboard_backlog.entrypoints.http.idempotency import sweep_hook
from sprintboard_backlog.entrypoints.http.observability import (
    HttpMetrics,
    RequestContextMiddleware,
    configure_logging,
)
from sprintboard_backlog.entrypoints.http.routes import auth, projects, sprints, stories, tasks, users
from sprintboard_backlog.entrypoints.http.routes.asyncapi import router as asyncapi_router
from sprintboard_backlog.entrypoints.web import web_router
from sprintboard_backlog.settings import BacklogSettings
from sprintboard_kit.operations import ReadinessCheck, operations_router
from sprintboard_kit.tokens import TokenVerifier

log = logging.getLogger(__name__)


def _readiness_checks(request: Request) -> dict[str, ReadinessCheck]:
    """The database, and whatever the lifespan hooks registered (NATS)."""
    checks: dict[str, ReadinessCheck] = request.state.context.readiness_checks
    return checks


def database_check(engine: AsyncEngine) -> ReadinessCheck:
    async def check() -> None:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    return check


def _verifier(settings: BacklogSettings) -> tuple[TokenVerifier, str | None]:
    """The token verifier, and the secret dev tokens are signed with (when dev auth is on)."""
    dev_secret = None
    if settings.dev_auth:
        dev_secret = settings.jwt_secret
        if not dev_secret:
            dev_secret = secrets.token_urlsafe(48)
            log.warning("dev auth is on without SPRINTBOARD_JWT_SECRET: using a random per-process secret")
    return settings.token_verifier(secret=dev_secret), dev_secret


def default_hooks(settings: BacklogSettings) -> list[LifespanHook]:
    """Hooks every deployment runs: the outbox relay, or (when it runs as its own process) its wake-up;
    NATS readiness; the sweep of expired idempotency keys."""
    from sprintboard_backlog.entrypoints.http.relay_hooks import relay_hook, remote_relay_hook

    return [relay_hook if settings.relay_enabled else remote_relay_hook, sweep_hook]


def create_app(settings: BacklogSettings | None = None, *, hooks: Sequence[LifespanHook] = ()) -> FastAPI:
    """The backlog API. Nothing connects here: the lifespan builds the engine and the `ServiceContext`,
    then enters `default_hooks(settings)` and `hooks` in order (each may register readiness checks,
    on-commit callbacks and background tasks)."""
    settings = settings or BacklogSettings()
    all_hooks = [*default_hooks(settings), *hooks]
    registry = CollectorRegistry()
    relay_metrics = RelayMetrics(registry)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[AppState]:
        configure_logging(settings.log_level)
        if settings.migrate_on_start:
            await upgrade(settings.database_url)
        engine = create_engine(
            settings.database_url, pool_size=settings.db_pool_size, max_overflow=settings.db_max_overflow
        )
        verifier, dev_secret = _verifier(settings)
        uow_factory = SqlUnitOfWorkFactory(engine, idempotency_wait_seconds=settings.idempotency_wait_seconds)
        context = ServiceContext(
            settings=settings,
            engine=engine,
            uow_factory=uow_factory,
            verifier=verifier,
            users=UserDirectory(uow_factory),
            dev_token_secret=dev_secret,
            relay_metrics=relay_metrics,
            readiness_checks={"database": database_check(engine)},
        )
        uow_factory.on_commit = context.fire_on_commit
        try:
            async with AsyncExitStack() as stack:
                for hook in all_hooks:
                    await stack.enter_async_context(hook(context))
                # What startup built lives as long as the process: keep the collector from rescanning it.
                gc.collect()
                gc.freeze()
                yield {"context": context}
        finally:
            await engine.dispose()

    app = FastAPI(
        title="Sprintboard backlog",
        version="1.0.0",
        summary="Projects, stories, tasks and sprints; every task change is published as an event.",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    # Routes are matched in order: the hot task routes first.
    for router in (tasks.router, sprints.router, stories.router, projects.router, users.router):
        app.include_router(router, responses=ERROR_RESPONSES)
    if settings.dev_auth:
        app.include_router(auth.router, responses={422: ERROR_RESPONSES[422]})
    app.include_router(operations_router(_readiness_checks, registry))
    app.include_router(web_router(settings.notifier_public_url, settings.dev_auth))
    app.include_router(asyncapi_router)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["*"],
            allow_headers=["*"],
            expose_headers=["X-Request-ID", "Idempotent-Replayed"],
        )
    app.add_middleware(
        RequestContextMiddleware, metrics=HttpMetrics(registry), access_log=settings.access_log
    )
    return app
