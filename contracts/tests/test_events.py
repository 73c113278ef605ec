"""The event models: their JSON satisfies the schemas, round-trips, and they accept exactly what the
schemas accept."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from sprintboard_contracts.events import (
    EVENT_MODELS,
    InvalidEvent,
    OwnershipReleased,
    OwnershipTaken,
    StatusChanged,
    TaskCreated,
    TaskEvent,
    TaskEventBase,
    TaskStatus,
    TaskUpdated,
    event_to_json,
    parse_event,
    schema_for,
    validate_against_schema,
)
from sprintboard_contracts.subjects import EventType
from sprintboard_contracts.wire import decode_event

Validate = Callable[[dict[str, Any], Any], None]
SOME_UUID = "c0ffee00-1234-4abc-9def-0123456789ab"


def wire(event: TaskEventBase) -> dict[str, Any]:
    decoded: dict[str, Any] = json.loads(event_to_json(event))
    return decoded


def first_of(events: list[TaskEventBase], kind: EventType) -> TaskEventBase:
    return next(event for event in events if event.type == kind.value)


def test_every_sample_covers_every_type(events: list[TaskEventBase]) -> None:
    assert {event.type for event in events} == {kind.value for kind in EventType}
    assert len(events) >= 5 * 40


def test_every_events_json_validates_against_its_schema(
    events: list[TaskEventBase], strict_validator: Validate
) -> None:
    for event in events:
        strict_validator(schema_for(event.type), wire(event))


@pytest.mark.parametrize("kind", list(EventType))
def test_model_fields_are_the_schema_properties(kind: EventType) -> None:
    schema, model = schema_for(kind), EVENT_MODELS[kind]
    assert set(model.model_fields) == set(schema["properties"]) == set(schema["required"])
    assert model.model_fields["type"].default == kind.value


def test_json_round_trips_through_parse_event(events: list[TaskEventBase]) -> None:
    for event in events:
        data = event_to_json(event)
        for form in (data, bytearray(data), data.decode(), json.loads(data)):
            parsed = parse_event(form)
            assert type(parsed) is type(event)
            assert parsed == event
            assert event_to_json(parsed) == data


def test_timestamps_are_emitted_in_utc_with_z(events: list[TaskEventBase]) -> None:
    for event in events:
        text = wire(event)["timestamp"]
        assert text.endswith("Z"), text
        assert datetime.fromisoformat(text) == event.timestamp
        assert event.timestamp.utcoffset() == timedelta(0)


def test_an_aware_timestamp_is_converted_to_utc_and_a_naive_one_refused(events: list[TaskEventBase]) -> None:
    fields = first_of(events, EventType.OWNERSHIP_TAKEN).model_dump()
    paris = datetime(2025, 3, 14, 10, 26, 53, tzinfo=timezone(timedelta(hours=1)))
    event = OwnershipTaken(**fields | {"timestamp": paris})
    assert event.timestamp == paris and event.timestamp.tzinfo is UTC
    assert wire(event)["timestamp"] == "2025-03-14T09:26:53Z"
    with pytest.raises(ValidationError, match="timezone-aware"):
        OwnershipTaken(**fields | {"timestamp": datetime(2025, 3, 14, 9, 26, 53)})


def test_json_is_compact_and_carries_nulls(events: list[TaskEventBase]) -> None:
    for event in events:
        data = event_to_json(event)
        compact = json.dumps(json.loads(data), separators=(",", ":"), ensure_ascii=False).encode()
        assert data == compact
        assert set(json.loads(data)) == set(type(event).model_fields)


def test_a_task_created_without_an_owner_says_so_on_the_wire(events: list[TaskEventBase]) -> None:
    fields = first_of(events, EventType.TASK_CREATED).model_dump(exclude={"owner_user_id"})
    assert wire(TaskCreated(**fields))["owner_user_id"] is None


def test_constructing_needs_no_type_or_schema_version(events: list[TaskEventBase]) -> None:
    fields = first_of(events, EventType.STATUS_CHANGED).model_dump(exclude={"type", "schema_version"})
    event = StatusChanged(**fields)
    assert (event.type, event.schema_version) == ("status_changed", 1)


def test_unknown_fields_survive_a_round_trip(events: list[TaskEventBase]) -> None:
    data = wire(first_of(events, EventType.OWNERSHIP_RELEASED)) | {"trace": {"id": "t-1", "hops": [1, 2]}}
    event = parse_event(data)
    assert isinstance(event, OwnershipReleased)
    assert event.model_extra == {"trace": {"id": "t-1", "hops": [1, 2]}}
    assert wire(event) == data


def test_models_are_frozen(events: list[TaskEventBase]) -> None:
    event = first_of(events, EventType.TASK_UPDATED)
    with pytest.raises(ValidationError):
        event.task_version = 99  # type: ignore[misc]


def test_the_union_dispatches_on_type(events: list[TaskEventBase]) -> None:
    adapter: TypeAdapter[TaskEvent] = TypeAdapter(TaskEvent)
    expected = {OwnershipTaken, OwnershipReleased, StatusChanged, TaskCreated, TaskUpdated}
    assert {type(adapter.validate_json(event_to_json(event))) for event in events} == expected
    assert set(EVENT_MODELS.values()) == expected


def test_statuses_compare_as_plain_strings(events: list[TaskEventBase]) -> None:
    event = first_of(events, EventType.STATUS_CHANGED)
    assert isinstance(event, StatusChanged)
    assert event.old_status == "owned" and event.new_status == TaskStatus.INPROGRESS


@pytest.mark.parametrize(
    ("junk", "message"),
    [
        (b"", "not valid JSON"),
        (b"{", "not valid JSON"),
        (b"\xff\xfe\x00", "not valid JSON"),
        ("not json at all", "not valid JSON"),
        (b'{"type": "ownership_taken", "task_version": NaN}', "not valid JSON"),
        (b"[]", "JSON object"),
        (b"null", "JSON object"),
        (b'"ownership_taken"', "JSON object"),
        (b"42", "JSON object"),
        (42, "JSON bytes, text or a dict"),
        (None, "JSON bytes, text or a dict"),
        (b"{}", "no 'type'"),
        (b'{"type": "task_deleted"}', "unknown event type 'task_deleted'"),
        (b'{"type": ["ownership_taken"]}', "unknown event type"),
        (b'{"type": "ownership_taken"}', "missing actor_user_id, event_id"),
    ],
)
def test_parse_event_rejects_junk_with_invalid_event(junk: Any, message: str) -> None:
    with pytest.raises(InvalidEvent, match=message) as caught:
        parse_event(junk)
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize("kind", list(EventType))
def test_parse_event_requires_every_field_even_those_with_defaults(
    kind: EventType, events: list[TaskEventBase]
) -> None:
    data = wire(first_of(events, kind))
    for name in data:
        if name == "type":
            continue
        with pytest.raises(InvalidEvent, match=f"missing {name}$"):
            parse_event({k: v for k, v in data.items() if k != name})


def test_parse_event_errors_name_the_field_but_not_its_value(events: list[TaskEventBase]) -> None:
    data = wire(first_of(events, EventType.OWNERSHIP_TAKEN)) | {"owner_user_id": "secret-alice@example.com"}
    with pytest.raises(InvalidEvent) as caught:
        parse_event(json.dumps(data))
    assert str(caught.value).startswith("invalid ownership_taken event: owner_user_id: must be a UUID")
    assert "secret" not in str(caught.value)


UUIDISH = [
    SOME_UUID,
    SOME_UUID.upper(),
    uuid.UUID(SOME_UUID).hex,
    f"urn:uuid:{SOME_UUID}",
    f"{{{SOME_UUID}}}",
]
TIMESTAMPS = [
    "2025-03-14T09:26:53Z",
    "2025-03-14T09:26:53.1Z",
    "2025-03-14T09:26:53.123456789Z",
    "2025-03-14T09:26:53+00:00",
    "2025-03-14T09:26:53+01:00",
    "2025-03-14T09:26:53-00:00",
    "2025-03-14T09:26:53",
    "2025-03-14 09:26:53Z",
    "2025-03-14T09:26:53z",
    "2025-13-14T09:26:53Z",
    "2025-03-14T24:00:00Z",
    "2025-03-14",
]
CANDIDATES: list[Any] = [
    None, "", " ", "x", "x" * 255, "x" * 256, "user:abc", *UUIDISH, *TIMESTAMPS,
    0, 1, 2, 40, 41, -1, 10**12, 1.0, 2.0, 2.5, True, False, "1",
    [], ["AC-1"], [""], [" "], ["AC-1", 1], ["AC-1", "AC-1"], {}, {"a": 1},
    "available", "owned", "inprogress", "completed", "done", "OWNED", "in_progress",
    *[kind.value for kind in EventType],
]  # fmt: skip


def _accepts(check: Callable[[Any], Any], data: Any) -> bool:
    try:
        check(data)
    except InvalidEvent:
        return False
    return True


def test_both_decoders_accept_exactly_what_the_schema_accepts(events: list[TaskEventBase]) -> None:
    """Every field set to every candidate value, or removed: the model, the fast decoder and the schema
    must agree."""
    bases = [wire(first_of(events, kind)) for kind in EventType] + [wire(events[-1]), wire(events[-41])]
    disagreements, verdicts = [], []
    for base in bases:
        variants = [{k: v for k, v in base.items() if k != name} for name in base]
        variants += [base | {name: value} for name in base for value in CANDIDATES]
        variants += [base | {"unknown_addition": value} for value in CANDIDATES]
        for variant in variants:
            by_schema = _accepts(validate_against_schema, variant)
            data = json.dumps(variant)
            by_model, by_decoder = _accepts(parse_event, data), _accepts(decode_event, data.encode())
            verdicts.append(by_schema)
            if not by_schema == by_model == by_decoder:
                disagreements.append((variant.get("type"), by_schema, by_model, by_decoder, variant))
    assert not disagreements, disagreements[:5]
    assert verdicts.count(False) > 500 and verdicts.count(True) > 500
