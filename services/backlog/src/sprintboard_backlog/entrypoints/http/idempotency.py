"""The `Idempotency-Key` header of every POST: a retried request answers the first answer again, and the
periodic sweep of keys older than their 24 hours."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import Annotated, TypeVar

import orjson
from fastapi import Depends, Header, Request, Response
from pydantic import BaseModel, WithJsonSchema

from sprintboard_backlog.application.idempotency import Answer, RequestKey, answer_once, forget_expired
from sprintboard_backlog.application.unit_of_work import UnitOfWork
from sprintboard_backlog.domain.user import Actor
from sprintboard_backlog.entrypoints.http.context import ServiceContext
from sprintboard_backlog.entrypoints.http.dependencies import CurrentActor, Uow

log = logging.getLogger(__name__)

KEY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255
_KEY_SCHEMA = {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH, "pattern": "^[!-~]+$"}

KeyHeader = Annotated[
    str | None,
    Header(
        alias=KEY_HEADER,
        min_length=1,
        max_length=MAX_KEY_LENGTH,
        pattern=_KEY_SCHEMA["pattern"],
        description=(
            "Makes a retry safe: within 24 hours, a request with the same key and the same method, path and"
            " body answers the first success again (same status and body, header `Idempotent-Replayed:"
            " true`) and changes nothing; the same key with another request is 422. Keys belong to the"
            " caller (tenant and user). 1-255 visible ASCII characters, e.g. a UUID. Refusals (4xx) are not"
            " remembered: their retry runs again. A retry while the first request still runs waits for it."
        ),
    ),
    WithJsonSchema(_KEY_SCHEMA),
]

Result = TypeVar("Result")


def fingerprint(method: str, path: str, body: bytes) -> str:
    """The request a key was first used with: a JSON body compares by value (key order and spacing aside)."""
    try:
        canonical = orjson.dumps(orjson.loads(body), option=orjson.OPT_SORT_KEYS) if body.strip() else b""
    except orjson.JSONDecodeError:
        canonical = body
    return hashlib.sha256(b"\0".join((method.encode(), path.encode(), canonical))).hexdigest()


class Once:
    """Runs a POST's use case, at most once per `Idempotency-Key` when the request carries one."""

    def __init__(self, request: Request, actor: Actor, uow: UnitOfWork, key: str | None) -> None:
        self._request = request
        self._actor = actor
        self._uow = uow
        self._key = key

    async def __call__(
        self, run: Callable[[], Awaitable[Result]], render: Callable[[Result], BaseModel]
    ) -> BaseModel | Response:
        if self._key is None:
            return render(await run())
        request = self._request
        status = getattr(request.scope.get("route"), "status_code", None) or 200
        key = RequestKey(
            tenant_id=self._actor.tenant_id,
            user_id=self._actor.user_id,
            key=self._key,
            fingerprint=fingerprint(request.method, request.url.path, await request.body()),
        )

        async def respond() -> Answer:
            return Answer(status, render(await run()).model_dump_json(by_alias=True).encode())

        context: ServiceContext = request.state.context
        ttl = timedelta(seconds=context.settings.idempotency_ttl_seconds)
        answer, replayed = await answer_once(self._uow, key, respond, ttl)
        headers = {REPLAYED_HEADER: "true"} if replayed else None
        return Response(answer.body, answer.status, headers, media_type="application/json")


async def get_once(request: Request, actor: CurrentActor, uow: Uow, key: KeyHeader = None) -> Once:
    return Once(request, actor, uow, key)


RunOnce = Annotated[Once, Depends(get_once)]


@contextlib.asynccontextmanager
async def sweep_hook(context: ServiceContext) -> AsyncIterator[None]:
    """Delete expired keys now and then (every instance may: deleting the same rows twice is harmless)."""
    settings = context.settings
    ttl = timedelta(seconds=settings.idempotency_ttl_seconds)

    async def sweep() -> None:
        while True:
            try:
                forgotten = await forget_expired(context.uow_factory, ttl)
                if forgotten:
                    log.info("expired idempotency keys deleted", extra={"count": forgotten})
            except Exception as exc:  # the database may be away; the next round tries again
                log.warning("idempotency key sweep failed: %r", exc)
            await asyncio.sleep(settings.idempotency_sweep_interval_seconds)

    task = asyncio.create_task(sweep(), name="idempotency-sweep")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
