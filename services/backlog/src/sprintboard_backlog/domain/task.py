"""The task aggregate: ownership and work status rules, and the events each change records."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID, uuid4

from sprintboard_backlog.domain.errors import Conflict, Forbidden, ValidationFailed
from sprintboard_backlog.domain.events import (
    OwnershipReleased,
    OwnershipTaken,
    StatusChanged,
    TaskCreated,
    TaskEvent,
    TaskStatus,
    TaskUpdated,
)
from sprintboard_backlog.domain.project import clean_title
from sprintboard_backlog.domain.user import Actor

MIN_ESTIMATE_HOURS = 1
MAX_ESTIMATE_HOURS = 40
UNSET: Any = object()  # a field not given in an update, as opposed to one set to None


def clean_refs(refs: Sequence[str]) -> tuple[str, ...]:
    """Acceptance criteria references: at least one, none blank, duplicates dropped."""
    cleaned = tuple(dict.fromkeys(ref.strip() for ref in refs))
    if not cleaned or any(not ref for ref in cleaned):
        raise ValidationFailed(
            "acceptance_criteria_refs must be a non-empty list of non-blank references",
            details=[{"field": "acceptance_criteria_refs", "reason": "empty_or_blank"}],
        )
    return cleaned


def check_estimate(hours: int | None) -> int | None:
    if hours is not None and not MIN_ESTIMATE_HOURS <= hours <= MAX_ESTIMATE_HOURS:
        raise ValidationFailed(
            f"estimated_hours must be {MIN_ESTIMATE_HOURS}..{MAX_ESTIMATE_HOURS}",
            details=[{"field": "estimated_hours", "reason": "out_of_range"}],
        )
    return hours


E = TypeVar("E", bound=TaskEvent)


@dataclass(slots=True)
class Task:
    id: UUID
    tenant_id: str
    project_id: UUID
    story_id: UUID
    sprint_id: UUID | None  # the story's sprint, carried for events
    title: str
    description: str | None
    acceptance_criteria_refs: tuple[str, ...]
    status: TaskStatus
    owner_user_id: UUID | None
    estimated_hours: int | None
    version: int
    created_at: datetime
    updated_at: datetime
    owned_at: datetime | None = None
    completed_at: datetime | None = None

    @classmethod
    def create(
        cls,
        actor: Actor,
        *,
        project_id: UUID,
        story_id: UUID,
        sprint_id: UUID | None,
        title: str,
        description: str | None,
        acceptance_criteria_refs: Sequence[str],
        estimated_hours: int | None,
        now: datetime,
    ) -> tuple[Task, TaskCreated]:
        task = cls(
            id=uuid4(),
            tenant_id=actor.tenant_id,
            project_id=project_id,
            story_id=story_id,
            sprint_id=sprint_id,
            title=clean_title(title),
            description=description,
            acceptance_criteria_refs=clean_refs(acceptance_criteria_refs),
            status=TaskStatus.AVAILABLE,
            owner_user_id=None,
            estimated_hours=check_estimate(estimated_hours),
            version=1,
            created_at=now,
            updated_at=now,
        )
        return task, task._record(
            TaskCreated,
            actor,
            title=task.title,
            description=task.description,
            acceptance_criteria_refs=task.acceptance_criteria_refs,
            estimated_hours=task.estimated_hours,
        )

    # Each action checks the status first (409 whoever asks), then the owner (403).
    def take(self, actor: Actor, now: datetime) -> OwnershipTaken:
        self._require_status("take", TaskStatus.AVAILABLE, code="task_not_available")
        self.status, self.owner_user_id, self.owned_at = TaskStatus.OWNED, actor.user_id, now
        self._bump(now)
        return self._record(OwnershipTaken, actor, owner_user_id=actor.user_id)

    def release(self, actor: Actor, now: datetime) -> OwnershipReleased:
        self._require_status("release", TaskStatus.OWNED, TaskStatus.INPROGRESS)
        previous = self._require_owner(actor)
        self.status, self.owner_user_id, self.owned_at = TaskStatus.AVAILABLE, None, None
        self.estimated_hours = None
        self._bump(now)
        return self._record(OwnershipReleased, actor, previous_owner_user_id=previous)

    def start(self, actor: Actor, now: datetime) -> StatusChanged:
        return self._move("start", TaskStatus.OWNED, TaskStatus.INPROGRESS, actor, now)

    def pause(self, actor: Actor, now: datetime) -> StatusChanged:
        return self._move("pause", TaskStatus.INPROGRESS, TaskStatus.OWNED, actor, now)

    def complete(self, actor: Actor, now: datetime) -> StatusChanged:
        event = self._move("complete", TaskStatus.INPROGRESS, TaskStatus.COMPLETED, actor, now)
        self.completed_at = now
        return event

    def change_status(self, target: TaskStatus, actor: Actor, now: datetime) -> TaskEvent | None:
        """Map a requested status to take / release / start / pause / complete; the same status is a no-op."""
        if target is self.status:
            return None
        if target is TaskStatus.OWNED:
            return self.take(actor, now) if self.status is TaskStatus.AVAILABLE else self.pause(actor, now)
        if target is TaskStatus.AVAILABLE:
            return self.release(actor, now)
        if target is TaskStatus.INPROGRESS:
            return self.start(actor, now)
        return self.complete(actor, now)

    def set_estimate(self, hours: int | None, actor: Actor, now: datetime) -> TaskUpdated | None:
        return self.update_details(actor, now, estimated_hours=hours)

    def update_details(
        self,
        actor: Actor,
        now: datetime,
        *,
        title: str = UNSET,
        description: str | None = UNSET,
        acceptance_criteria_refs: Sequence[str] = UNSET,
        estimated_hours: int | None = UNSET,
    ) -> TaskUpdated | None:
        """Change title, description, refs or estimate; owner only while owned; final once completed."""
        cleaned: dict[str, object] = {}
        if title is not UNSET:
            cleaned["title"] = clean_title(title)
        if description is not UNSET:
            cleaned["description"] = description
        if acceptance_criteria_refs is not UNSET:
            cleaned["acceptance_criteria_refs"] = clean_refs(acceptance_criteria_refs)
        if estimated_hours is not UNSET:
            cleaned["estimated_hours"] = check_estimate(estimated_hours)
        if all(getattr(self, name) == value for name, value in cleaned.items()):
            return None
        if self.status is TaskStatus.COMPLETED:
            raise Conflict("a completed task cannot be changed", code="task_completed")
        if self.owner_user_id is not None:
            self._require_owner(actor)
        for name, value in cleaned.items():
            setattr(self, name, value)
        self._bump(now)
        return self._record(
            TaskUpdated,
            actor,
            title=self.title,
            description=self.description,
            acceptance_criteria_refs=self.acceptance_criteria_refs,
            estimated_hours=self.estimated_hours,
            owner_user_id=self.owner_user_id,
        )

    def _move(
        self, action: str, source: TaskStatus, target: TaskStatus, actor: Actor, now: datetime
    ) -> StatusChanged:
        self._require_status(action, source)
        self._require_owner(actor)
        self.status = target
        self._bump(now)
        return self._record(
            StatusChanged, actor, old_status=source, new_status=target, changed_by_user_id=actor.user_id
        )

    def _require_status(self, action: str, *allowed: TaskStatus, code: str = "invalid_transition") -> None:
        if self.status not in allowed:
            raise Conflict(
                f"cannot {action} a task that is {self.status.value}",
                code=code,
                details={"status": self.status.value, "allowed": [s.value for s in allowed]},
            )

    def _require_owner(self, actor: Actor) -> UUID:
        if self.owner_user_id != actor.user_id or self.owner_user_id is None:
            raise Forbidden("only the task's owner may do this", code="not_task_owner")
        return self.owner_user_id

    def _bump(self, now: datetime) -> None:
        self.version += 1
        self.updated_at = now

    def _record(self, kind: type[E], actor: Actor, **fields: Any) -> E:
        return kind(
            occurred_at=self.updated_at,
            tenant_id=self.tenant_id,
            org_id=actor.org_id,
            project_id=self.project_id,
            sprint_id=self.sprint_id,
            story_id=self.story_id,
            task_id=self.id,
            task_version=self.version,
            actor_user_id=actor.user_id,
            status=self.status,
            **fields,
        )
