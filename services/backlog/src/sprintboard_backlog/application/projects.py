"""Project use cases."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

from sprintboard_backlog.application.unit_of_work import UnitOfWork
from sprintboard_backlog.domain.errors import NotFound
from sprintboard_backlog.domain.project import Project
from sprintboard_backlog.domain.user import Actor


@dataclass(frozen=True, slots=True)
class CreateProject:
    actor: Actor
    name: str
    description: str | None = None


async def create_project(uow: UnitOfWork, cmd: CreateProject) -> Project:
    project = Project.create(cmd.actor, cmd.name, cmd.description, datetime.now(UTC))
    async with uow:
        await uow.projects.add(project)
        await uow.commit()
    return project


async def get_project(uow: UnitOfWork, actor: Actor, project_id: UUID) -> Project:
    async with uow:
        project = await uow.projects.get(actor.tenant_id, project_id)
    if project is None:
        raise NotFound(f"project {project_id} not found", code="project_not_found")
    return project


async def list_projects(uow: UnitOfWork, actor: Actor) -> list[Project]:
    async with uow:
        return await uow.projects.all(actor.tenant_id)
