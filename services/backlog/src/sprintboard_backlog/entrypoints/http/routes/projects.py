"""Projects."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter

from sprintboard_backlog.application import projects
from sprintboard_backlog.entrypoints.http.dependencies import CurrentActor, Uow
from sprintboard_backlog.entrypoints.http.routes import API_PREFIX
from sprintboard_backlog.entrypoints.http.schemas import ProjectIn, ProjectOut

router = APIRouter(prefix=f"{API_PREFIX}/projects", tags=["projects"])


@router.post("", status_code=201)
async def create_project(body: ProjectIn, actor: CurrentActor, uow: Uow) -> ProjectOut:
    project = await projects.create_project(uow, projects.CreateProject(actor, body.name, body.description))
    return ProjectOut.of(project)


@router.get("")
async def list_projects(actor: CurrentActor, uow: Uow) -> list[ProjectOut]:
    return [ProjectOut.of(p) for p in await projects.list_projects(uow, actor)]


@router.get("/{project_id}")
async def get_project(project_id: UUID, actor: CurrentActor, uow: Uow) -> ProjectOut:
    return ProjectOut.of(await projects.get_project(uow, actor, project_id))
