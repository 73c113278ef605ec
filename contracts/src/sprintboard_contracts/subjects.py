"""NATS subject names of task events, built and parsed.

v1: `backlog.tasks.v1.<project_id>.<type>`; v2, which carries what NATS routes by:
`backlog.tasks.v2.<tenant token>.<project_id>.<sprint_id or none>.<type>`. Both carry the same v1 payloads.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from uuid import UUID

from sprintboard_contracts.tenant_token import (
    TENANT_TOKEN_PATTERN,
    is_hashed_token,
    tenant_from_token,
    tenant_token,
)

STREAM_NAME = "BACKLOG_TASKS"
SUBJECT_PREFIX = "backlog.tasks"
SUBJECT_VERSION = "v1"
ALL_V1 = f"{SUBJECT_PREFIX}.{SUBJECT_VERSION}.>"
SUBJECT_VERSION_V2 = "v2"
ALL_V2 = f"{SUBJECT_PREFIX}.{SUBJECT_VERSION_V2}.>"
# What BACKLOG_TASKS stores: each event once, on its v2 subject.
STREAM_SUBJECTS = [ALL_V2]
# The filter that reads every event BACKLOG_TASKS holds: its v2 subjects, and the v1 subjects of events
# stored before a deployment was upgraded to v2 (they stay until the stream's retention drops them).
ALL_TASK_EVENTS = f"{SUBJECT_PREFIX}.>"
# The stream v1 consumers read: no subject of its own is published to; it sources BACKLOG_TASKS through
# `V1_SOURCE_TRANSFORMS`, so it holds every event once, on its v1 subject, in BACKLOG_TASKS's order.
V1_STREAM_NAME = "BACKLOG_TASKS_V1"
V1_STREAM_SUBJECTS = [ALL_V1]
NO_SPRINT = "none"
# The NATS subject transform (source, destination) that turns each v2 subject into the v1 subject of the same
# event, by dropping the tenant and sprint tokens: what a stream sourcing v1 subjects applies (events.md).
# Needs NATS >= 2.10: a 2.9 server accepts `subject_transforms` and silently drops them.
V1_FROM_V2_TRANSFORM = (
    f"{SUBJECT_PREFIX}.{SUBJECT_VERSION_V2}.*.*.*.*",
    f"{SUBJECT_PREFIX}.{SUBJECT_VERSION}.{{{{wildcard(2)}}}}.{{{{wildcard(4)}}}}",
)
# What the v1 stream applies to BACKLOG_TASKS's messages: v2 subjects become v1 ones, and the v1 subjects
# stored before the upgrade are kept as they are.
V1_SOURCE_TRANSFORMS = (V1_FROM_V2_TRANSFORM, (ALL_V1, ALL_V1))

# The live stream the notifier's interest routing follows (docs/architecture.md, "Interest routing"): it
# sources BACKLOG_TASKS onto one subject per tenant, `backlog.last.<tenant token>`, keeps only the last
# message of each, and republishes every message it stores on `backlog.live.<tenant token>`, where each
# notifier instance holds one core subscription per tenant its sockets follow. What it stores numbers one
# tenant's events (`Nats-Last-Sequence`), so a lost live message shows at the tenant's next one.
LIVE_STREAM_NAME = "BACKLOG_TASKS_LIVE"
LIVE_LAST_PREFIX = "backlog.last"
LIVE_PREFIX = "backlog.live"
LIVE_SOURCE_TRANSFORM = (
    f"{SUBJECT_PREFIX}.{SUBJECT_VERSION_V2}.*.*.*.*",
    f"{LIVE_LAST_PREFIX}.{{{{wildcard(1)}}}}",
)
LIVE_REPUBLISH = (f"{LIVE_LAST_PREFIX}.*", f"{LIVE_PREFIX}.{{{{wildcard(1)}}}}")

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
    return Subject(
        version=version,
        project_id=_uuid_token(project, "project", subject),
        event_type=_event_type_token(event_type, subject),
    )


def _uuid_token(token: str, what: str, subject: str) -> UUID:
    try:
        value = UUID(token)
    except ValueError:
        raise ValueError(f"bad {what} id {token!r} in subject {subject!r}") from None
    if str(value) != token:
        raise ValueError(f"{what} id {token!r} in subject {subject!r} is not in canonical form")
    return value


def _event_type_token(token: str, subject: str) -> EventType:
    try:
        return EventType(token)
    except ValueError:
        raise ValueError(f"unknown event type {token!r} in subject {subject!r}") from None


@dataclass(frozen=True, slots=True)
class SubjectV2:
    """A parsed v2 task event subject; `tenant_id` is `None` when the tenant token is the hashed form."""

    tenant_token: str
    project_id: UUID
    sprint_id: UUID | None
    event_type: EventType

    @property
    def tenant_id(self) -> str | None:
        return None if is_hashed_token(self.tenant_token) else tenant_from_token(self.tenant_token)

    def v1(self) -> str:
        """The v1 subject of the same event: the v2 subject without its tenant and sprint tokens."""
        return subject_for(self.project_id, self.event_type)

    def __str__(self) -> str:
        return _v2(
            self.tenant_token, str(self.project_id), _sprint_token(self.sprint_id), self.event_type.value
        )


def _v2(tenant: str, project: str, sprint: str, event_type: str) -> str:
    return f"{SUBJECT_PREFIX}.{SUBJECT_VERSION_V2}.{tenant}.{project}.{sprint}.{event_type}"


def _sprint_token(sprint_id: UUID | str | None) -> str:
    return NO_SPRINT if sprint_id is None else _project_token(sprint_id)


def subject_v2_for(
    tenant_id: str, project_id: UUID | str, sprint_id: UUID | str | None, event_type: EventType | str
) -> str:
    """The v2 subject of an event; `ValueError` for an empty tenant id, a bad uuid or an unknown type."""
    return _v2(
        tenant_token(tenant_id),
        _project_token(project_id),
        _sprint_token(sprint_id),
        EventType(event_type).value,
    )


def filter_v2_for_tenant(tenant_id: str) -> str:
    """The subject filter matching every v2 event of one tenant."""
    return f"{SUBJECT_PREFIX}.{SUBJECT_VERSION_V2}.{tenant_token(tenant_id)}.>"


def live_subject(tenant_id: str) -> str:
    """Where the live stream republishes one tenant's events (a core subscription, no JetStream)."""
    return f"{LIVE_PREFIX}.{tenant_token(tenant_id)}"


