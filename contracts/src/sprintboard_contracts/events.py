"""Task event models mirroring the JSON Schemas, with parsing, serialization and schema validation."""

from __future__ import annotations

import functools
import json
import re
from datetime import UTC, datetime
from enum import StrEnum
from importlib.resources import files
from typing import Annotated, Any, Final, Literal, NoReturn, TypeAlias
from uuid import UUID

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
)

from sprintboard_contracts.subjects import EventType

# The same patterns as the schema files (a test keeps them equal): the model accepts what they accept.
UUID_PATTERN: Final = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
TIMESTAMP_PATTERN: Final = (
    "^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]"
    "(\\.[0-9]+)?(Z|\\+00:00)$"
)
_UUID_RE = re.compile(UUID_PATTERN)
_TIMESTAMP_RE = re.compile(TIMESTAMP_PATTERN)


class InvalidEvent(ValueError):
    """A message that is not a valid task event (bad JSON, unknown type, missing or malformed field)."""


class TaskStatus(StrEnum):
    AVAILABLE = "available"
    OWNED = "owned"
    INPROGRESS = "inprogress"
    COMPLETED = "completed"


def _uuid(value: Any) -> Any:
    # Pydantic alone would also take hex without dashes, braces or `urn:uuid:`; the schema does not.
    if isinstance(value, UUID):
        return value
    if isinstance(value, str) and _UUID_RE.fullmatch(value):
        return UUID(value)
    raise ValueError("must be a UUID string (8-4-4-4-12 hexadecimal)")


def _timestamp(value: Any) -> Any:
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("must be timezone-aware")
        return value
    if isinstance(value, str) and _TIMESTAMP_RE.fullmatch(value):
        return value
    raise ValueError("must be an RFC 3339 UTC timestamp string, e.g. 2025-01-31T12:00:00Z")


def _to_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


def _integer(value: Any) -> Any:
    # What JSON Schema calls an integer: no booleans or numeric strings; 3.0 is 3.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("must be an integer")
    return value


EventUuid: TypeAlias = Annotated[UUID, BeforeValidator(_uuid)]
UtcTimestamp: TypeAlias = Annotated[datetime, BeforeValidator(_timestamp), AfterValidator(_to_utc)]
SchemaVersion: TypeAlias = Annotated[Literal[1], BeforeValidator(_integer)]
TaskVersion: TypeAlias = Annotated[int, BeforeValidator(_integer), Field(ge=1)]
EstimatedHours: TypeAlias = Annotated[int, BeforeValidator(_integer), Field(ge=1, le=40)]
Title: TypeAlias = Annotated[str, StringConstraints(min_length=1, max_length=255)]
CriterionRef: TypeAlias = Annotated[str, StringConstraints(min_length=1, pattern=r"\S")]


class TaskEventBase(BaseModel):
    """What every task event carries; unknown fields are kept, as consumers must tolerate additions."""

    model_config = ConfigDict(extra="allow", frozen=True)

    type: str
    schema_version: SchemaVersion = 1
    event_id: EventUuid
    timestamp: UtcTimestamp
    tenant_id: Annotated[str, StringConstraints(min_length=1)]
    org_id: Annotated[str, StringConstraints(min_length=1)] | None
    project_id: EventUuid
    sprint_id: EventUuid | None
    story_id: EventUuid
    task_id: EventUuid
    task_version: TaskVersion
    actor_user_id: EventUuid
    status: TaskStatus


class OwnershipTaken(TaskEventBase):
    type: Literal["ownership_taken"] = "ownership_taken"
    owner_user_id: EventUuid


class OwnershipReleased(TaskEventBase):
    type: Literal["ownership_released"] = "ownership_released"
    previous_owner_user_id: EventUuid


class StatusChanged(TaskEventBase):
    type: Literal["status_changed"] = "status_changed"
    old_status: TaskStatus
    new_status: TaskStatus
    changed_by_user_id: EventUuid


class _TaskFieldsEvent(TaskEventBase):
    title: Title
    description: str | None
    acceptance_criteria_refs: Annotated[list[CriterionRef], Field(min_length=1)]
    estimated_hours: EstimatedHours | None


class TaskCreated(_TaskFieldsEvent):
    type: Literal["task_created"] = "task_created"
    owner_user_id: EventUuid | None = None  # a new task has no owner; the JSON always carries the key


class TaskUpdated(_TaskFieldsEvent):
    type: Literal["task_updated"] = "task_updated"
    owner_user_id: EventUuid | None


TaskEvent: TypeAlias = Annotated[
    OwnershipTaken | OwnershipReleased | StatusChanged | TaskCreated | TaskUpdated,
    Field(discriminator="type"),
]

