"""The v1 schema files: well-formed, consistent with each other, strict where they must be, and
valid supersets of the reference system's event shapes."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from sprintboard_contracts.events import (
    TIMESTAMP_PATTERN,
    UUID_PATTERN,
    InvalidEvent,
    TaskEventBase,
    event_to_json,
    schema_for,
    validate_against_schema,
)
from sprintboard_contracts.subjects import EventType

Validate = Callable[[dict[str, Any], Any], None]
COMMON = [
    "type",
    "event_id",
    "schema_version",
    "timestamp",
    "tenant_id",
    "org_id",
    "project_id",
    "sprint_id",
    "story_id",
    "task_id",
    "task_version",
    "actor_user_id",
    "status",
]
UUID_STRING = {"type": "string", "format": "uuid"}
TIMESTAMP_STRING = {"type": "string", "format": "date-time"}

# The reference system's three event shapes, as its clients read them.
REFERENCE_SHAPES: dict[EventType, dict[str, Any]] = {
    EventType.OWNERSHIP_TAKEN: {
        "type": "object",
        "required": ["task_id", "story_id", "owner_user_id", "timestamp"],
        "properties": {
            "task_id": UUID_STRING,
            "story_id": UUID_STRING,
            "owner_user_id": UUID_STRING,
            "timestamp": TIMESTAMP_STRING,
        },
    },
    EventType.OWNERSHIP_RELEASED: {
        "type": "object",
        "required": ["task_id", "story_id", "previous_owner_user_id", "timestamp"],
        "properties": {
            "task_id": UUID_STRING,
            "story_id": UUID_STRING,
            "previous_owner_user_id": UUID_STRING,
            "timestamp": TIMESTAMP_STRING,
        },
    },
    EventType.STATUS_CHANGED: {
        "type": "object",
        "required": ["task_id", "story_id", "old_status", "new_status", "changed_by_user_id", "timestamp"],
        "properties": {
            "task_id": UUID_STRING,
            "story_id": UUID_STRING,
            "old_status": {"type": "string", "enum": ["available", "owned", "inprogress", "completed"]},
            "new_status": {"type": "string", "enum": ["available", "owned", "inprogress", "completed"]},
            "changed_by_user_id": UUID_STRING,
            "timestamp": TIMESTAMP_STRING,
        },
    },
}


def wire(event: TaskEventBase) -> dict[str, Any]:
    decoded: dict[str, Any] = json.loads(event_to_json(event))
    return decoded


def first_of(events: list[TaskEventBase], kind: EventType) -> dict[str, Any]:
    return wire(next(event for event in events if event.type == kind.value))


@pytest.mark.parametrize("kind", list(EventType))
def test_schema_is_valid_draft_2020_12_with_its_id_and_constants(kind: EventType) -> None:
    schema = schema_for(kind)
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == f"https://sprintboard.dev/contracts/task-events/v1/{kind.value}.json"
    assert schema["properties"]["type"] == {**schema["properties"]["type"], "const": kind.value}
    assert schema["properties"]["schema_version"]["const"] == 1
    assert schema["additionalProperties"] is True
    assert "MUST tolerate properties they do not know" in schema["description"]
    assert "never edited" in schema["description"]


@pytest.mark.parametrize("kind", list(EventType))
def test_every_property_is_required_and_the_common_ones_come_first(kind: EventType) -> None:
    schema = schema_for(kind)
    assert schema["required"] == list(schema["properties"])
    assert schema["required"][: len(COMMON)] == COMMON


def test_common_fields_and_definitions_are_identical_in_every_v1_schema() -> None:
    schemas = [schema_for(kind) for kind in EventType]
    for name in COMMON:
        if name != "type":
            assert len({json.dumps(s["properties"][name], sort_keys=True) for s in schemas}) == 1, name
    assert len({json.dumps(s["$defs"], sort_keys=True) for s in schemas}) == 1


def test_the_models_patterns_are_the_schemas_patterns() -> None:
    schema = schema_for(EventType.OWNERSHIP_TAKEN)
    assert schema["$defs"]["uuid"]["pattern"] == UUID_PATTERN
    assert schema["properties"]["timestamp"]["pattern"] == TIMESTAMP_PATTERN


@pytest.mark.parametrize("kind", list(EventType))
def test_schema_rejects_each_missing_required_field(
    kind: EventType, events: list[TaskEventBase], strict_validator: Validate
) -> None:
    schema, event = schema_for(kind), first_of(events, kind)
    strict_validator(schema, event)
    for name in schema["required"]:
        with pytest.raises(ValidationError, match=f"'{name}' is a required property"):
            strict_validator(schema, {k: v for k, v in event.items() if k != name})


@pytest.mark.parametrize(
    ("kind", "field", "value"),
    [
        (EventType.OWNERSHIP_TAKEN, "type", "ownership_released"),
        (EventType.OWNERSHIP_TAKEN, "schema_version", 2),
        (EventType.OWNERSHIP_TAKEN, "schema_version", "1"),
        (EventType.OWNERSHIP_TAKEN, "status", "done"),
        (EventType.OWNERSHIP_TAKEN, "owner_user_id", "alice"),
        (EventType.OWNERSHIP_TAKEN, "owner_user_id", None),
        (EventType.OWNERSHIP_RELEASED, "event_id", "c0ffee0012344abc9def0123456789ab"),
        (EventType.OWNERSHIP_RELEASED, "timestamp", "2025-03-14T10:26:53+01:00"),
        (EventType.OWNERSHIP_RELEASED, "timestamp", "2025-03-14T09:26:53"),
        (EventType.OWNERSHIP_RELEASED, "timestamp", 1741944413),
        (EventType.OWNERSHIP_RELEASED, "tenant_id", ""),
        (EventType.STATUS_CHANGED, "old_status", "IN_PROGRESS"),
        (EventType.STATUS_CHANGED, "new_status", None),
        (EventType.STATUS_CHANGED, "task_version", 0),
        (EventType.STATUS_CHANGED, "task_version", "3"),
        (EventType.STATUS_CHANGED, "project_id", None),
        (EventType.TASK_CREATED, "title", ""),
        (EventType.TASK_CREATED, "title", "x" * 256),
        (EventType.TASK_CREATED, "estimated_hours", 0),
        (EventType.TASK_CREATED, "estimated_hours", 41),
        (EventType.TASK_CREATED, "acceptance_criteria_refs", []),
        (EventType.TASK_UPDATED, "acceptance_criteria_refs", ["AC-1", "  "]),
        (EventType.TASK_UPDATED, "acceptance_criteria_refs", "AC-1"),
        (EventType.TASK_UPDATED, "org_id", ""),
        (EventType.TASK_UPDATED, "sprint_id", "next-sprint"),
    ],
)
def test_schema_rejects_bad_values(
    kind: EventType, field: str, value: Any, events: list[TaskEventBase], strict_validator: Validate
) -> None:
    event = first_of(events, kind) | {field: value}
    with pytest.raises(ValidationError):
        strict_validator(schema_for(kind), event)


def test_schema_accepts_unknown_fields(events: list[TaskEventBase], strict_validator: Validate) -> None:
    for kind in EventType:
        event = first_of(events, kind) | {"trace_id": "abc", "future": {"nested": [1, None]}}
        strict_validator(schema_for(kind), event)


@pytest.mark.parametrize("kind", list(REFERENCE_SHAPES))
def test_reference_shapes_are_valid_subsets(
    kind: EventType, events: list[TaskEventBase], strict_validator: Validate
) -> None:
    shape = REFERENCE_SHAPES[kind]
    Draft202012Validator.check_schema(shape)
    ours = schema_for(kind)
    assert set(shape["required"]) <= set(ours["required"])
    samples = [wire(event) for event in events if event.type == kind.value]
    assert len(samples) > 10
    for sample in samples:
        strict_validator(shape, sample)


def test_schema_for_returns_a_fresh_copy() -> None:
    schema_for(EventType.TASK_CREATED)["properties"].clear()
    assert "title" in schema_for("task_created")["properties"]


@pytest.mark.parametrize(
    ("event_type", "version"),
    [("nope", 1), ("ownership_taken", 2), ("ownership_taken", 0), ("../v1/ownership_taken", 1), ("", 1)],
)
def test_schema_for_refuses_what_is_not_published(event_type: str, version: int) -> None:
    with pytest.raises(ValueError, match="no schema"):
        schema_for(event_type, version)


def test_validate_against_schema_accepts_every_sample(events: list[TaskEventBase]) -> None:
    for event in events:
        validate_against_schema(wire(event))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"owner_user_id": "alice"}, "owner_user_id"),
        ({"type": "exploded"}, "no schema"),
        ({"type": None}, "string 'type'"),
        ({"schema_version": True}, "integer 'schema_version'"),
        ({"schema_version": 7}, "no schema"),
        ({"task_version": -1}, "task_version"),
    ],
)
def test_validate_against_schema_raises_invalid_event(
    change: dict[str, Any], message: str, events: list[TaskEventBase]
) -> None:
    with pytest.raises(InvalidEvent, match=message):
        validate_against_schema(first_of(events, EventType.OWNERSHIP_TAKEN) | change)


def test_validate_against_schema_refuses_a_non_object() -> None:
    with pytest.raises(InvalidEvent, match="JSON object"):
        validate_against_schema([])  # type: ignore[arg-type]
