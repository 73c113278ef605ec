"""Projects."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Response
from pydantic import BaseModel

from sprintboard_backlog.application import projects
from sprintboard_backlog.entrypoints.http.dependencies import CurrentActor, Uow
from sprintboard_backlog.entrypoints.http.idempotency import RunOnce
from sprintboard_backlog.entrypoints.http.routes import API_PREFIX
from sprintboard_backlog.entrypoints.http.schemas import ProjectIn, ProjectOut

router = APIRouter(prefix=f"{API_PREFIX}/projects", tags=["projects"])


@router.post("", status_code=201, response_model=ProjectOut)
async def create_project(
    body: ProjectIn, actor: CurrentActor, uow: Uow, once: RunOnce
) -> BaseModel | Response:
    cmd = projects.CreateProject(actor, body.name, body.description)
    return await once(lambda: projects.create_project(uow, cmd), ProjectOut.of)


@router.get("")
async def list_projects(actor: CurrentActor, uow: Uow) -> list[ProjectOut]:
    return [ProjectOut.of(p) for p in await projects.list_projects(uow, actor)]


@router.get("/{project_id}")
async def get_project(project_id: UUID, actor: CurrentActor, uow: Uow) -> ProjectOut:
    return ProjectOut.of(await projects.get_project(uow, actor, project_id))
