"""Task events: what a committed change of a task did, recorded by the task aggregate (past tense)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from uuid import UUID, uuid4

from sprintboard_backlog.domain.errors import ValidationFailed


class TaskStatus(StrEnum):
    AVAILABLE = "available"
    OWNED = "owned"
    INPROGRESS = "inprogress"
    COMPLETED = "completed"

    @classmethod
    def parse(cls, value: str) -> TaskStatus:
        """Case-insensitive, `_` and `-` ignored (`in_progress` is `inprogress`)."""
        key = value.strip().lower().replace("_", "").replace("-", "")
        try:
            return cls(key)
        except ValueError:
            allowed = ", ".join(s.value for s in cls)
            raise ValidationFailed(f"unknown task status {value!r}; expected one of {allowed}") from None


@dataclass(frozen=True, kw_only=True, slots=True)
class TaskEvent:
    """Something that happened to a task, with where it belongs (tenant, project, sprint, story)."""

    event_id: UUID = field(default_factory=uuid4)
    occurred_at: datetime
    tenant_id: str
    org_id: str | None
    project_id: UUID
    sprint_id: UUID | None
    story_id: UUID
    task_id: UUID
    task_version: int
    actor_user_id: UUID
    status: TaskStatus


@dataclass(frozen=True, kw_only=True, slots=True)
class OwnershipTaken(TaskEvent):
    owner_user_id: UUID


@dataclass(frozen=True, kw_only=True, slots=True)
class OwnershipReleased(TaskEvent):
    previous_owner_user_id: UUID


@dataclass(frozen=True, kw_only=True, slots=True)
class StatusChanged(TaskEvent):
    old_status: TaskStatus
    new_status: TaskStatus
    changed_by_user_id: UUID


@dataclass(frozen=True, kw_only=True, slots=True)
class TaskCreated(TaskEvent):
    title: str
    description: str | None
    acceptance_criteria_refs: tuple[str, ...]
    estimated_hours: int | None


@dataclass(frozen=True, kw_only=True, slots=True)
class TaskUpdated(TaskEvent):
    title: str
    description: str | None
    acceptance_criteria_refs: tuple[str, ...]
    estimated_hours: int | None
    owner_user_id: UUID | None
