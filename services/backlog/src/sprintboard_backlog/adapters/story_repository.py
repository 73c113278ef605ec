"""Stories in PostgreSQL: criteria as JSONB, labels as text[], soft delete."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Select, insert, select, update

from sprintboard_backlog.adapters.tables import stories
from sprintboard_backlog.adapters.transaction import LazyTransaction
from sprintboard_backlog.application.unit_of_work import StorySummary
from sprintboard_backlog.domain.story import AcceptanceCriterion, Story, StoryStatus


def _story(row: Any) -> Story:
    m = row._mapping
    return Story(
        id=m["id"],
        tenant_id=m["tenant_id"],
        project_id=m["project_id"],
        title=m["title"],
        description=m["description"],
        status=StoryStatus(m["status"]),
        labels=tuple(m["labels"]),
        acceptance_criteria=tuple(AcceptanceCriterion(**c) for c in m["acceptance_criteria"]),
        story_points=m["story_points"],
        sprint_id=m["sprint_id"],
        created_at=m["created_at"],
        updated_at=m["updated_at"],
    )


def _live(tenant_id: str) -> Select[Any]:
    return select(stories).where(stories.c.tenant_id == tenant_id, stories.c.deleted_at.is_(None))


def _values(story: Story) -> dict[str, Any]:
    return {
        "title": story.title,
        "description": story.description,
        "status": story.status.value,
        "labels": list(story.labels),
        "acceptance_criteria": [
            {"id": c.id, "given": c.given, "when": c.when, "then": c.then} for c in story.acceptance_criteria
        ],
        "story_points": story.story_points,
        "sprint_id": story.sprint_id,
        "updated_at": story.updated_at,
    }


class SqlStoryRepository:
    def __init__(self, tx: LazyTransaction) -> None:
        self._tx = tx

    async def add(self, story: Story) -> None:
        await self._tx.write(
            insert(stories).values(
                id=story.id,
                tenant_id=story.tenant_id,
                project_id=story.project_id,
                created_at=story.created_at,
                **_values(story),
            )
        )

    async def get(self, tenant_id: str, story_id: UUID, *, for_update: bool = False) -> Story | None:
        stmt = _live(tenant_id).where(stories.c.id == story_id)
        if for_update:
            stmt = stmt.with_for_update()
        row = (await (self._tx.write if for_update else self._tx.read)(stmt)).first()
        return _story(row) if row is not None else None

    async def get_many(self, tenant_id: str, story_ids: Sequence[UUID]) -> list[Story]:
        if not story_ids:
            return []
        stmt = _live(tenant_id).where(stories.c.id.in_(story_ids)).order_by(stories.c.id).with_for_update()
        return [_story(row) for row in await self._tx.write(stmt)]

    async def search(
        self, tenant_id: str, project_id: UUID, status: StoryStatus | None, sprint_id: UUID | None
    ) -> list[Story]:
        stmt = _live(tenant_id).where(stories.c.project_id == project_id)
        if status is not None:
            stmt = stmt.where(stories.c.status == status.value)
        if sprint_id is not None:
            stmt = stmt.where(stories.c.sprint_id == sprint_id)
        rows = await self._tx.read(stmt.order_by(stories.c.created_at, stories.c.id))
        return [_story(row) for row in rows]

    async def in_sprint(self, tenant_id: str, sprint_id: UUID) -> list[StorySummary]:
        stmt = (
            select(stories.c.id, stories.c.title, stories.c.story_points)
            .where(
                stories.c.tenant_id == tenant_id,
                stories.c.sprint_id == sprint_id,
                stories.c.deleted_at.is_(None),
            )
            .order_by(stories.c.created_at, stories.c.id)
        )
        return [StorySummary(r.id, r.title, r.story_points) for r in await self._tx.read(stmt)]

    async def update(self, story: Story) -> None:
        await self._tx.write(
            update(stories)
            .where(stories.c.id == story.id, stories.c.tenant_id == story.tenant_id)
            .values(**_values(story))
        )

    async def delete(self, tenant_id: str, story_id: UUID, now: datetime) -> bool:
        result = await self._tx.write(
            update(stories)
            .where(stories.c.id == story_id, stories.c.tenant_id == tenant_id, stories.c.deleted_at.is_(None))
            .values(deleted_at=now, updated_at=now)
        )
        return result.rowcount == 1
