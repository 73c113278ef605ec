"""What the lifespan builds and every request uses: the typed lifespan state and its extension points."""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import TypedDict

from sqlalchemy.ext.asyncio import AsyncEngine

from sprintboard_backlog.adapters.relay import RelayMetrics
from sprintboard_backlog.application.unit_of_work import UnitOfWork
from sprintboard_backlog.application.users import UserDirectory
from sprintboard_backlog.settings import BacklogSettings
from sprintboard_kit.operations import ReadinessCheck
from sprintboard_kit.tokens import TokenVerifier

log = logging.getLogger(__name__)


@dataclass
class ServiceContext:
    """Built once per process by the lifespan. Lifespan hooks may add `readiness_checks`, append to
    `on_commit` (called after each commit that wrote outbox rows) and start background tasks."""

    settings: BacklogSettings
    engine: AsyncEngine
    uow_factory: Callable[[], UnitOfWork]
    verifier: TokenVerifier
    users: UserDirectory
    dev_token_secret: str | None
    relay_metrics: RelayMetrics  # in the app's registry, served at /metrics
    readiness_checks: dict[str, ReadinessCheck] = field(default_factory=dict)
    on_commit: list[Callable[[], None]] = field(default_factory=list)

    def fire_on_commit(self) -> None:
        for hook in self.on_commit:
            hook()


LifespanHook = Callable[[ServiceContext], AbstractAsyncContextManager[None]]
"""Entered after the context is built, exited (in reverse order) before the engine is disposed."""


class AppState(TypedDict):
    context: ServiceContext
