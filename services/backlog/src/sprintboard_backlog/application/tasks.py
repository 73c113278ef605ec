"""Task use cases: create, take, release, start, pause, complete, change status, estimate and details."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from sprintboard_backlog.application.unit_of_work import ConcurrentChange, UnitOfWork
from sprintboard_backlog.domain.errors import NotFound
from sprintboard_backlog.domain.events import TaskEvent, TaskStatus
from sprintboard_backlog.domain.task import UNSET, Task
from sprintboard_backlog.domain.user import Actor


@dataclass(frozen=True, slots=True)
class CreateTask:
    actor: Actor
    story_id: UUID
    title: str
    acceptance_criteria_refs: Sequence[str]
    description: str | None = None
    estimated_hours: int | None = None


@dataclass(frozen=True, slots=True)
class TakeTask:
    actor: Actor
    task_id: UUID


@dataclass(frozen=True, slots=True)
class ReleaseTask:
    actor: Actor
    task_id: UUID


@dataclass(frozen=True, slots=True)
class StartWork:
    actor: Actor
    task_id: UUID


@dataclass(frozen=True, slots=True)
class PauseWork:
    actor: Actor
    task_id: UUID


@dataclass(frozen=True, slots=True)
class CompleteWork:
    actor: Actor
    task_id: UUID


@dataclass(frozen=True, slots=True)
class ChangeTaskStatus:
    actor: Actor
    task_id: UUID
    status: TaskStatus


@dataclass(frozen=True, slots=True)
class UpdateTaskEstimate:
    actor: Actor
    task_id: UUID
    estimated_hours: int | None


@dataclass(frozen=True, slots=True)
class UpdateTaskDetails:
    actor: Actor
    task_id: UUID
    title: str = UNSET
    description: str | None = UNSET
    acceptance_criteria_refs: Sequence[str] = UNSET


MAX_ATTEMPTS = 5


def _now() -> datetime:
    return datetime.now(UTC)


def _task_not_found(task_id: UUID) -> NotFound:
    return NotFound(f"task {task_id} not found", code="task_not_found")


async def create_task(uow: UnitOfWork, cmd: CreateTask) -> Task:
    async with uow:
        story = await uow.stories.get(cmd.actor.tenant_id, cmd.story_id)
        if story is None:
            raise NotFound(f"story {cmd.story_id} not found", code="story_not_found")
        task, event = Task.create(
            cmd.actor,
            project_id=story.project_id,
            story_id=story.id,
            sprint_id=story.sprint_id,
            title=cmd.title,
            description=cmd.description,
            acceptance_criteria_refs=cmd.acceptance_criteria_refs,
            estimated_hours=cmd.estimated_hours,
            now=_now(),
        )
        await uow.tasks.add(task)
        uow.record(event)
        await uow.commit()
    return task


async def _change(
    uow: UnitOfWork, actor: Actor, task_id: UUID, change: Callable[[Task, datetime], TaskEvent | None]
) -> Task:
    """Read the task, let the domain decide, write the new version conditionally on the one read; a lost
    race is retried from a fresh read, where the domain now gives the right answer (often a 409).
    A no-op writes nothing."""
    for _ in range(MAX_ATTEMPTS):
        try:
            async with uow:
                task = await uow.tasks.get(actor.tenant_id, task_id)
                if task is None:
                    raise _task_not_found(task_id)
                event = change(task, _now())
                if event is not None:
                    await uow.tasks.update(task)
                    uow.record(event)
                    await uow.commit()
            return task
        except ConcurrentChange:
            continue
    raise ConcurrentChange()


async def take_task(uow: UnitOfWork, cmd: TakeTask) -> Task:
    """Of concurrent takers exactly one wins: the conditional write applies only to the version that was
    still `available`; the others re-read and get 409 (no stealing)."""
    return await _change(uow, cmd.actor, cmd.task_id, lambda t, now: t.take(cmd.actor, now))


async def release_task(uow: UnitOfWork, cmd: ReleaseTask) -> Task:
    return await _change(uow, cmd.actor, cmd.task_id, lambda t, now: t.release(cmd.actor, now))


async def start_work(uow: UnitOfWork, cmd: StartWork) -> Task:
    return await _change(uow, cmd.actor, cmd.task_id, lambda t, now: t.start(cmd.actor, now))


async def pause_work(uow: UnitOfWork, cmd: PauseWork) -> Task:
    return await _change(uow, cmd.actor, cmd.task_id, lambda t, now: t.pause(cmd.actor, now))


async def complete_work(uow: UnitOfWork, cmd: CompleteWork) -> Task:
    return await _change(uow, cmd.actor, cmd.task_id, lambda t, now: t.complete(cmd.actor, now))


async def change_task_status(uow: UnitOfWork, cmd: ChangeTaskStatus) -> Task:
    return await _change(
        uow, cmd.actor, cmd.task_id, lambda t, now: t.change_status(cmd.status, cmd.actor, now)
    )


async def update_task_estimate(uow: UnitOfWork, cmd: UpdateTaskEstimate) -> Task:
    return await _change(
        uow, cmd.actor, cmd.task_id, lambda t, now: t.set_estimate(cmd.estimated_hours, cmd.actor, now)
    )


async def update_task_details(uow: UnitOfWork, cmd: UpdateTaskDetails) -> Task:
    changes: dict[str, Any] = {
        name: value
        for name in ("title", "description", "acceptance_criteria_refs")
        if (value := getattr(cmd, name)) is not UNSET
    }
    return await _change(
        uow, cmd.actor, cmd.task_id, lambda t, now: t.update_details(cmd.actor, now, **changes)
    )


async def get_task(uow: UnitOfWork, actor: Actor, task_id: UUID) -> Task:
    async with uow:
        task = await uow.tasks.get(actor.tenant_id, task_id)
    if task is None:
        raise _task_not_found(task_id)
    return task


async def story_tasks(
    uow: UnitOfWork, actor: Actor, story_id: UUID, *, available_only: bool = False
) -> list[Task]:
    async with uow:
        if await uow.stories.get(actor.tenant_id, story_id) is None:
            raise NotFound(f"story {story_id} not found", code="story_not_found")
        status = TaskStatus.AVAILABLE if available_only else None
        return await uow.tasks.for_story(actor.tenant_id, story_id, status)


async def owned_tasks(uow: UnitOfWork, actor: Actor) -> list[Task]:
    async with uow:
        return await uow.tasks.owned_by(actor.tenant_id, actor.user_id)
