"""The sprint board query: the sprint's tasks in story order, progress, and groups by story or status."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from uuid import UUID

from sprintboard_backlog.application.unit_of_work import StorySummary, UnitOfWork
from sprintboard_backlog.domain.errors import NotFound
from sprintboard_backlog.domain.events import TaskStatus
from sprintboard_backlog.domain.sprint import Sprint
from sprintboard_backlog.domain.task import Task
from sprintboard_backlog.domain.user import Actor


class GroupBy(StrEnum):
    STORY = "story"
    STATUS = "status"


@dataclass(frozen=True, slots=True)
class BoardTask:
    task: Task
    story_title: str


@dataclass(frozen=True, slots=True)
class Board:
    sprint: Sprint
    days_remaining: int
    total_stories: int
    total_tasks: int
    completed_tasks: int
    tasks: list[BoardTask]
    groups: dict[str, list[UUID]]

    @property
    def progress_percentage(self) -> float:
        return self.completed_tasks / self.total_tasks * 100.0 if self.total_tasks else 0.0


def build_board(
    sprint: Sprint,
    stories: list[StorySummary],
    tasks: list[Task],
    statuses: Collection[TaskStatus] | None,
    group_by: GroupBy,
    now: datetime,
) -> Board:
    """Totals count every task of the sprint; the task list and groups honour the status filter.
    Groups list every story of the sprint (or every status), so empty ones are visible to the client."""
    titles = {story.id: story.title for story in stories}
    shown = [t for t in tasks if statuses is None or t.status in statuses]
    groups: dict[str, list[UUID]]
    if group_by is GroupBy.STATUS:
        groups = {status.value: [] for status in TaskStatus}
        for task in shown:
            groups[task.status.value].append(task.id)
    else:
        groups = {str(story.id): [] for story in stories}
        for task in shown:
            groups.setdefault(str(task.story_id), []).append(task.id)
    return Board(
        sprint=sprint,
        days_remaining=sprint.days_remaining(now),
        total_stories=len(stories),
        total_tasks=len(tasks),
        completed_tasks=sum(1 for t in tasks if t.status is TaskStatus.COMPLETED),
        tasks=[BoardTask(t, titles.get(t.story_id, "")) for t in shown],
        groups=groups,
    )


async def sprint_board(
    uow: UnitOfWork,
    actor: Actor,
    sprint_id: UUID,
    statuses: Collection[TaskStatus] | None = None,
    group_by: GroupBy = GroupBy.STORY,
) -> Board:
    async with uow:
        sprint = await uow.sprints.get(actor.tenant_id, sprint_id)
        if sprint is None:
            raise NotFound(f"sprint {sprint_id} not found", code="sprint_not_found")
        stories = await uow.stories.in_sprint(actor.tenant_id, sprint_id)
        tasks = await uow.tasks.for_sprint(actor.tenant_id, sprint_id) if stories else []
    return build_board(sprint, stories, tasks, statuses, group_by, datetime.now(UTC))
