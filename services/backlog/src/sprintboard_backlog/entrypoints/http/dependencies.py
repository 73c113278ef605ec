"""Request dependencies as `Annotated` aliases: service context, unit of work, authenticated caller."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from sprintboard_backlog.application.unit_of_work import UnitOfWork
from sprintboard_backlog.domain.user import Actor, User
from sprintboard_backlog.entrypoints.http.context import ServiceContext
from sprintboard_backlog.entrypoints.http.errors import Unauthorized
from sprintboard_kit.tokens import Identity, InvalidToken

_bearer = HTTPBearer(auto_error=False, description="A JWT: HS256 with the shared secret, or RS256 via JWKS.")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]

# Few, flat dependencies: each one costs resolution time on every request of the hot path.


async def get_context(request: Request) -> ServiceContext:
    context: ServiceContext = request.state.context
    return context


Context = Annotated[ServiceContext, Depends(get_context)]


async def get_uow(request: Request) -> UnitOfWork:
    return request.state.context.uow_factory()  # type: ignore[no-any-return]


Uow = Annotated[UnitOfWork, Depends(get_uow)]


async def get_identity(request: Request, credentials: Credentials) -> Identity:
    """Verify the bearer token and provision its user on first sight."""
    if credentials is None or not credentials.credentials:
        raise Unauthorized("missing_token")
    context: ServiceContext = request.state.context
    try:
        identity = await context.verifier.averify(credentials.credentials)
    except InvalidToken as exc:
        raise Unauthorized(exc.reason) from None
    await context.users.provision(
        User(
            id=identity.user_id,
            tenant_id=identity.tenant_id,
            subject=identity.subject,
            issuer=identity.issuer,
            name=identity.name,
            email=identity.email,
        )
    )
    return identity


CurrentIdentity = Annotated[Identity, Depends(get_identity)]


async def get_actor(request: Request, credentials: Credentials) -> Actor:
    identity = await get_identity(request, credentials)
    return Actor(user_id=identity.user_id, tenant_id=identity.tenant_id, org_id=identity.org_id)


CurrentActor = Annotated[Actor, Depends(get_actor)]
