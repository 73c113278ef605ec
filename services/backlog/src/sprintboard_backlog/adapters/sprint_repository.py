"""Sprints in PostgreSQL; a partial unique index keeps one active sprint per project."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from sprintboard_backlog.adapters.tables import sprints
from sprintboard_backlog.adapters.transaction import LazyTransaction
from sprintboard_backlog.domain.errors import Conflict
from sprintboard_backlog.domain.sprint import Sprint, SprintStatus

ONE_ACTIVE_INDEX = "sprints_one_active_per_project"


def _sprint(row: Any) -> Sprint:
    m = dict(row._mapping)
    return Sprint(**{**m, "status": SprintStatus(m["status"])})


def _values(sprint: Sprint) -> dict[str, Any]:
    return {
        "name": sprint.name,
        "goal": sprint.goal,
        "status": sprint.status.value,
        "capacity_points": sprint.capacity_points,
        "start_date": sprint.start_date,
        "end_date": sprint.end_date,
        "updated_at": sprint.updated_at,
    }


class SqlSprintRepository:
    def __init__(self, tx: LazyTransaction) -> None:
        self._tx = tx

    async def add(self, sprint: Sprint) -> None:
        stmt = insert(sprints).values(
            id=sprint.id,
            tenant_id=sprint.tenant_id,
            project_id=sprint.project_id,
            created_at=sprint.created_at,
            **_values(sprint),
        )
        await self._write(stmt)

    async def get(self, tenant_id: str, sprint_id: UUID, *, for_update: bool = False) -> Sprint | None:
        stmt = select(sprints).where(sprints.c.tenant_id == tenant_id, sprints.c.id == sprint_id)
        if for_update:
            stmt = stmt.with_for_update()
        row = (await (self._tx.write if for_update else self._tx.read)(stmt)).first()
        return _sprint(row) if row is not None else None

    async def active(self, tenant_id: str, project_id: UUID) -> Sprint | None:
        stmt = select(sprints).where(
            sprints.c.tenant_id == tenant_id,
            sprints.c.project_id == project_id,
            sprints.c.status == SprintStatus.ACTIVE.value,
        )
        row = (await self._tx.read(stmt)).first()
        return _sprint(row) if row is not None else None

    async def for_project(self, tenant_id: str, project_id: UUID) -> list[Sprint]:
        stmt = (
            select(sprints)
            .where(sprints.c.tenant_id == tenant_id, sprints.c.project_id == project_id)
            .order_by(sprints.c.start_date, sprints.c.created_at)
        )
        return [_sprint(row) for row in await self._tx.read(stmt)]

    async def update(self, sprint: Sprint) -> None:
        stmt = (
            update(sprints)
            .where(sprints.c.id == sprint.id, sprints.c.tenant_id == sprint.tenant_id)
            .values(**_values(sprint))
        )
        await self._write(stmt)

    async def _write(self, stmt: Any) -> None:
        try:
            await self._tx.write(stmt)
        except IntegrityError as exc:
            # A concurrent request activated another sprint of the project first.
            if ONE_ACTIVE_INDEX in str(exc.orig):
                raise Conflict(
                    "the project already has an active sprint", code="active_sprint_exists"
                ) from exc
            raise
