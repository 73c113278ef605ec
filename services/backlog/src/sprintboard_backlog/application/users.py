"""Users provisioned on first sight, remembered in-process so the hot path does not write each request."""

from __future__ import annotations

from collections.abc import Callable
from uuid import UUID

from sprintboard_backlog.application.unit_of_work import UnitOfWork
from sprintboard_backlog.domain.errors import NotFound
from sprintboard_backlog.domain.user import Actor, User

MAX_REMEMBERED = 100_000


class UserDirectory:
    """Upserts a user row the first time a (tenant, user, name, email) is seen by this process."""

    def __init__(self, uow_factory: Callable[[], UnitOfWork]) -> None:
        self._uow_factory = uow_factory
        self._known: set[tuple[str, UUID, str, str | None]] = set()

    async def provision(self, user: User) -> None:
        key = (user.tenant_id, user.id, user.name, user.email)
        if key in self._known:
            return
        uow = self._uow_factory()
        async with uow:
            await uow.users.upsert(user)
            await uow.commit()
        if len(self._known) >= MAX_REMEMBERED:
            self._known.clear()
        self._known.add(key)


async def get_user(uow: UnitOfWork, actor: Actor, user_id: UUID) -> User:
    async with uow:
        user = await uow.users.get(actor.tenant_id, user_id)
    if user is None:
        raise NotFound(f"user {user_id} not found", code="user_not_found")
    return user
