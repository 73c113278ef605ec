"""Outbox rows: a domain task event as the contracts' event model, its subject and its exact JSON."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Insert, Text, Update, Uuid, bindparam, insert, select

from sprintboard_backlog.adapters.tables import outbox
from sprintboard_backlog.domain import events as domain
from sprintboard_contracts.events import EVENT_MODELS, TaskEventBase, event_to_json
from sprintboard_contracts.subjects import ALL_V1, EventType, subject_v2_for

_TYPES: dict[type[domain.TaskEvent], EventType] = {
    domain.OwnershipTaken: EventType.OWNERSHIP_TAKEN,
    domain.OwnershipReleased: EventType.OWNERSHIP_RELEASED,
    domain.StatusChanged: EventType.STATUS_CHANGED,
    domain.TaskCreated: EventType.TASK_CREATED,
    domain.TaskUpdated: EventType.TASK_UPDATED,
}


def _specific(event: domain.TaskEvent) -> dict[str, Any]:
    """The fields of one event type, beyond those every event carries."""
    if isinstance(event, domain.OwnershipTaken):
        return {"owner_user_id": event.owner_user_id}
    if isinstance(event, domain.OwnershipReleased):
        return {"previous_owner_user_id": event.previous_owner_user_id}
    if isinstance(event, domain.StatusChanged):
        return {
            "old_status": event.old_status.value,
            "new_status": event.new_status.value,
            "changed_by_user_id": event.changed_by_user_id,
        }
    if isinstance(event, domain.TaskCreated | domain.TaskUpdated):
        fields: dict[str, Any] = {
            "title": event.title,
            "description": event.description,
            "acceptance_criteria_refs": list(event.acceptance_criteria_refs),
            "estimated_hours": event.estimated_hours,
        }
        if isinstance(event, domain.TaskUpdated):
            fields["owner_user_id"] = event.owner_user_id
        return fields
    raise TypeError(f"no contract for {type(event).__name__}")


def to_contract(event: domain.TaskEvent) -> TaskEventBase:
    """The published model of a domain event (validated by the contracts' model)."""
    return EVENT_MODELS[_TYPES[type(event)]](
        event_id=event.event_id,
        timestamp=event.occurred_at,
        tenant_id=event.tenant_id,
        org_id=event.org_id,
        project_id=event.project_id,
        sprint_id=event.sprint_id,
        story_id=event.story_id,
        task_id=event.task_id,
        task_version=event.task_version,
        actor_user_id=event.actor_user_id,
        status=event.status.value,
        **_specific(event),
    )


def outbox_row(event: domain.TaskEvent) -> dict[str, Any]:
    """The outbox columns for one event: what the relay publishes, to which subject, with which id."""
    return {
        "event_id": event.event_id,
        "task_id": event.task_id,
        "subject": subject_v2_for(event.tenant_id, event.project_id, event.sprint_id, _TYPES[type(event)]),
        "payload": event_to_json(to_contract(event)).decode(),
    }


_V1_PREFIX = ALL_V1.removesuffix(">")


def publish_subject(subject: str, payload: str) -> str:
    """The subject a row is published on: its own, or for a row written with a v1 subject (before the
    upgrade to v2 subjects, docs/operations.md) the v2 subject of its event, from the event's fields."""
    if not subject.startswith(_V1_PREFIX):
        return subject
    event = json.loads(payload)
    return subject_v2_for(event["tenant_id"], event["project_id"], event.get("sprint_id"), event["type"])


INSERT_OUTBOX = insert(outbox)
_OUTBOX_COLUMNS = ("event_id", "task_id", "subject", "payload")


def with_outbox_row(task_write: Insert | Update) -> Insert:
    """One statement writing a task row and then, from its RETURNING, its outbox row (parameters `o_*`):
    atomic on its own, so it needs no BEGIN/COMMIT, and writes no outbox row when the task write matched
    no row (a lost race)."""
    written = task_write.cte("written_task")
    values = select(
        bindparam("o_event_id", type_=Uuid()),
        bindparam("o_task_id", type_=Uuid()),
        bindparam("o_subject", type_=Text()),
        bindparam("o_payload", type_=Text()),
    ).select_from(written)
    return insert(outbox).from_select(list(_OUTBOX_COLUMNS), values).add_cte(written)


def outbox_params(event: domain.TaskEvent) -> dict[str, Any]:
    """`outbox_row` as the `o_*` parameters of `with_outbox_row`."""
    return {f"o_{name}": value for name, value in outbox_row(event).items()}
