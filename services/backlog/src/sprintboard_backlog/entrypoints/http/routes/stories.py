"""Stories: CRUD with soft delete, status workflow, acceptance criteria."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel

from sprintboard_backlog.application import stories
from sprintboard_backlog.domain.story import StoryStatus
from sprintboard_backlog.entrypoints.http.dependencies import CurrentActor, Uow
from sprintboard_backlog.entrypoints.http.idempotency import RunOnce
from sprintboard_backlog.entrypoints.http.routes import API_PREFIX
from sprintboard_backlog.entrypoints.http.schemas import (
    CriterionIn,
    CriterionOut,
    StoryCreated,
    StoryIn,
    StoryOut,
    StoryPatch,
    StoryStatusIn,
    status_filter,
)

router = APIRouter(prefix=API_PREFIX, tags=["stories"])


@router.post("/projects/{project_id}/stories", status_code=201, response_model=StoryCreated)
async def create_story(
    project_id: UUID, body: StoryIn, actor: CurrentActor, uow: Uow, once: RunOnce
) -> BaseModel | Response:
    cmd = stories.CreateStory(
        actor,
        project_id,
        body.title,
        description=body.description,
        labels=body.labels,
        story_points=body.story_points,
    )
    return await once(lambda: stories.create_story(uow, cmd), lambda s: StoryCreated(story_id=s.id))


@router.get("/projects/{project_id}/stories")
async def list_stories(
    project_id: UUID,
    actor: CurrentActor,
    uow: Uow,
    status: Annotated[
        Annotated[str, status_filter(StoryStatus, many=False)] | None,
        Query(max_length=64, description="a story status; case-insensitive"),
    ] = None,
    sprint_id: Annotated[UUID | None, Query(alias="sprintId")] = None,
) -> list[StoryOut]:
    parsed = StoryStatus.parse(status) if status else None
    found = await stories.list_stories(uow, actor, project_id, parsed, sprint_id)
    return [StoryOut.of(s) for s in found]


@router.get("/stories/{story_id}")
async def get_story(story_id: UUID, actor: CurrentActor, uow: Uow) -> StoryOut:
    return StoryOut.of(await stories.get_story(uow, actor, story_id))


@router.patch("/stories/{story_id}")
async def update_story(story_id: UUID, body: StoryPatch, actor: CurrentActor, uow: Uow) -> StoryOut:
    # A null title or labels means "leave as is"; a null description or story_points clears it.
    changes = {
        name: value
        for name in body.model_fields_set
        if (value := getattr(body, name)) is not None or name in ("description", "story_points")
    }
    story = await stories.update_story(uow, stories.UpdateStory(actor, story_id, **changes))
    return StoryOut.of(story)


@router.delete("/stories/{story_id}", status_code=204)
async def delete_story(story_id: UUID, actor: CurrentActor, uow: Uow) -> Response:
    await stories.delete_story(uow, actor, story_id)
    return Response(status_code=204)


@router.patch("/stories/{story_id}/status")
async def change_story_status(story_id: UUID, body: StoryStatusIn, actor: CurrentActor, uow: Uow) -> StoryOut:
    cmd = stories.ChangeStoryStatus(actor, story_id, StoryStatus.parse(body.status))
    return StoryOut.of(await stories.change_story_status(uow, cmd))


@router.get("/stories/{story_id}/acceptance-criteria")
async def list_criteria(story_id: UUID, actor: CurrentActor, uow: Uow) -> list[CriterionOut]:
    story = await stories.get_story(uow, actor, story_id)
    return [CriterionOut.of(c) for c in story.acceptance_criteria]


@router.post("/stories/{story_id}/acceptance-criteria", status_code=201, response_model=CriterionOut)
async def add_criterion(
    story_id: UUID, body: CriterionIn, actor: CurrentActor, uow: Uow, once: RunOnce
) -> BaseModel | Response:
    cmd = stories.AddAcceptanceCriterion(actor, story_id, body.given, body.when, body.then)
    return await once(lambda: stories.add_acceptance_criterion(uow, cmd), CriterionOut.of)
