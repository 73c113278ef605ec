"""The sprint aggregate: dates, capacity, committing ready stories, and its status."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from uuid import UUID, uuid4

from sprintboard_backlog.domain.errors import Conflict, ValidationFailed
from sprintboard_backlog.domain.project import clean_title
from sprintboard_backlog.domain.story import Story
from sprintboard_backlog.domain.user import Actor

DEFAULT_CAPACITY_POINTS = 40
DEFAULT_LENGTH = timedelta(days=14)
MIN_LENGTH = timedelta(days=1)
MAX_LENGTH = timedelta(days=28)


class SprintStatus(StrEnum):
    PLANNING = "planning"
    ACTIVE = "active"
    REVIEW = "review"
    COMPLETED = "completed"

    @classmethod
    def parse(cls, value: str) -> SprintStatus:
        try:
            return cls(value.strip().lower())
        except ValueError:
            allowed = ", ".join(s.value for s in cls)
            raise ValidationFailed(f"unknown sprint status {value!r}; expected one of {allowed}") from None


SPRINT_TRANSITIONS: dict[SprintStatus, frozenset[SprintStatus]] = {
    SprintStatus.PLANNING: frozenset({SprintStatus.ACTIVE}),
    SprintStatus.ACTIVE: frozenset({SprintStatus.REVIEW, SprintStatus.COMPLETED}),
    SprintStatus.REVIEW: frozenset({SprintStatus.ACTIVE, SprintStatus.COMPLETED}),
    SprintStatus.COMPLETED: frozenset(),
}


def sprint_dates(
    start_date: datetime | None, end_date: datetime | None, now: datetime
) -> tuple[datetime, datetime]:
    """Defaults (start now, 14 days) and the 1..28 day rule."""
    start = start_date or now
    try:
        end = end_date or start + DEFAULT_LENGTH
    except OverflowError:  # a start in the last days of year 9999
        raise ValidationFailed(
            "start_date is out of range", details=[{"field": "start_date", "reason": "out_of_range"}]
        ) from None
    if not MIN_LENGTH <= end - start <= MAX_LENGTH:
        raise ValidationFailed(
            "a sprint lasts 1..28 days (end_date - start_date)",
            details=[{"field": "end_date", "reason": "out_of_range"}],
        )
    return start, end


@dataclass(slots=True)
class Sprint:
    id: UUID
    tenant_id: str
    project_id: UUID
    name: str
    goal: str
    status: SprintStatus
    capacity_points: int
    start_date: datetime
    end_date: datetime
    created_at: datetime
    updated_at: datetime

    @classmethod
    def plan(
        cls,
        actor: Actor,
        *,
        project_id: UUID,
        name: str,
        goal: str,
        stories: Sequence[Story],
        capacity_points: int | None,
        start_date: datetime | None,
        end_date: datetime | None,
        may_activate: bool,
        now: datetime,
    ) -> Sprint:
        """A new sprint committing `stories` (each ready, within capacity). It starts active when its
        dates include now and the project has no active sprint (`may_activate`), else in planning."""
        capacity = DEFAULT_CAPACITY_POINTS if capacity_points is None else capacity_points
        if capacity <= 0:
            raise ValidationFailed(
                "capacity_points must be > 0",
                details=[{"field": "capacity_points", "reason": "out_of_range"}],
            )
        start, end = sprint_dates(start_date, end_date, now)
        active = may_activate and start <= now < end
        sprint = cls(
            id=uuid4(),
            tenant_id=actor.tenant_id,
            project_id=project_id,
            name=clean_title(name, "name"),
            goal=goal.strip(),
            status=SprintStatus.ACTIVE if active else SprintStatus.PLANNING,
            capacity_points=capacity,
            start_date=start,
            end_date=end,
            created_at=now,
            updated_at=now,
        )
        committed = sum(story.story_points or 0 for story in stories)
        if committed > capacity:
            raise Conflict(
                f"committed points {committed} exceed the capacity {capacity}",
                code="capacity_exceeded",
                details={"committed_points": committed, "capacity_points": capacity},
            )
        for story in stories:
            story.commit_to(sprint.id, now)
        return sprint

    def change_status(self, target: SprintStatus, now: datetime, *, other_active: bool) -> bool:
        """Move through planning → active → review → completed; one active sprint per project."""
        if target is self.status:
            return False
        if target not in SPRINT_TRANSITIONS[self.status]:
            raise Conflict(
                f"a {self.status.value} sprint cannot become {target.value}", code="invalid_transition"
            )
        if target is SprintStatus.ACTIVE and other_active:
            raise Conflict("the project already has an active sprint", code="active_sprint_exists")
        self.status = target
        self.updated_at = now
        return True

    def days_remaining(self, now: datetime) -> int:
        """Whole days left until the end, rounded up; 0 once it has ended."""
        return max(0, math.ceil((self.end_date - now).total_seconds() / 86400))
