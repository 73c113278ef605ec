"""Sprint rules: dates 1..28 days, capacity, committing ready stories, one active sprint."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest

from sprintboard_backlog.domain.errors import Conflict, ValidationFailed
from sprintboard_backlog.domain.sprint import Sprint, SprintStatus
from sprintboard_backlog.domain.story import Story, StoryStatus
from sprintboard_backlog.domain.user import Actor

NOW = datetime(2025, 1, 1, 12, tzinfo=UTC)
ACTOR = Actor(uuid4(), "t", None)


def ready(points: int) -> Story:
    story = Story.create(
        ACTOR, project_id=uuid4(), title="s", description="d", labels=[], story_points=points, now=NOW
    )
    for _ in range(3):
        story.add_criterion("g", "w", "t", NOW)
    story.change_status(StoryStatus.READY, NOW)
    return story


def plan(**overrides: Any) -> Sprint:
    fields: dict[str, Any] = {
        "project_id": uuid4(),
        "name": "Sprint 1",
        "goal": "g",
        "stories": [],
        "capacity_points": None,
        "start_date": None,
        "end_date": None,
        "may_activate": True,
        "now": NOW,
    }
    fields.update(overrides)
    return Sprint.plan(ACTOR, **fields)


def test_defaults_are_40_points_and_14_days_starting_now_and_active() -> None:
    sprint = plan()
    assert sprint.capacity_points == 40
    assert (sprint.start_date, sprint.end_date) == (NOW, NOW + timedelta(days=14))
    assert sprint.status is SprintStatus.ACTIVE
    assert sprint.days_remaining(NOW) == 14
    assert sprint.days_remaining(NOW + timedelta(days=13, hours=1)) == 1
    assert sprint.days_remaining(NOW + timedelta(days=30)) == 0


def test_starts_in_planning_when_another_is_active_or_it_is_in_the_future() -> None:
    assert plan(may_activate=False).status is SprintStatus.PLANNING
    assert plan(start_date=NOW + timedelta(days=1)).status is SprintStatus.PLANNING


@pytest.mark.parametrize("days", [0, 29])
def test_length_must_be_1_to_28_days(days: int) -> None:
    with pytest.raises(ValidationFailed):
        plan(start_date=NOW, end_date=NOW + timedelta(days=days))


def test_capacity_must_be_positive() -> None:
    with pytest.raises(ValidationFailed):
        plan(capacity_points=0)


def test_commits_ready_stories_within_capacity() -> None:
    stories = [ready(5), ready(3)]
    sprint = plan(stories=stories, capacity_points=8)
    assert all(s.status is StoryStatus.COMMITTED and s.sprint_id == sprint.id for s in stories)


def test_over_capacity_is_a_conflict_and_commits_nothing() -> None:
    stories = [ready(5), ready(5)]
    with pytest.raises(Conflict) as caught:
        plan(stories=stories, capacity_points=9)
    assert caught.value.code == "capacity_exceeded"
    assert all(s.status is StoryStatus.READY for s in stories)


def test_status_moves_and_one_active_per_project() -> None:
    sprint = plan(may_activate=False)
    with pytest.raises(Conflict):
        sprint.change_status(SprintStatus.ACTIVE, NOW, other_active=True)
    assert sprint.change_status(SprintStatus.ACTIVE, NOW, other_active=False)
    with pytest.raises(Conflict):
        sprint.change_status(SprintStatus.PLANNING, NOW, other_active=False)
    assert sprint.change_status(SprintStatus.COMPLETED, NOW, other_active=False)
