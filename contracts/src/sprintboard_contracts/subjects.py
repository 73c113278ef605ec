"""NATS subject names of task events: `backlog.tasks.<version>.<project_id>.<type>`, built and parsed."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from uuid import UUID

STREAM_NAME = "BACKLOG_TASKS"
SUBJECT_PREFIX = "backlog.tasks"
SUBJECT_VERSION = "v1"
STREAM_SUBJECTS = [f"{SUBJECT_PREFIX}.>"]
ALL_V1 = f"{SUBJECT_PREFIX}.{SUBJECT_VERSION}.>"

_VERSION = re.compile(r"v[1-9][0-9]*")


class EventType(StrEnum):
    """The event types; each is a schema file name and the last token of its subject."""

    OWNERSHIP_TAKEN = "ownership_taken"
    OWNERSHIP_RELEASED = "ownership_released"
    STATUS_CHANGED = "status_changed"
    TASK_CREATED = "task_created"
    TASK_UPDATED = "task_updated"


@dataclass(frozen=True, slots=True)
class Subject:
    """A parsed task event subject."""

    version: str
    project_id: UUID
    event_type: EventType

    def __str__(self) -> str:
        return f"{SUBJECT_PREFIX}.{self.version}.{self.project_id}.{self.event_type.value}"


def _project_token(project_id: UUID | str) -> str:
    # Always the canonical lower-case form, so a project's filter matches every one of its subjects.
    return str(project_id if isinstance(project_id, UUID) else UUID(project_id))


def subject_for(project_id: UUID | str, event_type: EventType | str) -> str:
    """The subject an event of this type and project is published on; `ValueError` for an unknown type."""
    return f"{SUBJECT_PREFIX}.{SUBJECT_VERSION}.{_project_token(project_id)}.{EventType(event_type).value}"


def filter_for_project(project_id: UUID | str) -> str:
    """The subject filter matching every v1 event of one project."""
    return f"{SUBJECT_PREFIX}.{SUBJECT_VERSION}.{_project_token(project_id)}.*"


def parse_subject(subject: str) -> Subject:
    """The parts of a task event subject; `ValueError` when it is not one."""
    tokens = subject.split(".")
    if len(tokens) != 5 or ".".join(tokens[:2]) != SUBJECT_PREFIX:
        raise ValueError(
            f"not a task event subject: {subject!r} (expected {SUBJECT_PREFIX}.vN.<project>.<type>)"
        )
    _, _, version, project, event_type = tokens
    if not _VERSION.fullmatch(version):
        raise ValueError(f"bad version token {version!r} in subject {subject!r}")
    try:
        project_id = UUID(project)
    except ValueError:
        raise ValueError(f"bad project id {project!r} in subject {subject!r}") from None
    if str(project_id) != project:
        raise ValueError(f"project id {project!r} in subject {subject!r} is not in canonical form")
    try:
        kind = EventType(event_type)
    except ValueError:
        raise ValueError(f"unknown event type {event_type!r} in subject {subject!r}") from None
    return Subject(version=version, project_id=project_id, event_type=kind)
