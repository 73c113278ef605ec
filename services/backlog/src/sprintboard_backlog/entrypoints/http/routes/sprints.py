"""Sprints and the sprint board."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel

from sprintboard_backlog.application import sprints
from sprintboard_backlog.application.board import GroupBy, sprint_board
from sprintboard_backlog.domain.events import TaskStatus
from sprintboard_backlog.domain.sprint import SprintStatus
from sprintboard_backlog.entrypoints.http.board_schemas import BoardOut
from sprintboard_backlog.entrypoints.http.dependencies import CurrentActor, Uow
from sprintboard_backlog.entrypoints.http.idempotency import RunOnce
from sprintboard_backlog.entrypoints.http.routes import API_PREFIX
from sprintboard_backlog.entrypoints.http.schemas import (
    SprintCreated,
    SprintIn,
    SprintOut,
    SprintStatusIn,
    status_filter,
)

router = APIRouter(prefix=API_PREFIX, tags=["sprints"])


@router.post("/projects/{project_id}/sprints", status_code=201, response_model=SprintCreated)
async def create_sprint(
    project_id: UUID, body: SprintIn, actor: CurrentActor, uow: Uow, once: RunOnce
) -> BaseModel | Response:
    cmd = sprints.PlanSprint(
        actor,
        project_id,
        body.name,
        body.goal,
        story_ids=body.stories,
        capacity_points=body.capacity_points,
        start_date=body.start_date,
        end_date=body.end_date,
    )
    return await once(lambda: sprints.plan_sprint(uow, cmd), lambda s: SprintCreated(sprint_id=s.id))


@router.get("/projects/{project_id}/sprints")
async def list_sprints(project_id: UUID, actor: CurrentActor, uow: Uow) -> list[SprintOut]:
    return [SprintOut.of(s) for s in await sprints.list_sprints(uow, actor, project_id)]


@router.get("/projects/{project_id}/sprints/active")
async def active_sprint(project_id: UUID, actor: CurrentActor, uow: Uow) -> SprintOut:
    view = await sprints.active_sprint(uow, actor, project_id)
    return SprintOut.of(view.sprint, view)


@router.get("/sprints/{sprint_id}")
async def get_sprint(sprint_id: UUID, actor: CurrentActor, uow: Uow) -> SprintOut:
    view = await sprints.get_sprint(uow, actor, sprint_id)
    return SprintOut.of(view.sprint, view)


@router.patch("/sprints/{sprint_id}/status")
async def change_sprint_status(
    sprint_id: UUID, body: SprintStatusIn, actor: CurrentActor, uow: Uow
) -> SprintOut:
    cmd = sprints.ChangeSprintStatus(actor, sprint_id, SprintStatus.parse(body.status))
    return SprintOut.of(await sprints.change_sprint_status(uow, cmd))


@router.get("/sprints/{sprint_id}/tasks")
async def board(
    sprint_id: UUID,
    actor: CurrentActor,
    uow: Uow,
    status: Annotated[
        list[Annotated[str, status_filter(TaskStatus, many=True)]] | None,
        Query(description="task statuses, repeated or comma-separated; case-insensitive"),
    ] = None,
    group_by: Annotated[GroupBy, Query(alias="groupBy")] = GroupBy.STORY,
) -> BoardOut:
    statuses = (
        {TaskStatus.parse(part) for value in status for part in value.split(",") if part.strip()}
        if status
        else None
    )
    return BoardOut.of(await sprint_board(uow, actor, sprint_id, statuses or None, group_by))
