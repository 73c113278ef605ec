"""Users of the caller's tenant, and the caller."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter

from sprintboard_backlog.application.users import get_user
from sprintboard_backlog.entrypoints.http.dependencies import CurrentActor, CurrentIdentity, Uow
from sprintboard_backlog.entrypoints.http.routes import API_PREFIX
from sprintboard_backlog.entrypoints.http.schemas import MeOut, UserOut

router = APIRouter(prefix=f"{API_PREFIX}/users", tags=["users"])


@router.get("/me")
async def me(identity: CurrentIdentity) -> MeOut:
    return MeOut(
        id=identity.user_id,
        name=identity.name,
        email=identity.email,
        subject=identity.subject,
        organization_id=identity.org_id,
        tenant_id=identity.tenant_id,
    )


@router.get("/{user_id}")
async def user(user_id: UUID, actor: CurrentActor, uow: Uow) -> UserOut:
    found = await get_user(uow, actor, user_id)
    return UserOut(id=found.id, name=found.name, email=found.email)
