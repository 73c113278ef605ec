"""Story use cases: create, edit, soft delete, status workflow and acceptance criteria."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from sprintboard_backlog.application.unit_of_work import UnitOfWork
from sprintboard_backlog.domain.errors import NotFound
from sprintboard_backlog.domain.story import UNSET, AcceptanceCriterion, Story, StoryStatus
from sprintboard_backlog.domain.user import Actor


@dataclass(frozen=True, slots=True)
class CreateStory:
    actor: Actor
    project_id: UUID
    title: str
    description: str | None = None
    labels: Sequence[str] = field(default_factory=tuple)
    story_points: int | None = None


@dataclass(frozen=True, slots=True)
class UpdateStory:
    actor: Actor
    story_id: UUID
    title: str = UNSET
    description: str | None = UNSET
    labels: Sequence[str] = UNSET
    story_points: int | None = UNSET


@dataclass(frozen=True, slots=True)
class ChangeStoryStatus:
    actor: Actor
    story_id: UUID
    status: StoryStatus


@dataclass(frozen=True, slots=True)
class AddAcceptanceCriterion:
    actor: Actor
    story_id: UUID
    given: str
    when: str
    then: str


def _story_not_found(story_id: UUID) -> NotFound:
    return NotFound(f"story {story_id} not found", code="story_not_found")


async def create_story(uow: UnitOfWork, cmd: CreateStory) -> Story:
    async with uow:
        if await uow.projects.get(cmd.actor.tenant_id, cmd.project_id) is None:
            raise NotFound(f"project {cmd.project_id} not found", code="project_not_found")
        story = Story.create(
            cmd.actor,
            project_id=cmd.project_id,
            title=cmd.title,
            description=cmd.description,
            labels=cmd.labels,
            story_points=cmd.story_points,
            now=datetime.now(UTC),
        )
        await uow.stories.add(story)
        await uow.commit()
    return story


async def get_story(uow: UnitOfWork, actor: Actor, story_id: UUID) -> Story:
    async with uow:
        story = await uow.stories.get(actor.tenant_id, story_id)
    if story is None:
        raise _story_not_found(story_id)
    return story


async def list_stories(
    uow: UnitOfWork, actor: Actor, project_id: UUID, status: StoryStatus | None, sprint_id: UUID | None
) -> list[Story]:
    async with uow:
        if await uow.projects.get(actor.tenant_id, project_id) is None:
            raise NotFound(f"project {project_id} not found", code="project_not_found")
        return await uow.stories.search(actor.tenant_id, project_id, status, sprint_id)


async def _edit(
    uow: UnitOfWork, actor: Actor, story_id: UUID, edit: Callable[[Story, datetime], object]
) -> tuple[Story, object]:
    """Lock, edit, write; an edit returning False was a no-op and writes nothing."""
    async with uow:
        story = await uow.stories.get(actor.tenant_id, story_id, for_update=True)
        if story is None:
            raise _story_not_found(story_id)
        result = edit(story, datetime.now(UTC))
        if result is not False:
            await uow.stories.update(story)
            await uow.commit()
    return story, result


async def update_story(uow: UnitOfWork, cmd: UpdateStory) -> Story:
    changes: dict[str, Any] = {
        name: value
        for name in ("title", "description", "labels", "story_points")
        if (value := getattr(cmd, name)) is not UNSET
    }
    story, _ = await _edit(uow, cmd.actor, cmd.story_id, lambda s, now: s.update(now, **changes))
    return story


async def change_story_status(uow: UnitOfWork, cmd: ChangeStoryStatus) -> Story:
    story, _ = await _edit(uow, cmd.actor, cmd.story_id, lambda s, now: s.change_status(cmd.status, now))
    return story


async def add_acceptance_criterion(uow: UnitOfWork, cmd: AddAcceptanceCriterion) -> AcceptanceCriterion:
    _, criterion = await _edit(
        uow, cmd.actor, cmd.story_id, lambda s, now: s.add_criterion(cmd.given, cmd.when, cmd.then, now)
    )
    assert isinstance(criterion, AcceptanceCriterion)
    return criterion


async def delete_story(uow: UnitOfWork, actor: Actor, story_id: UUID) -> None:
    async with uow:
        if not await uow.stories.delete(actor.tenant_id, story_id, datetime.now(UTC)):
            raise _story_not_found(story_id)
        await uow.commit()
