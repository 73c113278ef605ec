"""Sprint use cases: plan a sprint committing ready stories, look it up, move its status."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from uuid import UUID

from sprintboard_backlog.application.unit_of_work import StorySummary, UnitOfWork
from sprintboard_backlog.domain.errors import Conflict, NotFound
from sprintboard_backlog.domain.sprint import Sprint, SprintStatus
from sprintboard_backlog.domain.user import Actor


@dataclass(frozen=True, slots=True)
class PlanSprint:
    actor: Actor
    project_id: UUID
    name: str
    goal: str
    story_ids: Sequence[UUID] = field(default_factory=tuple)
    capacity_points: int | None = None
    start_date: datetime | None = None
    end_date: datetime | None = None


@dataclass(frozen=True, slots=True)
class ChangeSprintStatus:
    actor: Actor
    sprint_id: UUID
    status: SprintStatus


@dataclass(frozen=True, slots=True)
class SprintView:
    sprint: Sprint
    stories: list[StorySummary]

    @property
    def committed_points(self) -> int:
        return sum(story.story_points or 0 for story in self.stories)


def _sprint_not_found(sprint_id: UUID) -> NotFound:
    return NotFound(f"sprint {sprint_id} not found", code="sprint_not_found")


async def plan_sprint(uow: UnitOfWork, cmd: PlanSprint) -> Sprint:
    tenant = cmd.actor.tenant_id
    story_ids = list(dict.fromkeys(cmd.story_ids))
    async with uow:
        if await uow.projects.get(tenant, cmd.project_id) is None:
            raise NotFound(f"project {cmd.project_id} not found", code="project_not_found")
        stories = await uow.stories.get_many(tenant, story_ids)
        missing = set(story_ids) - {story.id for story in stories}
        if missing:
            raise NotFound(
                "stories not found", code="story_not_found", details={"story_ids": sorted(map(str, missing))}
            )
        elsewhere = [str(story.id) for story in stories if story.project_id != cmd.project_id]
        if elsewhere:
            raise Conflict(
                "stories belong to another project",
                code="story_not_in_project",
                details={"story_ids": elsewhere},
            )
        active = await uow.sprints.active(tenant, cmd.project_id)
        sprint = Sprint.plan(
            cmd.actor,
            project_id=cmd.project_id,
            name=cmd.name,
            goal=cmd.goal,
            stories=stories,
            capacity_points=cmd.capacity_points,
            start_date=cmd.start_date,
            end_date=cmd.end_date,
            may_activate=active is None,
            now=datetime.now(UTC),
        )
        await uow.sprints.add(sprint)
        for story in stories:
            await uow.stories.update(story)
        await uow.commit()
    return sprint


async def get_sprint(uow: UnitOfWork, actor: Actor, sprint_id: UUID) -> SprintView:
    async with uow:
        sprint = await uow.sprints.get(actor.tenant_id, sprint_id)
        if sprint is None:
            raise _sprint_not_found(sprint_id)
        return SprintView(sprint, await uow.stories.in_sprint(actor.tenant_id, sprint_id))


async def active_sprint(uow: UnitOfWork, actor: Actor, project_id: UUID) -> SprintView:
    async with uow:
        if await uow.projects.get(actor.tenant_id, project_id) is None:
            raise NotFound(f"project {project_id} not found", code="project_not_found")
        sprint = await uow.sprints.active(actor.tenant_id, project_id)
        if sprint is None:
            raise NotFound(f"project {project_id} has no active sprint", code="no_active_sprint")
        return SprintView(sprint, await uow.stories.in_sprint(actor.tenant_id, sprint.id))


async def list_sprints(uow: UnitOfWork, actor: Actor, project_id: UUID) -> list[Sprint]:
    async with uow:
        if await uow.projects.get(actor.tenant_id, project_id) is None:
            raise NotFound(f"project {project_id} not found", code="project_not_found")
        return await uow.sprints.for_project(actor.tenant_id, project_id)


async def change_sprint_status(uow: UnitOfWork, cmd: ChangeSprintStatus) -> Sprint:
    async with uow:
        sprint = await uow.sprints.get(cmd.actor.tenant_id, cmd.sprint_id, for_update=True)
        if sprint is None:
            raise _sprint_not_found(cmd.sprint_id)
        active = await uow.sprints.active(cmd.actor.tenant_id, sprint.project_id)
        other_active = active is not None and active.id != sprint.id
        if sprint.change_status(cmd.status, datetime.now(UTC), other_active=other_active):
            await uow.sprints.update(sprint)
            await uow.commit()
    return sprint
