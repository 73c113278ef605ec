"""Task rules: transitions, the status-before-owner order, versions and the events each change records."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

import pytest

from sprintboard_backlog.domain.errors import Conflict, Forbidden, ValidationFailed
from sprintboard_backlog.domain.events import (
    OwnershipReleased,
    OwnershipTaken,
    StatusChanged,
    TaskCreated,
    TaskStatus,
    TaskUpdated,
)
from sprintboard_backlog.domain.task import Task
from sprintboard_backlog.domain.user import Actor

NOW = datetime(2025, 1, 1, tzinfo=UTC)
ALICE = Actor(uuid4(), "org", "org")
BOB = Actor(uuid4(), "org", "org")


def new_task(**overrides: object) -> Task:
    fields: dict[str, object] = {
        "project_id": uuid4(),
        "story_id": uuid4(),
        "sprint_id": None,
        "title": "  Write it  ",
        "description": None,
        "acceptance_criteria_refs": ["AC1"],
        "estimated_hours": None,
        "now": NOW,
    }
    fields.update(overrides)
    task, _ = Task.create(ALICE, **fields)  # type: ignore[arg-type]
    return task


def test_create_records_task_created_at_version_1() -> None:
    task, event = Task.create(
        ALICE,
        project_id=uuid4(),
        story_id=uuid4(),
        sprint_id=None,
        title=" T ",
        description="d",
        acceptance_criteria_refs=[" AC1 ", "AC2", "AC1"],
        estimated_hours=5,
        now=NOW,
    )
    assert (task.title, task.status, task.version, task.owner_user_id) == ("T", TaskStatus.AVAILABLE, 1, None)
    assert task.acceptance_criteria_refs == ("AC1", "AC2")
    assert isinstance(event, TaskCreated)
    assert (event.task_version, event.status, event.actor_user_id) == (1, TaskStatus.AVAILABLE, ALICE.user_id)


@pytest.mark.parametrize(
    "overrides",
    [
        {"acceptance_criteria_refs": []},
        {"acceptance_criteria_refs": ["AC1", "  "]},
        {"estimated_hours": 0},
        {"estimated_hours": 41},
        {"title": "   "},
        {"title": "x" * 256},
    ],
)
def test_create_rejects_invalid_fields(overrides: dict[str, object]) -> None:
    with pytest.raises(ValidationFailed):
        new_task(**overrides)


def test_full_lifecycle_bumps_version_and_records_each_event() -> None:
    task = new_task()
    taken = task.take(ALICE, NOW)
    assert isinstance(taken, OwnershipTaken) and taken.owner_user_id == ALICE.user_id
    assert (task.status, task.owner_user_id, task.owned_at, task.version) == (
        TaskStatus.OWNED,
        ALICE.user_id,
        NOW,
        2,
    )
    started = task.start(ALICE, NOW)
    assert isinstance(started, StatusChanged)
    assert (started.old_status, started.new_status, started.task_version) == ("owned", "inprogress", 3)
    paused = task.pause(ALICE, NOW)
    assert (paused.old_status, paused.new_status) == ("inprogress", "owned")
    task.start(ALICE, NOW)
    done = task.complete(ALICE, NOW)
    assert done.status == TaskStatus.COMPLETED and task.completed_at == NOW and task.version == 6


def test_release_clears_owner_and_estimate() -> None:
    task = new_task(estimated_hours=8)
    task.take(ALICE, NOW)
    task.start(ALICE, NOW)
    event = task.release(ALICE, NOW)
    assert isinstance(event, OwnershipReleased) and event.previous_owner_user_id == ALICE.user_id
    assert (task.status, task.owner_user_id, task.owned_at, task.estimated_hours) == (
        TaskStatus.AVAILABLE,
        None,
        None,
        None,
    )


def test_no_stealing_an_owned_task_is_409_for_anyone() -> None:
    task = new_task()
    task.take(ALICE, NOW)
    for actor in (ALICE, BOB):
        with pytest.raises(Conflict) as caught:
            task.take(actor, NOW)
        assert caught.value.code == "task_not_available"


@pytest.mark.parametrize("action", ["release", "start", "pause", "complete"])
def test_status_is_checked_before_owner(action: str) -> None:
    task = new_task()  # available: no owner at all, yet the status decides first
    with pytest.raises(Conflict):
        getattr(task, action)(BOB, NOW)


@pytest.mark.parametrize("action", ["release", "start"])
def test_other_user_gets_forbidden_when_the_status_allows(action: str) -> None:
    task = new_task()
    task.take(ALICE, NOW)
    with pytest.raises(Forbidden):
        getattr(task, action)(BOB, NOW)
    assert task.version == 2


def test_completing_an_owned_task_is_a_conflict_not_forbidden() -> None:
    task = new_task()
    task.take(ALICE, NOW)
    with pytest.raises(Conflict):
        task.complete(BOB, NOW)


def test_completed_is_final() -> None:
    task = new_task()
    task.take(ALICE, NOW)
    task.start(ALICE, NOW)
    task.complete(ALICE, NOW)
    for target in (TaskStatus.AVAILABLE, TaskStatus.OWNED, TaskStatus.INPROGRESS):
        with pytest.raises(Conflict):
            task.change_status(target, ALICE, NOW)
    with pytest.raises(Conflict):
        task.set_estimate(3, ALICE, NOW)


def test_change_status_maps_to_actions_and_same_status_is_a_noop() -> None:
    task = new_task()
    assert task.change_status(TaskStatus.AVAILABLE, ALICE, NOW) is None
    assert isinstance(task.change_status(TaskStatus.OWNED, ALICE, NOW), OwnershipTaken)
    assert task.change_status(TaskStatus.OWNED, ALICE, NOW) is None
    assert isinstance(task.change_status(TaskStatus.INPROGRESS, ALICE, NOW), StatusChanged)
    assert isinstance(task.change_status(TaskStatus.OWNED, ALICE, NOW), StatusChanged)  # pause
    assert isinstance(task.change_status(TaskStatus.AVAILABLE, ALICE, NOW), OwnershipReleased)
    with pytest.raises(Conflict):
        task.change_status(TaskStatus.COMPLETED, ALICE, NOW)
    assert task.version == 5


def test_status_parsing_is_lenient() -> None:
    assert TaskStatus.parse("In_Progress") is TaskStatus.INPROGRESS
    assert TaskStatus.parse(" OWNED ") is TaskStatus.OWNED
    with pytest.raises(ValidationFailed):
        TaskStatus.parse("done")


def test_estimate_and_details_changes() -> None:
    task = new_task()
    event = task.set_estimate(4, BOB, NOW)  # anyone may estimate an unowned task
    assert isinstance(event, TaskUpdated) and event.estimated_hours == 4 and task.version == 2
    assert task.set_estimate(4, BOB, NOW) is None  # unchanged: no new version
    task.take(ALICE, NOW)
    with pytest.raises(Forbidden):
        task.set_estimate(5, BOB, NOW)
    with pytest.raises(ValidationFailed):
        task.set_estimate(41, ALICE, NOW)
    updated = task.update_details(ALICE, NOW, title="New", acceptance_criteria_refs=["AC9"])
    assert updated is not None and updated.title == "New" and updated.acceptance_criteria_refs == ("AC9",)
    assert task.version == 4
