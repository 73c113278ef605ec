"""The project aggregate: a named container of stories and sprints."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID, uuid4

from sprintboard_backlog.domain.errors import ValidationFailed
from sprintboard_backlog.domain.user import Actor

MAX_NAME_LENGTH = 255


def clean_title(value: str, field: str = "title") -> str:
    """Trimmed and 1..255 characters, or `ValidationFailed`."""
    cleaned = value.strip()
    if not 1 <= len(cleaned) <= MAX_NAME_LENGTH:
        raise ValidationFailed(
            f"{field} must be 1..{MAX_NAME_LENGTH} characters after trimming",
            details=[{"field": field, "reason": "length"}],
        )
    return cleaned


@dataclass(slots=True)
class Project:
    id: UUID
    tenant_id: str
    org_id: str | None
    name: str
    description: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def create(cls, actor: Actor, name: str, description: str | None, now: datetime) -> Project:
        return cls(
            id=uuid4(),
            tenant_id=actor.tenant_id,
            org_id=actor.org_id,
            name=clean_title(name, "name"),
            description=description,
            created_at=now,
            updated_at=now,
        )
