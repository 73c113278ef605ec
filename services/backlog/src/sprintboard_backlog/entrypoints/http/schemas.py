"""Request bodies and response shapes (task JSON snake_case, as the reference system's clients expect)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from sprintboard_backlog.application.sprints import SprintView
from sprintboard_backlog.domain.project import Project
from sprintboard_backlog.domain.sprint import Sprint
from sprintboard_backlog.domain.story import AcceptanceCriterion, Story
from sprintboard_backlog.domain.task import Task


class Body(BaseModel):
    model_config = ConfigDict(extra="ignore")


class ProjectIn(Body):
    name: str = Field(min_length=1, max_length=255)
    description: str | None = None


class StoryIn(Body):
    title: str = Field(min_length=1, max_length=255)
    description: str | None = None
    labels: list[str] = Field(default_factory=list)
    story_points: int | None = Field(None, ge=1, le=8)


class StoryPatch(Body):
    title: str | None = Field(None, min_length=1, max_length=255)
    description: str | None = None
    labels: list[str] | None = None
    story_points: int | None = Field(None, ge=1, le=8)


class StatusIn(Body):
    status: str = Field(min_length=1, max_length=64)


class CriterionIn(Body):
    given: str = Field(min_length=1)
    when: str = Field(min_length=1)
    then: str = Field(min_length=1)


class SprintIn(Body):
    name: str = Field(min_length=1, max_length=255)
    goal: str = ""
    stories: list[UUID] = Field(default_factory=list)
    capacity_points: int | None = Field(None, gt=0)
    start_date: datetime | None = None
    end_date: datetime | None = None


class TaskIn(Body):
    title: str = Field(min_length=1, max_length=255)
    description: str | None = None
    acceptance_criteria_refs: list[str] = Field(min_length=1)
    estimated_hours: int | None = Field(None, ge=1, le=40)


class TaskPatch(Body):
    title: str | None = Field(None, min_length=1, max_length=255)
    description: str | None = None
    acceptance_criteria_refs: list[str] | None = Field(None, min_length=1)


class EstimateIn(Body):
    estimated_hours: int | None = Field(..., ge=1, le=40)


class ProjectOut(BaseModel):
    id: UUID
    organization_id: str | None
    name: str
    description: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, p: Project) -> ProjectOut:
        return cls(
            id=p.id,
            organization_id=p.org_id,
            name=p.name,
            description=p.description,
            created_at=p.created_at,
            updated_at=p.updated_at,
        )


class CriterionOut(BaseModel):
    id: str
    given: str
    when: str
    then: str
    description: str

    @classmethod
    def of(cls, c: AcceptanceCriterion) -> CriterionOut:
        return cls(id=c.id, given=c.given, when=c.when, then=c.then, description=c.description)


class StoryOut(BaseModel):
    id: UUID
    project_id: UUID
    title: str
    description: str | None
    status: str
    labels: list[str]
    acceptance_criteria: list[CriterionOut]
    story_points: int | None
    sprint_id: UUID | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, s: Story) -> StoryOut:
        return cls(
            id=s.id,
            project_id=s.project_id,
            title=s.title,
            description=s.description,
            status=s.status.value,
            labels=list(s.labels),
            acceptance_criteria=[CriterionOut.of(c) for c in s.acceptance_criteria],
            story_points=s.story_points,
            sprint_id=s.sprint_id,
            created_at=s.created_at,
            updated_at=s.updated_at,
        )


class TaskOut(BaseModel):
    id: UUID
    story_id: UUID
    title: str
    description: str | None
    acceptance_criteria_refs: list[str]
    status: str
    owner_user_id: UUID | None
    estimated_hours: int | None
    version: int
    created_at: datetime
    updated_at: datetime
    owned_at: datetime | None
    completed_at: datetime | None

    @classmethod
    def of(cls, t: Task) -> TaskOut:
        return cls(
            id=t.id,
            story_id=t.story_id,
            title=t.title,
            description=t.description,
            acceptance_criteria_refs=list(t.acceptance_criteria_refs),
            status=t.status.value,
            owner_user_id=t.owner_user_id,
            estimated_hours=t.estimated_hours,
            version=t.version,
            created_at=t.created_at,
            updated_at=t.updated_at,
            owned_at=t.owned_at,
            completed_at=t.completed_at,
        )


class TaskActionOut(BaseModel):
    success: bool = True
    message: str
    task: TaskOut


class SprintOut(BaseModel):
    id: UUID
    project_id: UUID
    name: str
    goal: str
    status: str
    capacity_points: int
    committed_points: int | None = None
    story_ids: list[UUID] | None = None
    start_date: datetime
    end_date: datetime
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, s: Sprint, view: SprintView | None = None) -> SprintOut:
        return cls(
            id=s.id,
            project_id=s.project_id,
            name=s.name,
            goal=s.goal,
            status=s.status.value,
            capacity_points=s.capacity_points,
            committed_points=view.committed_points if view else None,
            story_ids=[story.id for story in view.stories] if view else None,
            start_date=s.start_date,
            end_date=s.end_date,
            created_at=s.created_at,
            updated_at=s.updated_at,
        )


class UserOut(BaseModel):
    id: UUID
    name: str
    email: str | None


class MeOut(UserOut):
    subject: str
    organization_id: str | None
    tenant_id: str


class StoryCreated(BaseModel):
    story_id: UUID


class TaskCreated(BaseModel):
    task_id: UUID


class SprintCreated(BaseModel):
    sprint_id: UUID
