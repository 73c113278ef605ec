"""The fast decoder: it reads every sample event as the model does and refuses junk like the model."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC
from typing import Any

import msgspec
import pytest

from sprintboard_contracts.events import (
    UUID_PATTERN,
    InvalidEvent,
    TaskEventBase,
    event_to_json,
    parse_event,
    schema_for,
)
from sprintboard_contracts.subjects import EventType
from sprintboard_contracts.wire import WIRE_EVENTS, _ids_hold, decode_event, timestamp_of


def _fields(event: TaskEventBase) -> dict[str, Any]:
    decoded: dict[str, Any] = json.loads(event_to_json(event))
    return decoded


@pytest.mark.parametrize("struct", WIRE_EVENTS)
def test_struct_fields_are_the_schema_properties(struct: type[Any]) -> None:
    kind = struct.__struct_config__.tag
    schema = schema_for(kind)
    assert {"type", *struct.__struct_fields__} == set(schema["properties"]) == set(schema["required"])
    assert {s.__struct_config__.tag for s in WIRE_EVENTS} == {k.value for k in EventType}


def test_every_sample_decodes_to_the_values_the_model_reads(events: list[TaskEventBase]) -> None:
    for event in events:
        data = event_to_json(event)
        wire = decode_event(data)
        assert wire.type == event.type
        assert msgspec.to_builtins(wire) == _fields(event)
        assert timestamp_of(wire) == event.timestamp.timestamp()
        for form in (bytearray(data), memoryview(data), data.decode()):
            assert decode_event(form) == wire


def test_unknown_fields_are_accepted_and_left_to_the_body(events: list[TaskEventBase]) -> None:
    data = _fields(events[1]) | {"trace": {"id": "t-1", "hops": [1, 2]}}
    assert decode_event(json.dumps(data).encode()).task_id == data["task_id"]


@pytest.mark.parametrize(
    ("junk", "message"),
    [
        (b"", "not valid JSON"),
        (b"{", "not valid JSON"),
        (b"\xff\xfe\x00", "not valid JSON"),
        (b'{"type": "ownership_taken", "task_version": NaN}', "not valid JSON"),
        (b"[]", "Expected `object`"),
        (b"null", "Expected `object`"),
        (b"42", "Expected `object`"),
        (b"{}", "missing required field `type`"),
        (b'{"type": "task_deleted"}', "Invalid value 'task_deleted' - at `\\$.type`"),
        (b'{"type": ["ownership_taken"]}', "at `\\$.type`"),
        (b'{"type": "ownership_taken"}', "missing required field `event_id`"),
    ],
)
def test_junk_is_an_invalid_event(junk: bytes, message: str) -> None:
    with pytest.raises(InvalidEvent, match=message):
        decode_event(junk)
    with pytest.raises(InvalidEvent):
        parse_event(junk)


def test_errors_name_the_field_but_not_its_value(events: list[TaskEventBase]) -> None:
    data = _fields(events[1]) | {"owner_user_id": "secret-alice@example.com"}
    with pytest.raises(InvalidEvent, match=r"at `\$.owner_user_id`") as caught:
        decode_event(json.dumps(data))
    assert "secret" not in str(caught.value)


@pytest.mark.parametrize("day", ["2025-02-29", "2024-04-31", "2025-06-31"])
def test_a_date_that_does_not_exist_is_refused_like_the_model_refuses_it(
    day: str, events: list[TaskEventBase]
) -> None:
    data = json.dumps(_fields(events[1]) | {"timestamp": f"{day}T10:00:00Z"})
    with pytest.raises(InvalidEvent, match="timestamp"):
        decode_event(data)
    with pytest.raises(InvalidEvent, match="timestamp"):
        parse_event(data)
    leap = json.dumps(_fields(events[1]) | {"timestamp": "2024-02-29T10:00:00.5+00:00"})
    assert timestamp_of(decode_event(leap)) == parse_event(leap).timestamp.timestamp()
    assert parse_event(leap).timestamp.tzinfo is UTC


def test_uppercase_uuids_are_taken_as_sent(events: list[TaskEventBase]) -> None:
    sprint = str(uuid.uuid4()).upper()
    data = json.dumps(_fields(events[1]) | {"sprint_id": sprint})
    assert decode_event(data).sprint_id == sprint
    assert str(parse_event(data).sprint_id) == sprint.lower()  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "bad_id",
    [
        "0123456-789ab-cdef-0123-456789abcdef",  # 36 characters, the first hyphen one place early
        "01234567-89ab-cdef-0123-456789abcdeg",  # not hex
        "01234567-89ab-cdef-0123-456789abcde٣",  # a unicode digit
        "01234567-89ab-cdef-0123-456789abcde ",  # trailing space
        "0123456789abcdef0123456789abcdef----",  # right length, hyphens at the end
    ],
)
def test_each_id_field_is_checked_on_its_own(bad_id: str, events: list[TaskEventBase]) -> None:
    # The fast check matches the ids joined: a bad one must be refused wherever it stands.
    for event in events:
        fields = _fields(event)
        ids = [n for n, v in fields.items() if n.endswith("_id") and n not in ("tenant_id", "org_id") and v]
        for name in ids:
            assert len(bad_id) == 36
            with pytest.raises(InvalidEvent, match=rf"at `\$.{name}`"):
                decode_event(json.dumps(fields | {name: bad_id}))


def test_the_ids_check_matches_the_uuid_pattern_character_by_character() -> None:
    # `_ids_hold` stands for UUID_PATTERN over ids joined: every character in every place of one id,
    # alone and between valid ones, gets the pattern's verdict.
    valid = "01234567-89ab-cdef-ABCD-456789abcdef"
    others = "0123456789abcdefABCDEFgGzZ-_ .:/\n\t\x00é٣\uff41\uff10€😀"  # fullwidth a and 0
    pattern = re.compile(UUID_PATTERN.removesuffix("$") + r"\Z")
    for at in range(36):
        for c in others:
            candidate = valid[:at] + c + valid[at + 1 :]
            if len(candidate) != 36:
                continue
            expected = pattern.match(candidate) is not None
            for ids in (candidate, valid + candidate, candidate + valid + valid):
                assert _ids_hold(ids) is expected, (candidate, ids)
    assert _ids_hold("") and _ids_hold(valid * 8)
