"""Tasks in PostgreSQL with Core statements: reads, and writes deferred to commit (conditional on version)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from sqlalchemy import Executable, Select, bindparam, insert, select, update

from sprintboard_backlog.adapters.outbox import with_outbox_row
from sprintboard_backlog.adapters.tables import stories, tasks
from sprintboard_backlog.adapters.transaction import DriverStatement, LazyTransaction
from sprintboard_backlog.domain.events import TaskStatus
from sprintboard_backlog.domain.task import Task

_COLUMNS = (*tasks.c, stories.c.sprint_id)


def _task(row: Any) -> Task:
    m = getattr(row, "_mapping", row)  # a SQLAlchemy row, or an asyncpg record from the driver
    return Task(
        id=m["id"],
        tenant_id=m["tenant_id"],
        project_id=m["project_id"],
        story_id=m["story_id"],
        sprint_id=m["sprint_id"],
        title=m["title"],
        description=m["description"],
        acceptance_criteria_refs=tuple(m["acceptance_criteria_refs"]),
        status=TaskStatus(m["status"]),
        owner_user_id=m["owner_user_id"],
        estimated_hours=m["estimated_hours"],
        version=m["version"],
        created_at=m["created_at"],
        updated_at=m["updated_at"],
        owned_at=m["owned_at"],
        completed_at=m["completed_at"],
    )


def _select(tenant_id: Any) -> Select[Any]:
    return (
        select(*_COLUMNS)
        .select_from(tasks.join(stories, stories.c.id == tasks.c.story_id))
        .where(tasks.c.tenant_id == tenant_id, stories.c.deleted_at.is_(None))
    )


# Statements are built once with bound parameters, so a request only binds values.
_MUTABLE = (
    "title",
    "description",
    "acceptance_criteria_refs",
    "status",
    "owner_user_id",
    "estimated_hours",
    "updated_at",
    "owned_at",
    "completed_at",
)
_GET = _select(bindparam("b_tenant_id")).where(tasks.c.id == bindparam("b_task_id"))
_GET_FOR_UPDATE = _GET.with_for_update(of=tasks)
_INSERT = insert(tasks).values(
    {
        name: bindparam(f"b_{name}")
        for name in ("id", "tenant_id", "project_id", "story_id", "version", "created_at")
    }
    | {name: bindparam(f"b_{name}") for name in _MUTABLE}
)
# The conditional update: it applies only while the row is still the version the domain decided from
# (every change bumps it), so of concurrent changes (twenty takes of one task, say) exactly one wins.
_UPDATE = (
    update(tasks)
    .where(
        tasks.c.id == bindparam("b_id"),
        tasks.c.tenant_id == bindparam("b_tenant_id"),
        tasks.c.version == bindparam("b_previous_version"),
    )
    .values({"version": bindparam("b_version")} | {name: bindparam(f"b_{name}") for name in _MUTABLE})
)
_INSERT_WITH_OUTBOX = with_outbox_row(_INSERT.returning(tasks.c.id))
_UPDATE_WITH_OUTBOX = with_outbox_row(_UPDATE.returning(tasks.c.id))


_GET_ON_DRIVER = DriverStatement(_GET)
_INSERT_WITH_OUTBOX_ON_DRIVER = DriverStatement(_INSERT_WITH_OUTBOX)
_UPDATE_WITH_OUTBOX_ON_DRIVER = DriverStatement(_UPDATE_WITH_OUTBOX)


@dataclass(frozen=True, slots=True)
class DeferredTaskWrite:
    """A task row `add`/`update` leave for the unit of work's commit to write: by itself inside the
    transaction (`statement`), or in one statement together with its event's outbox row
    (`with_outbox_row`)."""

    task_id: UUID
    statement: Executable
    with_outbox_row: DriverStatement
    params: dict[str, Any]


class SqlTaskRepository:
    def __init__(self, tx: LazyTransaction) -> None:
        self._tx = tx
        self.deferred: list[DeferredTaskWrite] = []

    async def add(self, task: Task) -> None:
        params = {f"b_{name}": value for name, value in self._mutable(task).items()}
        params.update(
            b_id=task.id,
            b_tenant_id=task.tenant_id,
            b_project_id=task.project_id,
            b_story_id=task.story_id,
            b_version=task.version,
            b_created_at=task.created_at,
        )
        self.deferred.append(DeferredTaskWrite(task.id, _INSERT, _INSERT_WITH_OUTBOX_ON_DRIVER, params))

    async def get(self, tenant_id: str, task_id: UUID, *, for_update: bool = False) -> Task | None:
        params = {"b_tenant_id": tenant_id, "b_task_id": task_id}
        if for_update:
            row = (await self._tx.write(_GET_FOR_UPDATE, params)).first()
        else:
            row = await self._tx.fetch_row(_GET_ON_DRIVER, params)
        return _task(row) if row is not None else None

    async def update(self, task: Task) -> None:
        params = {f"b_{name}": value for name, value in self._mutable(task).items()}
        params.update(
            b_id=task.id,
            b_tenant_id=task.tenant_id,
            b_previous_version=task.version - 1,
            b_version=task.version,
        )
        self.deferred.append(DeferredTaskWrite(task.id, _UPDATE, _UPDATE_WITH_OUTBOX_ON_DRIVER, params))

    async def for_story(self, tenant_id: str, story_id: UUID, status: TaskStatus | None = None) -> list[Task]:
        stmt = _select(tenant_id).where(tasks.c.story_id == story_id)
        if status is not None:
            stmt = stmt.where(tasks.c.status == status.value)
        rows = await self._tx.read(stmt.order_by(tasks.c.created_at, tasks.c.id))
        return [_task(row) for row in rows]

    async def owned_by(self, tenant_id: str, owner_user_id: UUID) -> list[Task]:
        stmt = _select(tenant_id).where(tasks.c.owner_user_id == owner_user_id)
        rows = await self._tx.read(stmt.order_by(tasks.c.owned_at, tasks.c.id))
        return [_task(row) for row in rows]

    async def for_sprint(self, tenant_id: str, sprint_id: UUID) -> list[Task]:
        stmt = _select(tenant_id).where(stories.c.sprint_id == sprint_id)
        order = (stories.c.created_at, stories.c.id, tasks.c.created_at, tasks.c.id)
        rows = await self._tx.read(stmt.order_by(*order))
        return [_task(row) for row in rows]

    @staticmethod
    def _mutable(task: Task) -> dict[str, Any]:
        return {
            "title": task.title,
            "description": task.description,
            "acceptance_criteria_refs": list(task.acceptance_criteria_refs),
            "status": task.status.value,
            "owner_user_id": task.owner_user_id,
            "estimated_hours": task.estimated_hours,
            "updated_at": task.updated_at,
            "owned_at": task.owned_at,
            "completed_at": task.completed_at,
        }
