"""`Follow`: one sprint this instance follows the presence of, for as long as its sockets watch it."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from nats.aio.subscription import Subscription

from sprintboard_notifier.presence.view import SprintView

W = TypeVar("W")


@dataclass(eq=False, slots=True)
class Follow(Generic[W]):
    """`W` is the tracker's watch of one socket."""

    key: tuple[str, str]  # (tenant, sprint)
    prefix: str  # of the sprint's keys in the entries bucket
    view: SprintView
    watchers: set[W] = field(default_factory=set)
    loaded: asyncio.Event = field(default_factory=asyncio.Event)
    settled: bool = False
    task: asyncio.Task[None] | None = None  # the load: the subscription and the gets
    sub: Subscription | None = None
    heard: set[str] = field(default_factory=set)  # instances whose change came since the last load began
    flush: asyncio.TimerHandle | None = None
    last_flush: float | None = None
    dirty_entry: bool = False
    written: bool = False  # its key may be stored (so it is deleted at the end)
    last_write: float = 0.0
    refresh_queued: bool = False
