"""Projects in PostgreSQL."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import insert, select

from sprintboard_backlog.adapters.tables import projects
from sprintboard_backlog.adapters.transaction import LazyTransaction
from sprintboard_backlog.domain.project import Project


def _project(row: Any) -> Project:
    return Project(**row._mapping)


class SqlProjectRepository:
    def __init__(self, tx: LazyTransaction) -> None:
        self._tx = tx

    async def add(self, project: Project) -> None:
        await self._tx.write(
            insert(projects).values(
                id=project.id,
                tenant_id=project.tenant_id,
                org_id=project.org_id,
                name=project.name,
                description=project.description,
                created_at=project.created_at,
                updated_at=project.updated_at,
            )
        )

    async def get(self, tenant_id: str, project_id: UUID) -> Project | None:
        stmt = select(projects).where(projects.c.tenant_id == tenant_id, projects.c.id == project_id)
        row = (await self._tx.read(stmt)).first()
        return _project(row) if row is not None else None

    async def all(self, tenant_id: str) -> list[Project]:
        stmt = select(projects).where(projects.c.tenant_id == tenant_id).order_by(projects.c.created_at)
        return [_project(row) for row in await self._tx.read(stmt)]
