"""The unit of work and repository ports the use cases need; adapters implement them."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Protocol, Self
from uuid import UUID

from sprintboard_backlog.application.idempotency import IdempotencyRecords
from sprintboard_backlog.domain.errors import Conflict
from sprintboard_backlog.domain.events import TaskEvent, TaskStatus
from sprintboard_backlog.domain.project import Project
from sprintboard_backlog.domain.sprint import Sprint
from sprintboard_backlog.domain.story import Story, StoryStatus
from sprintboard_backlog.domain.task import Task
from sprintboard_backlog.domain.user import User


class ConcurrentChange(Conflict):
    """Another request changed the row between our read and our conditional write; try again."""

    code = "concurrent_change"

    def __init__(self, message: str = "the task changed concurrently; try again") -> None:
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class StorySummary:
    """A story as the board shows it."""

    id: UUID
    title: str
    story_points: int | None


class ProjectRepository(Protocol):
    async def add(self, project: Project) -> None: ...
    async def get(self, tenant_id: str, project_id: UUID) -> Project | None: ...
    async def all(self, tenant_id: str) -> list[Project]: ...


class StoryRepository(Protocol):
    async def add(self, story: Story) -> None: ...
    async def get(self, tenant_id: str, story_id: UUID, *, for_update: bool = False) -> Story | None: ...
    async def get_many(self, tenant_id: str, story_ids: Sequence[UUID]) -> list[Story]:
        """Locked for update, in id order."""
        ...

    async def search(
        self, tenant_id: str, project_id: UUID, status: StoryStatus | None, sprint_id: UUID | None
    ) -> list[Story]: ...
    async def in_sprint(self, tenant_id: str, sprint_id: UUID) -> list[StorySummary]:
        """The sprint's live stories in creation order."""
        ...

    async def update(self, story: Story) -> None: ...
    async def delete(self, tenant_id: str, story_id: UUID, now: datetime) -> bool: ...


class SprintRepository(Protocol):
    async def add(self, sprint: Sprint) -> None: ...
    async def get(self, tenant_id: str, sprint_id: UUID, *, for_update: bool = False) -> Sprint | None: ...
    async def active(self, tenant_id: str, project_id: UUID) -> Sprint | None: ...
    async def for_project(self, tenant_id: str, project_id: UUID) -> list[Sprint]: ...
    async def update(self, sprint: Sprint) -> None: ...


class TaskRepository(Protocol):
    async def add(self, task: Task) -> None: ...
    async def get(self, tenant_id: str, task_id: UUID, *, for_update: bool = False) -> Task | None: ...
    async def update(self, task: Task) -> None:
        """Write a changed task whose version the domain bumped by one; the write applies only if the
        row is still at the previous version, else `commit()` raises `ConcurrentChange`."""
        ...

    async def for_story(
        self, tenant_id: str, story_id: UUID, status: TaskStatus | None = None
    ) -> list[Task]: ...
    async def owned_by(self, tenant_id: str, owner_user_id: UUID) -> list[Task]: ...
    async def for_sprint(self, tenant_id: str, sprint_id: UUID) -> list[Task]:
        """The sprint's tasks ordered by story (creation) then task creation."""
        ...


class UserRepository(Protocol):
    async def upsert(self, user: User) -> None: ...
    async def get(self, tenant_id: str, user_id: UUID) -> User | None: ...


class UnitOfWork(Protocol):
    """One transaction. Task events recorded with `record` are written to the outbox by `commit`,
    in the same transaction, after the changes they describe."""

    @property
    def projects(self) -> ProjectRepository: ...
    @property
    def stories(self) -> StoryRepository: ...
    @property
    def sprints(self) -> SprintRepository: ...
    @property
    def tasks(self) -> TaskRepository: ...
    @property
    def users(self) -> UserRepository: ...
    @property
    def idempotency(self) -> IdempotencyRecords: ...

    def single_transaction(self) -> AbstractAsyncContextManager[None]:
        """One transaction for everything inside it, the `async with uow:` blocks of use cases included:
        their `commit()` writes into it, and it commits when it ends without an exception (else rolls
        back). A use case's block left without committing discards its own writes only."""
        ...

    async def __aenter__(self) -> Self: ...
    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        """Roll back whatever was not committed."""
        ...

    def record(self, event: TaskEvent) -> None: ...
    async def commit(self) -> None: ...
    async def rollback(self) -> None: ...