def live_last_subject(tenant_id: str) -> str:
    """The live stream's subject of one tenant: its last event is stored there."""
    return f"{LIVE_LAST_PREFIX}.{tenant_token(tenant_id)}"


def filter_v2_for_project(tenant_id: str, project_id: UUID | str) -> str:
    """The subject filter matching every v2 event of one tenant's project, in any sprint or none."""
    return _v2(tenant_token(tenant_id), _project_token(project_id), "*", "*")


def filter_v2_for_sprint(tenant_id: str, sprint_id: UUID | str | None) -> str:
    """The subject filter matching every v2 event of one tenant's sprint (`None`: the tasks in no sprint)."""
    return _v2(tenant_token(tenant_id), "*", _sprint_token(sprint_id), "*")


# Past this many filters a feed is read by its tenant filter: a consumer with hundreds of filters costs the
# server more than the other subscriptions' events it would spare.
MAX_FEED_FILTERS = 32


def filters_for_feed(
    tenant_id: str,
    sprint_ids: Iterable[UUID | str] = (),
    project_ids: Iterable[UUID | str] = (),
    *,
    whole_tenant: bool = False,
) -> tuple[str, ...]:
    """Filters matching every stored event a feed of `tenant_id` may get: the v2 events of its sprints and
    projects (of the whole tenant if `whole_tenant`, or if it names none), and the v1 events stored before
    the upgrade, which carry no tenant (all of them, or only its projects' when it follows projects alone).
    A superset: the reader still checks each event. No filter is another's subset or a duplicate, so the
    tuple is valid as one consumer's `filter_subjects` (NATS >= 2.10); sorted, so equal feeds read alike."""
    sprints = {filter_v2_for_sprint(tenant_id, s) for s in sprint_ids}
    projects = set(project_ids)
    v2 = sprints | {filter_v2_for_project(tenant_id, p) for p in projects}
    v1 = {filter_for_project(p) for p in projects} if projects and not sprints else {ALL_V1}
    if whole_tenant or not v2 or len(v2) + len(v1) > MAX_FEED_FILTERS:
        v2, v1 = {filter_v2_for_tenant(tenant_id)}, {ALL_V1}
    return tuple(sorted(v2 | v1))


def parse_subject_v2(subject: str) -> SubjectV2:
    """The parts of a v2 task event subject; `ValueError` when it is not one."""
    tokens = subject.split(".")
    if len(tokens) != 7 or ".".join(tokens[:3]) != f"{SUBJECT_PREFIX}.{SUBJECT_VERSION_V2}":
        raise ValueError(
            f"not a v2 task event subject: {subject!r} "
            f"(expected {SUBJECT_PREFIX}.{SUBJECT_VERSION_V2}.<tenant>.<project>.<sprint>.<type>)"
        )
    _, _, _, tenant, project, sprint, event_type = tokens
    if not TENANT_TOKEN_PATTERN.fullmatch(tenant):
        raise ValueError(f"bad tenant token {tenant!r} in subject {subject!r}")
    if not is_hashed_token(tenant):
        try:
            tenant_from_token(tenant)
        except ValueError as error:
            raise ValueError(f"{error} (in subject {subject!r})") from None
    return SubjectV2(
        tenant_token=tenant,
        project_id=_uuid_token(project, "project", subject),
        sprint_id=None if sprint == NO_SPRINT else _uuid_token(sprint, "sprint", subject),
        event_type=_event_type_token(event_type, subject),
    )
