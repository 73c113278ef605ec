"""Request bodies and response shapes (task JSON snake_case, as the reference system's clients expect)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, WithJsonSchema

from sprintboard_backlog.application.sprints import SprintView
from sprintboard_backlog.domain.events import TaskStatus
from sprintboard_backlog.domain.project import Project
from sprintboard_backlog.domain.sprint import Sprint, SprintStatus
from sprintboard_backlog.domain.story import AcceptanceCriterion, Story, StoryStatus
from sprintboard_backlog.domain.task import Task

# PostgreSQL text cannot hold NUL: such input is refused here (422, and the schema says so) rather than
# failing in the database.
Text = Annotated[str, StringConstraints(pattern=r"^[^\x00]*$")]
# Names, titles, references and criteria are trimmed: blank ones are refused, and the schema says so.
# Whitespace as `str.strip()` sees it, spelled out: regex engines disagree on what `\s` covers.
_SPACE = r"\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
NonBlank = Annotated[str, StringConstraints(pattern=rf"^[^\x00]*[^\x00{_SPACE}][^\x00]*$")]
MAX_INT = 2**31 - 1  # what a PostgreSQL integer column holds


def documented_values(values: type[StrEnum]) -> dict[str, Any]:
    """The canonical values, for the OpenAPI document; parsing stays lenient (case, `_` and `-`)."""
    return {
        "enum": [v.value for v in values],
        "description": "case-insensitive; `_` and `-` are ignored (`in_progress` is `inprogress`)",
    }


def status_filter(values: type[StrEnum], many: bool) -> WithJsonSchema:
    """A query filter's document: empty (no filter) or canonical values, comma-separated when `many`.
    Only the document: parsing stays lenient, as for bodies."""
    one = "|".join(v.value for v in values)
    pattern = f"^(({one})(,({one}))*)?$" if many else f"^({one})?$"
    return WithJsonSchema({"type": "string", "pattern": pattern})


class Body(BaseModel):
    model_config = ConfigDict(extra="ignore")


class ProjectIn(Body):
    name: NonBlank = Field(min_length=1, max_length=255)
    description: Text | None = None


class StoryIn(Body):
    title: NonBlank = Field(min_length=1, max_length=255)
    description: Text | None = None
    labels: list[Text] = Field(default_factory=list)
    story_points: int | None = Field(None, ge=1, le=8)


class StoryPatch(Body):
    title: NonBlank | None = Field(None, min_length=1, max_length=255)
    description: Text | None = None
    labels: list[Text] | None = None
    story_points: int | None = Field(None, ge=1, le=8)


class StatusIn(Body):
    status: Text = Field(min_length=1, max_length=64)


class TaskStatusIn(StatusIn):
    status: Text = Field(min_length=1, max_length=64, json_schema_extra=documented_values(TaskStatus))


class StoryStatusIn(StatusIn):
    status: Text = Field(min_length=1, max_length=64, json_schema_extra=documented_values(StoryStatus))


class SprintStatusIn(StatusIn):
    status: Text = Field(min_length=1, max_length=64, json_schema_extra=documented_values(SprintStatus))


class CriterionIn(Body):
    given: NonBlank = Field(min_length=1)
    when: NonBlank = Field(min_length=1)
    then: NonBlank = Field(min_length=1)


class SprintIn(Body):
    name: NonBlank = Field(min_length=1, max_length=255)
    goal: Text = ""
    stories: list[UUID] = Field(default_factory=list)
    capacity_points: int | None = Field(None, gt=0, le=MAX_INT)
    # With an offset: a naive time cannot be compared with the server's clock (it was a 500).
    start_date: AwareDatetime | None = None
    end_date: AwareDatetime | None = None


class TaskIn(Body):
    title: NonBlank = Field(min_length=1, max_length=255)
    description: Text | None = None
    acceptance_criteria_refs: list[NonBlank] = Field(min_length=1)
    estimated_hours: int | None = Field(None, ge=1, le=40)


class TaskPatch(Body):
    title: NonBlank | None = Field(None, min_length=1, max_length=255)
    description: Text | None = None
    acceptance_criteria_refs: list[NonBlank] | None = Field(None, min_length=1)


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
