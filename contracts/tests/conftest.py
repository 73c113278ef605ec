"""Event fixtures: realistic hand-written events of every type and seeded random variants."""

from __future__ import annotations

import random
import string
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from jsonschema import Draft202012Validator, FormatChecker

from sprintboard_contracts.events import (
    OwnershipReleased,
    OwnershipTaken,
    StatusChanged,
    TaskCreated,
    TaskEventBase,
    TaskStatus,
    TaskUpdated,
)
from sprintboard_contracts.subjects import EventType

SEED = 20251128
RANDOM_PER_TYPE = 40
ORG = "org_2xK9qLmN4pRsT"
ALICE = uuid.UUID("0b7c9a52-5b0e-5f3a-9c1d-2f4e6a8b0c1d")
BOB = uuid.UUID("7e1f3d5b-9a2c-5e4f-8b6d-0a1c3e5f7a9b")
PROJECT = uuid.UUID("3f2b8c1e-4d5a-4e6f-9a7b-8c9d0e1f2a3b")
SPRINT = uuid.UUID("a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d")
STORY = uuid.UUID("5d4c3b2a-1f0e-4d9c-8b7a-6f5e4d3c2b1a")
TASK = uuid.UUID("c0ffee00-1234-4abc-9def-0123456789ab")
AT = datetime(2025, 3, 14, 9, 26, 53, 589793, tzinfo=UTC)


def _common(version: int, status: TaskStatus, actor: uuid.UUID, **overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "event_id": uuid.uuid4(),
        "timestamp": AT + timedelta(minutes=version),
        "tenant_id": ORG,
        "org_id": ORG,
        "project_id": PROJECT,
        "sprint_id": SPRINT,
        "story_id": STORY,
        "task_id": TASK,
        "task_version": version,
        "actor_user_id": actor,
        "status": status,
    }
    return fields | overrides


def realistic_events() -> list[TaskEventBase]:
    """The life of one task as the backlog records it, plus a personal-space task outside any sprint."""
    personal = {"tenant_id": f"user:{BOB}", "org_id": None, "sprint_id": None}
    refs = ["AC-1", "AC-3"]
    return [
        TaskCreated(
            **_common(1, TaskStatus.AVAILABLE, ALICE),
            title="Wire the outbox relay to JetStream",
            description="Publish committed outbox rows in order; mark them after the ack.",
            acceptance_criteria_refs=refs,
            estimated_hours=None,
        ),
        OwnershipTaken(**_common(2, TaskStatus.OWNED, ALICE), owner_user_id=ALICE),
        TaskUpdated(
            **_common(3, TaskStatus.OWNED, ALICE),
            title="Wire the outbox relay to JetStream",
            description=None,
            acceptance_criteria_refs=refs,
            estimated_hours=5,
            owner_user_id=ALICE,
        ),
        StatusChanged(
            **_common(4, TaskStatus.INPROGRESS, ALICE),
            old_status=TaskStatus.OWNED,
            new_status=TaskStatus.INPROGRESS,
            changed_by_user_id=ALICE,
        ),
        StatusChanged(
            **_common(5, TaskStatus.OWNED, ALICE),
            old_status=TaskStatus.INPROGRESS,
            new_status=TaskStatus.OWNED,
            changed_by_user_id=ALICE,
        ),
        OwnershipReleased(**_common(6, TaskStatus.AVAILABLE, ALICE), previous_owner_user_id=ALICE),
        OwnershipTaken(**_common(7, TaskStatus.OWNED, BOB), owner_user_id=BOB),
        StatusChanged(
            **_common(9, TaskStatus.COMPLETED, BOB),
            old_status=TaskStatus.INPROGRESS,
            new_status=TaskStatus.COMPLETED,
            changed_by_user_id=BOB,
        ),
        TaskCreated(
            **_common(1, TaskStatus.AVAILABLE, BOB, **personal),
            title="Écrire les tests de reprise — 再接続 ✓",
            description="",
            acceptance_criteria_refs=["given a gap, when resuming, then no duplicate"],
            estimated_hours=40,
        ),
        TaskUpdated(
            **_common(2, TaskStatus.AVAILABLE, BOB, **personal),
            title="x" * 255,
            description='multi\nline\tdescription with "quotes" and \\ backslashes',
            acceptance_criteria_refs=[" AC-1 ", "AC-2"],
            estimated_hours=1,
            owner_user_id=None,
        ),
    ]


