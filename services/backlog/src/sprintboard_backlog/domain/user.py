"""Users and the acting caller: who did something, in which tenant."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID


@dataclass(frozen=True, slots=True)
class Actor:
    """The caller of a use case: an internal user id within one tenant."""

    user_id: UUID
    tenant_id: str
    org_id: str | None


@dataclass(frozen=True, slots=True)
class User:
    """A person known to a tenant, provisioned on first sight from token claims."""

    id: UUID
    tenant_id: str
    subject: str
    issuer: str | None
    name: str
    email: str | None
