"""Tasks: creation, listings, ownership (take/release), work (start/pause/complete), status and estimate."""

from __future__ import annotations

from collections.abc import Callable
from uuid import UUID

from fastapi import APIRouter, Response
from pydantic import BaseModel

from sprintboard_backlog.application import tasks
from sprintboard_backlog.domain.events import TaskStatus
from sprintboard_backlog.domain.task import Task
from sprintboard_backlog.entrypoints.http.dependencies import CurrentActor, Uow
from sprintboard_backlog.entrypoints.http.idempotency import RunOnce
from sprintboard_backlog.entrypoints.http.routes import API_PREFIX
from sprintboard_backlog.entrypoints.http.schemas import (
    EstimateIn,
    TaskActionOut,
    TaskCreated,
    TaskIn,
    TaskOut,
    TaskPatch,
    TaskStatusIn,
)

router = APIRouter(prefix=API_PREFIX, tags=["tasks"])


@router.post("/stories/{story_id}/tasks", status_code=201, response_model=TaskCreated)
async def create_task(
    story_id: UUID, body: TaskIn, actor: CurrentActor, uow: Uow, once: RunOnce
) -> BaseModel | Response:
    cmd = tasks.CreateTask(
        actor,
        story_id,
        body.title,
        body.acceptance_criteria_refs,
        description=body.description,
        estimated_hours=body.estimated_hours,
    )
    return await once(lambda: tasks.create_task(uow, cmd), lambda t: TaskCreated(task_id=t.id))


@router.get("/stories/{story_id}/tasks")
async def story_tasks(story_id: UUID, actor: CurrentActor, uow: Uow) -> list[TaskOut]:
    return [TaskOut.of(t) for t in await tasks.story_tasks(uow, actor, story_id)]


@router.get("/stories/{story_id}/tasks/available")
async def available_tasks(story_id: UUID, actor: CurrentActor, uow: Uow) -> list[TaskOut]:
    return [TaskOut.of(t) for t in await tasks.story_tasks(uow, actor, story_id, available_only=True)]


@router.get("/tasks/owned")
async def owned_tasks(actor: CurrentActor, uow: Uow) -> list[TaskOut]:
    return [TaskOut.of(t) for t in await tasks.owned_tasks(uow, actor)]


@router.get("/tasks/{task_id}")
async def get_task(task_id: UUID, actor: CurrentActor, uow: Uow) -> TaskOut:
    return TaskOut.of(await tasks.get_task(uow, actor, task_id))


@router.patch("/tasks/{task_id}")
async def update_task(task_id: UUID, body: TaskPatch, actor: CurrentActor, uow: Uow) -> TaskOut:
    changes = {
        name: value
        for name in body.model_fields_set
        if (value := getattr(body, name)) is not None or name == "description"
    }
    return TaskOut.of(
        await tasks.update_task_details(uow, tasks.UpdateTaskDetails(actor, task_id, **changes))
    )


@router.put("/tasks/{task_id}/ownership")
async def take_task(task_id: UUID, actor: CurrentActor, uow: Uow) -> TaskActionOut:
    task = await tasks.take_task(uow, tasks.TakeTask(actor, task_id))
    return TaskActionOut(message="Task ownership taken", task=TaskOut.of(task))


@router.delete("/tasks/{task_id}/ownership")
async def release_task(task_id: UUID, actor: CurrentActor, uow: Uow) -> TaskActionOut:
    task = await tasks.release_task(uow, tasks.ReleaseTask(actor, task_id))
    return TaskActionOut(message="Task ownership released", task=TaskOut.of(task))


def _action(message: str) -> Callable[[Task], TaskActionOut]:
    return lambda task: TaskActionOut(message=message, task=TaskOut.of(task))


@router.post("/tasks/{task_id}/work/start", response_model=TaskActionOut)
async def start_work(task_id: UUID, actor: CurrentActor, uow: Uow, once: RunOnce) -> BaseModel | Response:
    cmd = tasks.StartWork(actor, task_id)
    return await once(lambda: tasks.start_work(uow, cmd), _action("Work started"))


@router.post("/tasks/{task_id}/work/pause", response_model=TaskActionOut)
async def pause_work(task_id: UUID, actor: CurrentActor, uow: Uow, once: RunOnce) -> BaseModel | Response:
    cmd = tasks.PauseWork(actor, task_id)
    return await once(lambda: tasks.pause_work(uow, cmd), _action("Work paused"))


@router.post("/tasks/{task_id}/work/complete", response_model=TaskActionOut)
async def complete_work(task_id: UUID, actor: CurrentActor, uow: Uow, once: RunOnce) -> BaseModel | Response:
    cmd = tasks.CompleteWork(actor, task_id)
    return await once(lambda: tasks.complete_work(uow, cmd), _action("Task completed"))


@router.patch("/tasks/{task_id}/status")
async def change_status(task_id: UUID, body: TaskStatusIn, actor: CurrentActor, uow: Uow) -> TaskOut:
    cmd = tasks.ChangeTaskStatus(actor, task_id, TaskStatus.parse(body.status))
    return TaskOut.of(await tasks.change_task_status(uow, cmd))


@router.patch("/tasks/{task_id}/estimate")
async def update_estimate(task_id: UUID, body: EstimateIn, actor: CurrentActor, uow: Uow) -> TaskOut:
    cmd = tasks.UpdateTaskEstimate(actor, task_id, body.estimated_hours)
    return TaskOut.of(await tasks.update_task_estimate(uow, cmd))