def _text(rng: random.Random, low: int, high: int) -> str:
    alphabet = string.ascii_letters + string.digits + " -_.,:;!?'\"\\/\néàüß漢字🙂"
    text = "".join(rng.choice(alphabet) for _ in range(rng.randint(low, high)))
    return text if text.strip() else "x" + text[1:]


def random_event(rng: random.Random, kind: EventType) -> TaskEventBase:
    """One event of a type with random but valid values, including non-UTC aware timestamps."""
    user = uuid.UUID(int=rng.getrandbits(128), version=4)
    org = rng.choice([None, _text(rng, 1, 40), str(uuid.UUID(int=rng.getrandbits(128), version=4))])
    offset = timezone(timedelta(minutes=rng.choice([0, 60, -300, 330, 845])))
    moment = datetime(2020, 1, 1, tzinfo=UTC) + timedelta(seconds=rng.uniform(0, 3e8))
    common: dict[str, Any] = {
        "event_id": uuid.UUID(int=rng.getrandbits(128), version=4),
        "timestamp": moment.astimezone(offset).replace(microsecond=rng.choice([0, rng.randrange(10**6)])),
        "tenant_id": org if org is not None else f"user:{user}",
        "org_id": org,
        "project_id": uuid.UUID(int=rng.getrandbits(128), version=4),
        "sprint_id": rng.choice([None, uuid.UUID(int=rng.getrandbits(128), version=4)]),
        "story_id": uuid.UUID(int=rng.getrandbits(128), version=4),
        "task_id": uuid.UUID(int=rng.getrandbits(128), version=4),
        "task_version": rng.randint(1, 10_000),
        "actor_user_id": user,
        "status": rng.choice(list(TaskStatus)),
    }
    if kind is EventType.OWNERSHIP_TAKEN:
        return OwnershipTaken(**common, owner_user_id=user)
    if kind is EventType.OWNERSHIP_RELEASED:
        return OwnershipReleased(**common, previous_owner_user_id=user)
    if kind is EventType.STATUS_CHANGED:
        old, new = rng.sample(list(TaskStatus), 2)
        return StatusChanged(**common, old_status=old, new_status=new, changed_by_user_id=user)
    task_fields: dict[str, Any] = {
        "title": _text(rng, 1, 255),
        "description": rng.choice([None, _text(rng, 0, 500)]),
        "acceptance_criteria_refs": [_text(rng, 1, 20) for _ in range(rng.randint(1, 5))],
        "estimated_hours": rng.choice([None, rng.randint(1, 40)]),
        "owner_user_id": rng.choice([None, user]),
    }
    model = TaskCreated if kind is EventType.TASK_CREATED else TaskUpdated
    return model(**common, **task_fields)


def random_events() -> list[TaskEventBase]:
    rng = random.Random(SEED)
    return [random_event(rng, kind) for kind in EventType for _ in range(RANDOM_PER_TYPE)]


@pytest.fixture(scope="session")
def events() -> list[TaskEventBase]:
    """Every sample event: hand-written ones first, then the seeded random ones."""
    return realistic_events() + random_events()


@pytest.fixture(scope="session")
def format_checker() -> FormatChecker:
    return FormatChecker()


@pytest.fixture(scope="session")
def strict_validator(format_checker: FormatChecker) -> Any:
    """Validates an instance against a schema with formats asserted (uuid always; date-time if possible)."""

    def validate(schema: dict[str, Any], instance: Any) -> None:
        Draft202012Validator(schema, format_checker=format_checker).validate(instance)
        timestamp = instance.get("timestamp") if isinstance(instance, dict) else None
        if isinstance(timestamp, str) and "date-time" not in format_checker.checkers:
            # Without rfc3339-validator jsonschema skips date-time: check what a consumer would parse.
            parsed = datetime.fromisoformat(timestamp)
            assert parsed.utcoffset() == timedelta(0), timestamp

    return validate
