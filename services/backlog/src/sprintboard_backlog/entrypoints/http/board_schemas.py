"""The board's response shape: camelCase, as the reference system's board client reads it."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from sprintboard_backlog.application.board import Board


class CamelModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, validate_by_name=True, serialize_by_alias=True)


class BoardSprint(CamelModel):
    id: UUID
    name: str
    goal: str
    start_date: datetime
    end_date: datetime
    days_remaining: int
    status: str
    total_stories: int
    total_tasks: int
    completed_tasks: int
    progress_percentage: float


class BoardTask(CamelModel):
    id: UUID
    story_id: UUID
    story_title: str
    title: str
    description: str | None
    status: str
    owner_user_id: UUID | None
    acceptance_criteria_refs: list[str]
    estimated_hours: int | None
    version: int
    created_at: datetime
    updated_at: datetime


class BoardGroup(CamelModel):
    count: int
    tasks: list[UUID]


class BoardOut(CamelModel):
    sprint: BoardSprint
    tasks: list[BoardTask]
    groups: dict[str, BoardGroup]

    @classmethod
    def of(cls, board: Board) -> BoardOut:
        s = board.sprint
        return cls(
            sprint=BoardSprint(
                id=s.id,
                name=s.name,
                goal=s.goal,
                start_date=s.start_date,
                end_date=s.end_date,
                days_remaining=board.days_remaining,
                status=s.status.value,
                total_stories=board.total_stories,
                total_tasks=board.total_tasks,
                completed_tasks=board.completed_tasks,
                progress_percentage=board.progress_percentage,
            ),
            tasks=[
                BoardTask(
                    id=bt.task.id,
                    story_id=bt.task.story_id,
                    story_title=bt.story_title,
                    title=bt.task.title,
                    description=bt.task.description,
                    status=bt.task.status.value,
                    owner_user_id=bt.task.owner_user_id,
                    acceptance_criteria_refs=list(bt.task.acceptance_criteria_refs),
                    estimated_hours=bt.task.estimated_hours,
                    version=bt.task.version,
                    created_at=bt.task.created_at,
                    updated_at=bt.task.updated_at,
                )
                for bt in board.tasks
            ],
            groups={key: BoardGroup(count=len(ids), tasks=ids) for key, ids in board.groups.items()},
        )
