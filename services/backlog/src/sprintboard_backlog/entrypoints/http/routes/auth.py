"""Dev sign-in: mint tokens and list the seeded users. Mounted only when dev auth is switched on."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from sprintboard_backlog.entrypoints.http.dependencies import Context
from sprintboard_backlog.entrypoints.http.routes import API_PREFIX
from sprintboard_backlog.entrypoints.http.schemas import Text
from sprintboard_backlog.entrypoints.seed import DEMO_ORG_ID, DEMO_USERS
from sprintboard_kit.tokens import mint_dev_token, user_id_for

router = APIRouter(prefix=f"{API_PREFIX}/auth", tags=["dev auth"])


class DevTokenIn(BaseModel):
    sub: Text = Field(min_length=1, max_length=255)
    name: Text | None = None
    email: Text | None = None
    org_id: Text | None = None


class DevTokenOut(BaseModel):
    token: str


class DevUserOut(BaseModel):
    sub: str
    name: str
    email: str
    org_id: str
    user_id: str


@router.post("/dev-token")
async def dev_token(body: DevTokenIn, context: Context) -> DevTokenOut:
    settings = context.settings
    assert context.dev_token_secret is not None
    token = mint_dev_token(
        context.dev_token_secret,
        body.sub,
        body.name or body.sub,
        body.email,
        org_id=body.org_id,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
    )
    return DevTokenOut(token=token)


@router.get("/dev-users")
async def dev_users(context: Context) -> list[DevUserOut]:
    issuer = context.settings.jwt_issuer
    return [
        DevUserOut(
            sub=u.sub, name=u.name, email=u.email, org_id=DEMO_ORG_ID, user_id=str(user_id_for(issuer, u.sub))
        )
        for u in DEMO_USERS
    ]
