"""Story rules: lenient status parsing, the workflow, readiness, criteria and labels."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

import pytest

from sprintboard_backlog.domain.errors import Conflict, ValidationFailed
from sprintboard_backlog.domain.story import STORY_TRANSITIONS, Story, StoryStatus
from sprintboard_backlog.domain.user import Actor

NOW = datetime(2025, 1, 1, tzinfo=UTC)
ACTOR = Actor(uuid4(), "t", None)


def new_story(points: int | None = 3, description: str | None = "why") -> Story:
    return Story.create(
        ACTOR,
        project_id=uuid4(),
        title=" A story ",
        description=description,
        labels=["ui", " ui ", "", "api"],
        story_points=points,
        now=NOW,
    )


def ready_story() -> Story:
    story = new_story()
    for n in range(3):
        story.add_criterion(f"g{n}", "w", "t", NOW)
    story.change_status(StoryStatus.READY, NOW)
    return story


@pytest.mark.parametrize(
    ("text", "status"),
    [
        ("needs_refinement", StoryStatus.NEEDSREFINEMENT),
        ("NeedsRefinement", StoryStatus.NEEDSREFINEMENT),
        ("IN_PROGRESS", StoryStatus.INPROGRESS),
        ("awaiting_acceptance", StoryStatus.AWAITINGACCEPTANCE),
        ("Tasks_Complete", StoryStatus.TASKSCOMPLETE),
    ],
)
def test_status_parsing(text: str, status: StoryStatus) -> None:
    assert StoryStatus.parse(text) is status


def test_unknown_status_is_a_validation_error() -> None:
    with pytest.raises(ValidationFailed):
        StoryStatus.parse("shipped")


def test_create_trims_and_dedupes() -> None:
    story = new_story()
    assert story.title == "A story" and story.labels == ("ui", "api") and story.status is StoryStatus.DRAFT
    with pytest.raises(ValidationFailed):
        new_story(points=9)


def test_criteria_get_ids_and_descriptions() -> None:
    story = new_story()
    first = story.add_criterion(" a user ", "they click", "it saves", NOW)
    assert first.id == "AC1"
    assert first.description == "Given a user, when they click, then it saves"
    assert story.add_criterion("g", "w", "t", NOW).id == "AC2"
    with pytest.raises(ValidationFailed):
        story.add_criterion(" ", "w", "t", NOW)


def test_ready_needs_three_criteria_points_and_description() -> None:
    story = new_story(points=None, description=" ")
    story.add_criterion("g", "w", "t", NOW)
    with pytest.raises(Conflict) as caught:
        story.change_status(StoryStatus.READY, NOW)
    assert caught.value.code == "story_not_ready"
    assert len(caught.value.details["problems"]) == 3
    assert ready_story().status is StoryStatus.READY


def test_transitions_follow_the_table() -> None:
    story = new_story()
    with pytest.raises(Conflict):
        story.change_status(StoryStatus.ACCEPTED, NOW)
    assert story.change_status(StoryStatus.NEEDSREFINEMENT, NOW) is True
    assert story.change_status(StoryStatus.NEEDSREFINEMENT, NOW) is False
    assert STORY_TRANSITIONS[StoryStatus.ACCEPTED] == frozenset()


def test_committed_needs_a_sprint_and_going_back_to_ready_leaves_it() -> None:
    story = ready_story()
    with pytest.raises(Conflict) as caught:
        story.change_status(StoryStatus.COMMITTED, NOW)
    assert caught.value.code == "story_not_in_sprint"
    sprint_id = uuid4()
    story.commit_to(sprint_id, NOW)
    assert (story.status, story.sprint_id) == (StoryStatus.COMMITTED, sprint_id)
    story.change_status(StoryStatus.READY, NOW)
    assert story.sprint_id is None


def test_only_ready_stories_can_be_committed() -> None:
    with pytest.raises(Conflict) as caught:
        new_story().commit_to(uuid4(), NOW)
    assert caught.value.code == "story_not_ready"


def test_walk_to_accepted() -> None:
    story = ready_story()
    story.commit_to(uuid4(), NOW)
    for status in ("inprogress", "taskscomplete", "deployed", "awaitingacceptance", "accepted"):
        story.change_status(StoryStatus.parse(status), NOW)
    with pytest.raises(Conflict):
        story.change_status(StoryStatus.INPROGRESS, NOW)
