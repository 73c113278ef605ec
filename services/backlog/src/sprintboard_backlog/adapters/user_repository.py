"""Users in PostgreSQL, keyed by tenant and the deterministic internal user id."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert

from sprintboard_backlog.adapters.tables import users
from sprintboard_backlog.adapters.transaction import LazyTransaction
from sprintboard_backlog.domain.user import User


class SqlUserRepository:
    def __init__(self, tx: LazyTransaction) -> None:
        self._tx = tx

    async def upsert(self, user: User) -> None:
        stmt = insert(users).values(
            tenant_id=user.tenant_id,
            id=user.id,
            subject=user.subject,
            issuer=user.issuer,
            name=user.name,
            email=user.email,
            created_at=func.now(),
            updated_at=func.now(),
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=[users.c.tenant_id, users.c.id],
            set_={"name": stmt.excluded.name, "email": stmt.excluded.email, "updated_at": func.now()},
            where=(users.c.name.is_distinct_from(stmt.excluded.name))
            | (users.c.email.is_distinct_from(stmt.excluded.email)),
        )
        await self._tx.write(stmt)

    async def get(self, tenant_id: str, user_id: UUID) -> User | None:
        stmt = select(users).where(users.c.tenant_id == tenant_id, users.c.id == user_id)
        row = (await self._tx.read(stmt)).first()
        if row is None:
            return None
        return User(
            id=row.id,
            tenant_id=row.tenant_id,
            subject=row.subject,
            issuer=row.issuer,
            name=row.name,
            email=row.email,
        )