EVENT_MODELS: Final[dict[EventType, type[TaskEventBase]]] = {
    EventType.OWNERSHIP_TAKEN: OwnershipTaken,
    EventType.OWNERSHIP_RELEASED: OwnershipReleased,
    EventType.STATUS_CHANGED: StatusChanged,
    EventType.TASK_CREATED: TaskCreated,
    EventType.TASK_UPDATED: TaskUpdated,
}
_EVENT_ADAPTER: TypeAdapter[TaskEvent] = TypeAdapter(TaskEvent)
# On the wire every field is required (the schema says so); model defaults only ease construction.
_WIRE_FIELDS: Final = {kind: frozenset(model.model_fields) for kind, model in EVENT_MODELS.items()}


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not valid JSON")


def _decode(data: bytes | bytearray | str | dict[str, Any]) -> dict[str, Any]:
    if isinstance(data, dict):
        return data
    if not isinstance(data, bytes | bytearray | str):
        raise InvalidEvent(f"an event is JSON bytes, text or a dict, not {type(data).__name__}")
    try:
        decoded = json.loads(data, parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidEvent(f"event is not valid JSON: {exc}") from None
    if not isinstance(decoded, dict):
        raise InvalidEvent(f"event must be a JSON object, not {type(decoded).__name__}")
    return decoded


def _event_type(payload: dict[str, Any]) -> EventType:
    raw = payload.get("type")
    if raw is None:
        raise InvalidEvent("event has no 'type'")
    try:
        return EventType(raw)
    except ValueError:
        known = ", ".join(kind.value for kind in EventType)
        raise InvalidEvent(f"unknown event type {str(raw)[:64]!r} (expected one of {known})") from None


def _describe(exc: ValidationError, kind: EventType) -> str:
    # Field paths and reasons only: input values may be personal data and end up in logs.
    problems = []
    for error in exc.errors(include_url=False, include_input=False):
        where = ".".join(str(part) for part in error["loc"][1:]) or "(event)"
        problems.append(f"{where}: {error['msg'].removeprefix('Value error, ')}")
    return f"invalid {kind.value} event: " + "; ".join(problems)


def parse_event(data: bytes | bytearray | str | dict[str, Any]) -> TaskEvent:
    """The event in a message (JSON bytes or text, or a decoded JSON object); `InvalidEvent` if invalid."""
    payload = _decode(data)
    kind = _event_type(payload)
    missing = _WIRE_FIELDS[kind] - payload.keys()
    if missing:
        raise InvalidEvent(f"invalid {kind.value} event: missing {', '.join(sorted(missing))}")
    try:
        return _EVENT_ADAPTER.validate_python(payload)
    except ValidationError as exc:
        raise InvalidEvent(_describe(exc, kind)) from None


def event_to_json(event: TaskEventBase) -> bytes:
    """The event as compact UTF-8 JSON, every field present (nulls included), timestamps in UTC with `Z`."""
    return event.model_dump_json(exclude_none=False).encode()


@functools.cache
def _published(version: int) -> dict[str, str]:
    """The schema files of one version by event type (empty when the version does not exist)."""
    folder = files("sprintboard_contracts") / "schemas" / f"v{version}"
    if not folder.is_dir():
        return {}
    return {
        entry.name.removesuffix(".json"): entry.read_text(encoding="utf-8")
        for entry in folder.iterdir()
        if entry.name.endswith(".json")
    }


def _schema_text(event_type: str, version: int) -> str:
    text = None
    if isinstance(version, int) and not isinstance(version, bool) and version >= 1:
        text = _published(version).get(event_type)
    if text is None:
        raise ValueError(f"no schema for event type {event_type[:64]!r} version {version!r}")
    return text


def schema_for(event_type: str, version: int = 1) -> dict[str, Any]:
    """The JSON Schema of an event type and version (a fresh copy); `ValueError` when there is none."""
    schema: dict[str, Any] = json.loads(_schema_text(str(event_type), version))
    return schema


@functools.cache
def _validator(event_type: str, version: int) -> Draft202012Validator:
    return Draft202012Validator(
        schema_for(event_type, version), format_checker=Draft202012Validator.FORMAT_CHECKER
    )


def validate_against_schema(data: dict[str, Any]) -> None:
    """Check a decoded event against the schema its `type` and `schema_version` name; else `InvalidEvent`."""
    if not isinstance(data, dict):
        raise InvalidEvent(f"event must be a JSON object, not {type(data).__name__}")
    event_type, version = data.get("type"), data.get("schema_version")
    if isinstance(version, float) and version.is_integer():
        version = int(version)  # JSON Schema's integer; the schema itself then judges the value
    if not isinstance(event_type, str) or isinstance(version, bool) or not isinstance(version, int):
        raise InvalidEvent("event needs a string 'type' and an integer 'schema_version' to find its schema")
    try:
        validator = _validator(event_type, version)
    except ValueError as exc:
        raise InvalidEvent(str(exc)) from None
    error = best_match(validator.iter_errors(data))
    if error is not None:
        where = "/".join(str(part) for part in error.absolute_path) or "(event)"
        raise InvalidEvent(f"{event_type} v{version} violates its schema at {where}: {error.message}")
