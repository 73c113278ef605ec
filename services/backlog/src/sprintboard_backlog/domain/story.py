"""The story aggregate: status workflow, readiness, acceptance criteria and labels."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID, uuid4

from sprintboard_backlog.domain.errors import Conflict, ValidationFailed
from sprintboard_backlog.domain.project import clean_title
from sprintboard_backlog.domain.user import Actor

MIN_POINTS = 1
MAX_POINTS = 8
MIN_CRITERIA_FOR_READY = 3
UNSET: Any = object()  # a field not given in an update, as opposed to one set to None


class StoryStatus(StrEnum):
    DRAFT = "draft"
    NEEDSREFINEMENT = "needsrefinement"
    READY = "ready"
    COMMITTED = "committed"
    INPROGRESS = "inprogress"
    TASKSCOMPLETE = "taskscomplete"
    DEPLOYED = "deployed"
    AWAITINGACCEPTANCE = "awaitingacceptance"
    ACCEPTED = "accepted"

    @classmethod
    def parse(cls, value: str) -> StoryStatus:
        """Case-insensitive, `_` ignored (`Needs_Refinement` is `needsrefinement`)."""
        key = value.strip().lower().replace("_", "")
        try:
            return cls(key)
        except ValueError:
            allowed = ", ".join(s.value for s in cls)
            raise ValidationFailed(f"unknown story status {value!r}; expected one of {allowed}") from None


S = StoryStatus
STORY_TRANSITIONS: dict[StoryStatus, frozenset[StoryStatus]] = {
    S.DRAFT: frozenset({S.NEEDSREFINEMENT, S.READY}),
    S.NEEDSREFINEMENT: frozenset({S.READY, S.DRAFT}),
    S.READY: frozenset({S.COMMITTED, S.NEEDSREFINEMENT}),
    S.COMMITTED: frozenset({S.INPROGRESS, S.READY}),
    S.INPROGRESS: frozenset({S.TASKSCOMPLETE, S.COMMITTED}),
    S.TASKSCOMPLETE: frozenset({S.DEPLOYED, S.INPROGRESS}),
    S.DEPLOYED: frozenset({S.AWAITINGACCEPTANCE, S.TASKSCOMPLETE}),
    S.AWAITINGACCEPTANCE: frozenset({S.ACCEPTED, S.INPROGRESS}),
    S.ACCEPTED: frozenset(),
}


@dataclass(frozen=True, slots=True)
class AcceptanceCriterion:
    id: str
    given: str
    when: str
    then: str

    @property
    def description(self) -> str:
        return f"Given {self.given}, when {self.when}, then {self.then}"


def check_points(points: int | None) -> int | None:
    if points is not None and not MIN_POINTS <= points <= MAX_POINTS:
        raise ValidationFailed(
            f"story_points must be {MIN_POINTS}..{MAX_POINTS}",
            details=[{"field": "story_points", "reason": "out_of_range"}],
        )
    return points


def clean_labels(labels: Sequence[str]) -> tuple[str, ...]:
    """Trimmed, blanks dropped, de-duplicated in first-seen order."""
    return tuple(dict.fromkeys(label.strip() for label in labels if label.strip()))


@dataclass(slots=True)
class Story:
    id: UUID
    tenant_id: str
    project_id: UUID
    title: str
    description: str | None
    status: StoryStatus
    labels: tuple[str, ...]
    acceptance_criteria: tuple[AcceptanceCriterion, ...]
    story_points: int | None
    sprint_id: UUID | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def create(
        cls,
        actor: Actor,
        *,
        project_id: UUID,
        title: str,
        description: str | None,
        labels: Sequence[str],
        story_points: int | None,
        now: datetime,
    ) -> Story:
        return cls(
            id=uuid4(),
            tenant_id=actor.tenant_id,
            project_id=project_id,
            title=clean_title(title),
            description=description,
            status=StoryStatus.DRAFT,
            labels=clean_labels(labels),
            acceptance_criteria=(),
            story_points=check_points(story_points),
            sprint_id=None,
            created_at=now,
            updated_at=now,
        )

    def update(
        self,
        now: datetime,
        *,
        title: str = UNSET,
        description: str | None = UNSET,
        labels: Sequence[str] = UNSET,
        story_points: int | None = UNSET,
    ) -> None:
        if title is not UNSET:
            self.title = clean_title(title)
        if description is not UNSET:
            self.description = description
        if labels is not UNSET:
            self.labels = clean_labels(labels)
        if story_points is not UNSET:
            self.story_points = check_points(story_points)
        self.updated_at = now

    def add_criterion(self, given: str, when: str, then: str, now: datetime) -> AcceptanceCriterion:
        parts = {"given": given.strip(), "when": when.strip(), "then": then.strip()}
        blank = [name for name, value in parts.items() if not value]
        if blank:
            raise ValidationFailed(
                "given, when and then must not be blank",
                details=[{"field": name, "reason": "blank"} for name in blank],
            )
        criterion = AcceptanceCriterion(id=f"AC{len(self.acceptance_criteria) + 1}", **parts)
        self.acceptance_criteria = (*self.acceptance_criteria, criterion)
        self.updated_at = now
        return criterion

    def readiness_problems(self) -> list[str]:
        """What keeps the story from being `ready` (empty when it may be)."""
        problems = []
        if len(self.acceptance_criteria) < MIN_CRITERIA_FOR_READY:
            problems.append(f"needs at least {MIN_CRITERIA_FOR_READY} acceptance criteria")
        if self.story_points is None:
            problems.append("needs story points")
        if not (self.description or "").strip():
            problems.append("needs a description")
        return problems

    def change_status(self, target: StoryStatus, now: datetime) -> bool:
        """Apply a workflow transition; return False for the same status (a no-op)."""
        if target is self.status:
            return False
        if target not in STORY_TRANSITIONS[self.status]:
            raise Conflict(
                f"a {self.status.value} story cannot become {target.value}",
                code="invalid_transition",
                details={"status": self.status.value, "allowed": sorted(STORY_TRANSITIONS[self.status])},
            )
        if target is StoryStatus.READY:
            self._require_ready_content()
        if target is StoryStatus.COMMITTED and self.sprint_id is None:
            raise Conflict("a story is committed through a sprint", code="story_not_in_sprint")
        if self.status is StoryStatus.COMMITTED and target is StoryStatus.READY:
            self.sprint_id = None  # back to the backlog: out of its sprint
        self.status = target
        self.updated_at = now
        return True

    def commit_to(self, sprint_id: UUID, now: datetime) -> None:
        if self.status is not StoryStatus.READY:
            raise Conflict(
                f"story {self.id} is {self.status.value}, not ready",
                code="story_not_ready",
                details={"story_id": str(self.id), "status": self.status.value},
            )
        self.sprint_id = sprint_id
        self.status = StoryStatus.COMMITTED
        self.updated_at = now

    def _require_ready_content(self) -> None:
        problems = self.readiness_problems()
        if problems:
            raise Conflict(
                "story is not ready: " + "; ".join(problems),
                code="story_not_ready",
                details={"problems": problems},
            )
